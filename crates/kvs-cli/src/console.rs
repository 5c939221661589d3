//! What `serve` and `demo --browser` tell a person about the web console: how a browser
//! comes to trust the service's CA, and how to open a page in the system browser.

use std::path::Path;

/// How to make each browser trust the CA at `ca`, one line each (the console then works over
/// the service's TLS); `serve --plain` on loopback needs none of it.
pub fn trust_instructions(ca: &Path) -> Vec<String> {
    let ca = ca.display();
    vec![
        "the page needs your browser to trust the service's CA, or run `serve --plain` (loopback, no set-up):".into(),
        format!("Chrome/Chromium on Linux: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n kvs-signaling -i {ca}"),
        format!("Firefox: Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import {ca}"),
        format!("macOS (Safari, Chrome): security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db {ca}"),
        format!("Windows (Edge, Chrome): certutil -user -addstore Root {ca}"),
    ]
}

/// Opens `url` in the system browser when one is found; says which command did it.
pub fn open_in_browser(url: &str) -> Option<&'static str> {
    let candidates: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(target_os = "windows") {
        &["explorer"]
    } else {
        &["xdg-open", "sensible-browser", "chromium", "firefox"]
    };
    candidates.iter().copied().find(|cmd| {
        std::process::Command::new(cmd)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
    })
}

//! The local service for the C API's tests, and C programs built against the static library.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use kvs_service::{ServiceConfig, ServiceHandle};

/// A running local service with its CA written to `state`, and the runtime that serves it
/// (the C API runs on its own runtime, so the tests are plain threads).
pub struct Service {
    pub runtime: tokio::runtime::Runtime,
    pub handle: ServiceHandle,
}

impl Service {
    pub fn start(state: &Path, turn: bool) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let default = ServiceConfig::default();
        let handle = runtime
            .block_on(kvs_service::start(ServiceConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                state_dir: Some(state.to_owned()),
                turn: if turn { default.turn.clone() } else { None },
                iot: Some(kvs_service::IotConfig::default()),
                ..default
            }))
            .unwrap();
        Self { runtime, handle }
    }

    pub fn endpoint(&self) -> &str {
        self.handle.endpoint()
    }

    pub fn ca(&self) -> &Path {
        self.handle
            .ca_path()
            .expect("the service writes its CA to its state dir")
    }

    /// Rust client options for `channel` in `role`, signing with the service's example keys
    /// and trusting its CA.
    pub fn options(
        &self,
        channel: &str,
        role: kvs_client::ChannelRole,
        client_id: &str,
    ) -> kvs_client::ClientOptions {
        let mut config = kvs_proto::client::ClientConfig::new(
            kvs_proto::client::ChannelRef::Name(channel.into()),
            "us-west-2",
            role,
        );
        config.endpoint = self.endpoint().to_owned();
        config.client_id = client_id.to_owned();
        let creds = kvs_proto::Credentials::new(
            kvs_service::EXAMPLE_ACCESS_KEY_ID,
            kvs_service::EXAMPLE_SECRET_ACCESS_KEY,
            None,
            None,
            "test",
        );
        let mut options = kvs_client::ClientOptions::new(config, std::sync::Arc::new(creds));
        options.tls = kvs_client::TlsOptions::with_ca_bundle(self.ca()).unwrap();
        options
    }

    /// The environment the C programs read.
    pub fn env(&self, channel: &str) -> Vec<(&'static str, String)> {
        vec![
            ("KVS_CHANNEL", channel.to_owned()),
            ("KVS_ENDPOINT", self.endpoint().to_owned()),
            ("KVS_CA", self.ca().display().to_string()),
            (
                "AWS_ACCESS_KEY_ID",
                kvs_service::EXAMPLE_ACCESS_KEY_ID.to_owned(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY",
                kvs_service::EXAMPLE_SECRET_ACCESS_KEY.to_owned(),
            ),
            // Warnings only: the seed example asks for DEBUG, which would flood the test log.
            ("AWS_KVS_LOG_LEVEL", "4".to_owned()),
        ]
    }
}

/// A fresh directory under cargo's temporary directory for tests.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kvs-capi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The static library cargo built next to this test binary.
pub fn static_library() -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let lib = deps.join("libkvs_signaling_c.a");
    assert!(lib.exists(), "{} was not built", lib.display());
    lib
}

/// Compiles `tests/c/<name>.c` with `cc` against the committed header and the static
/// library, warnings as errors, with debug information for valgrind.
pub fn compile(name: &str, out_dir: &Path) -> PathBuf {
    compile_with(name, out_dir, &["-g"])
}

/// As [`compile`], with other flags (`-O2 -Wl,--gc-sections -s` for a release build).
pub fn compile_with(name: &str, out_dir: &Path, flags: &[&str]) -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = out_dir.join(name);
    let output = Command::new("cc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-D_POSIX_C_SOURCE=200809L",
        ])
        .args(flags)
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("tests/c").join(format!("{name}.c")))
        .arg(static_library())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("cc runs (scripts/test.sh installs a C compiler when missing)");
    assert!(
        output.status.success(),
        "cc failed on {name}.c:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// Starts the seed master and waits until it reports CONNECTED.
#[expect(
    clippy::zombie_processes,
    reason = "the child is handed to the caller, which waits for it in stop_master"
)]
pub fn start_master(exe: &Path, svc: &Service, channel: &str) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new(exe)
        .envs(svc.env(channel))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            let status = child.wait();
            panic!("the C master exited before connecting: {status:?}");
        }
        if line.starts_with("connected;") {
            assert!(line.contains("metrics version 0"), "{line}");
            return (child, out);
        }
    }
}

/// Closes the master's stdin, waits for it to exit successfully and returns the rest of its output.
pub fn stop_master(mut child: Child, mut out: BufReader<ChildStdout>) -> String {
    drop(child.stdin.take());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "the C master failed: {rest}");
    rest
}

/// A zeroed C structure, as C programs `MEMSET` them.
pub fn zeroed<T>() -> Box<T> {
    // SAFETY: only used for the crate's C structures: integers, raw pointers, optional
    // function pointers and `c_char` arrays, all valid when zero.
    unsafe { Box::new_zeroed().assume_init() }
}

/// Copies `s` with its terminator into a C character array (cut to fit).
pub fn set(array: &mut [kvs_signaling_c::types::CHAR], s: &str) {
    for (d, b) in array.iter_mut().zip(s.bytes().chain([0])) {
        *d = b as kvs_signaling_c::types::CHAR;
    }
}

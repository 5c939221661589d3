//! The committed header is what cbindgen makes of the crate today: a stale header fails
//! here. `KVS_BLESS=1 cargo test -p kvs-capi --test header` rewrites it.

use std::path::Path;

#[test]
fn committed_header_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = crate_dir.join("include/com/amazonaws/kinesis/video/webrtcclient/Include.h");
    if std::env::var_os("KVS_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `KVS_BLESS=1 cargo test -p kvs-capi --test header` and commit it",
        path.display()
    );
}

//! Routing of arbitrary client frames between a master and a viewer.
#![no_main]
use kvs_proto::api::ChannelRole;
use kvs_service::Relay;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let arn = "arn:aws:kinesisvideo:us-west-2:1:channel/c/1";
    let mut relay = Relay::new();
    let (master, _) = relay.connect(arn, ChannelRole::Master, None).unwrap();
    let (viewer, _) = relay.connect(arn, ChannelRole::Viewer, Some("v1".into())).unwrap();
    let _ = relay.route(master, text);
    let _ = relay.route(viewer, text);
});

//! Routing of arbitrary client frames between a master and a viewer.
#![no_main]
use kvs_proto::api::ChannelRole;
use kvs_service_core::Relay;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let arn = "arn:aws:kinesisvideo:us-west-2:1:channel/c/1";
    let now = std::time::Instant::now();
    let ttl = std::time::Duration::from_secs(60);
    let mut relay = Relay::new();
    let master = relay.connect(now, arn, ChannelRole::Master, None, ttl, ()).unwrap().id;
    let viewer = relay.connect(now, arn, ChannelRole::Viewer, Some("v1".into()), ttl, ()).unwrap().id;
    let _ = relay.route(now, master, text);
    let _ = relay.route(now, viewer, text);
    relay.disconnect(now, master);
    let _ = relay.route(now, viewer, text);
});

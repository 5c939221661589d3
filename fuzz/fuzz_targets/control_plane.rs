//! Control-plane request bodies through the service's channel operations.
#![no_main]
use std::time::UNIX_EPOCH;

use kvs_proto::api::*;
use kvs_service::{Channels, EndpointBase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut channels = Channels::new("us-west-2", "123456789012");
    let base = EndpointBase { https: "https://h:1", wss: "wss://h:1" };
    if let Ok(input) = serde_json::from_slice::<CreateSignalingChannelInput>(data) {
        let _ = channels.create(input, UNIX_EPOCH);
    }
    if let Ok(input) = serde_json::from_slice::<DescribeSignalingChannelInput>(data) {
        let _ = channels.describe(input);
    }
    if let Ok(input) = serde_json::from_slice::<GetSignalingChannelEndpointInput>(data) {
        let _ = channels.endpoint(input, base);
    }
    if let Ok(input) = serde_json::from_slice::<GetIceServerConfigInput>(data) {
        let _ = channels.ice_config(input);
    }
    if let Ok(input) = serde_json::from_slice::<DeleteSignalingChannelInput>(data) {
        let _ = channels.delete(input);
    }
});

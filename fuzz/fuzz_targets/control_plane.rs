//! Control-plane request bodies through every operation of the service's channel table.
#![no_main]
use std::time::UNIX_EPOCH;

use kvs_proto::api::Operation;
use kvs_service::{Channels, EndpointBase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut channels = Channels::new("us-west-2", "123456789012");
    let base = EndpointBase { https: "https://h:1", wss: "wss://h:1" };
    let seed = br#"{"ChannelName":"fuzz","Tags":[{"Key":"a","Value":"b"}]}"#;
    let _ = channels.dispatch(Operation::CreateSignalingChannel, seed, base, UNIX_EPOCH);
    for op in Operation::ALL {
        let _ = channels.dispatch(op, data, base, UNIX_EPOCH);
    }
});

//! Control-plane request bodies through every operation of the service's channel table:
//! model validation, authorisation against a policy, and the operations themselves.
#![no_main]
use std::time::UNIX_EPOCH;

use kvs_proto::api::Operation;
use kvs_service_core::{Caller, Channels, Context, EndpointBase, Policy, TurnCredentials, TurnServers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut channels = Channels::new("us-west-2", "123456789012");
    let policy = Policy::parse(
        r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kinesisvideo:*", "Resource": "arn:aws:kinesisvideo:*:*:channel/f*"}]}"#,
    )
    .expect("a valid policy");
    let turn = TurnCredentials::new(&[1; 32]);
    let uris = [vec!["turn:h:1?transport=udp".to_owned()]];
    let cx = Context {
        base: EndpointBase { https: "https://h:1", wss: "wss://h:1" },
        now: UNIX_EPOCH,
        turn: Some(TurnServers { credentials: &turn, uris: &uris }),
        caller: Some(Caller { access_key_id: "AKID", thing_name: None, policy: &policy }),
    };
    let seed = br#"{"ChannelName":"fuzz","Tags":[{"Key":"a","Value":"b"}]}"#;
    let _ = channels.dispatch(Operation::CreateSignalingChannel, seed, cx);
    for op in Operation::ALL {
        let _ = channels.dispatch(op, data, cx);
    }
});

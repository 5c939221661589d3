//! Admin API requests (`METHOD route` on the first line, the body after it) parsed into
//! commands and carried out on a service core with a live master connection.
#![no_main]
use kvs_proto::api::{ChannelRole, Operation};
use kvs_proto::sigv4::Verified;
use kvs_service_core::admin::AdminCommand;
use kvs_service_core::{Answer, ApiRequest, CoreConfig, EndpointBase, ServiceCore};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(head) = std::str::from_utf8(head) else { return };
    let (method, route) = head.split_once(' ').unwrap_or((head, ""));
    let Ok(command) = AdminCommand::parse(method, route, body) else { return };
    let mut core: ServiceCore = ServiceCore::new(CoreConfig {
        region: "us-west-2".into(),
        account_id: "123456789012".into(),
        policy: None,
        limits: None,
        role_aliases: Vec::new(),
    });
    // The channel `c` created at the epoch: arn:aws:kinesisvideo:us-west-2:123456789012:channel/c/0
    let operator = Verified { access_key_id: "AKID".into(), session_token: None, params: Default::default() };
    let create = ApiRequest {
        operation: Operation::CreateSignalingChannel,
        body: br#"{"ChannelName":"c"}"#,
        signer: &operator,
        base: EndpointBase { https: "https://h:1", wss: "wss://h:1" },
        turn: None,
    };
    let arn = match core.request(create, std::time::UNIX_EPOCH).map(|h| h.answer) {
        Ok(Answer::Json(body)) => serde_json::from_slice::<serde_json::Value>(&body).expect("JSON")["ChannelARN"]
            .as_str()
            .expect("an ARN")
            .to_owned(),
        other => panic!("the channel is created: {other:?}"),
    };
    let master = Verified { params: [("X-Amz-ChannelARN".to_owned(), arn)].into(), ..operator };
    let now = std::time::Instant::now();
    core.connect(now, ChannelRole::Master, &master, ()).expect("the master joins");
    let _ = core.admin(command);
    let _ = core.service_time(std::time::UNIX_EPOCH);
});

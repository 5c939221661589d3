//! Both WebSocket frame parsers, and round trips of whatever they accept.
#![no_main]
use kvs_proto::wire::{ClientFrame, ServiceFrame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(frame) = ClientFrame::parse(text) {
        assert_eq!(ClientFrame::parse(&frame.to_json()).as_ref(), Ok(&frame));
    }
    if let Ok(frame) = ServiceFrame::parse(text) {
        let _ = ServiceFrame::parse(&frame.to_json());
    }
    let _ = ClientFrame::salvage_correlation_id(text);
});

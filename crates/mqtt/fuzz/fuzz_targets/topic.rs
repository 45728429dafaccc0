//! Fuzz target: the topic parser must name a device only for a readings topic of one
//! valid level, and agree with the topic builders, for any topic string.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vitalis_mqtt::topic;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The input as a topic a device published to.
    if let Some(id) = topic::device_of_readings(text) {
        assert!(!id.is_empty() && !id.contains(['/', '+', '#']), "{id:?}");
        assert_eq!(topic::readings(id), text);
        assert_eq!(topic::device_of_readings(&topic::errors(id)), None);
        assert_eq!(topic::device_of_readings(&topic::receipts(id)), None);
    }
    // The input as a device id: its readings topic names it back exactly when it is one
    // valid level.
    let valid = !text.is_empty() && !text.contains(['/', '+', '#']);
    assert_eq!(
        topic::device_of_readings(&topic::readings(text)),
        valid.then_some(text)
    );
});

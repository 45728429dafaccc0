//! The topic tree: `vitalis/v1/devices/{device_id}/{readings|errors|receipts}`.

/// Common prefix of every Vitalis topic.
pub const PREFIX: &str = "vitalis/v1/devices/";

/// The filter the server subscribes to on an external broker.
pub const ALL_READINGS: &str = "vitalis/v1/devices/+/readings";

/// Where a device publishes its readings.
pub fn readings(device_id: &str) -> String {
    format!("{PREFIX}{device_id}/readings")
}

/// Where the server answers a refused message (the HTTP error body).
pub fn errors(device_id: &str) -> String {
    format!("{PREFIX}{device_id}/errors")
}

/// Where the server publishes the receipt of a stored message.
pub fn receipts(device_id: &str) -> String {
    format!("{PREFIX}{device_id}/receipts")
}

/// The device id of a readings topic, if `topic` is one. The id is one non-empty topic
/// level without wildcards.
pub fn device_of_readings(topic: &str) -> Option<&str> {
    let id = topic.strip_prefix(PREFIX)?.strip_suffix("/readings")?;
    let valid = !id.is_empty() && !id.contains(['/', '+', '#']);
    valid.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_topics_name_their_device() {
        assert_eq!(device_of_readings(&readings("dev_1")), Some("dev_1"));
        assert_eq!(device_of_readings("vitalis/v1/devices//readings"), None);
        assert_eq!(device_of_readings("vitalis/v1/devices/a/b/readings"), None);
        assert_eq!(device_of_readings("vitalis/v1/devices/a/errors"), None);
        assert_eq!(device_of_readings("other/a/readings"), None);
    }
}

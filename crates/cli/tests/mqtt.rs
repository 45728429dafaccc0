//! MQTT through the real binary: `vitalis serve` with its default configuration starts
//! the embedded MQTT endpoint on 127.0.0.1:1884, and a device's message is stored and
//! acknowledged end to end.

mod support;

use std::net::TcpListener;
use std::process::Child;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use serde_json::Value;
use support::{field, spawn_serve, vitalis, vitalis_ok};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_takes_a_device_message_over_mqtt_by_default() {
    if TcpListener::bind("127.0.0.1:1884").is_err() {
        eprintln!("SKIPPED: 127.0.0.1:1884 (the default MQTT address) is in use");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let patient = vitalis_ok(&["patient", "add", "--data-dir", data]);
    let (patient_id, patient_token) = (
        field(&patient, "patient_id"),
        field(&patient, "patient_token"),
    );
    let device = vitalis_ok(&[
        "device",
        "add",
        "--patient",
        &patient_id,
        "--data-dir",
        data,
    ]);
    let (device_id, device_token) = (field(&device, "device_id"), field(&device, "device_token"));
    let chain = format!("127.0.0.1:{}", free_port());
    let (child, url) = spawn_serve(&[
        "--listen",
        "127.0.0.1:0",
        "--chain-listen",
        &chain,
        "--data-dir",
        data,
    ]);
    let _server = Server(child);

    let mut options = MqttOptions::new(&device_id, "127.0.0.1", 1884);
    options.set_credentials(&device_id, &device_token);
    options.set_clean_session(false);
    let (client, mut eventloop) = AsyncClient::new(options, 8);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = format!(
        r#"{{"readings":[{{"metric":"heart_rate","t":{},"value":64}}]}}"#,
        now - 5_000
    );
    client
        .publish(
            format!("vitalis/v1/devices/{device_id}/readings"),
            QoS::AtLeastOnce,
            false,
            body,
        )
        .await
        .unwrap();
    let acked = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Incoming::PubAck(_))) => return,
                Ok(_) => {}
                Err(err) => panic!("MQTT connection to the server failed: {err}"),
            }
        }
    })
    .await;
    assert!(acked.is_ok(), "no PUBACK from the embedded endpoint");

    // Acknowledged means stored: the record is there at once.
    let records: Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/patients/{patient_id}/records"))
        .bearer_auth(&patient_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        records["records"].as_array().map(Vec::len),
        Some(1),
        "{records}"
    );
}

#[test]
fn an_mqtt_address_asked_for_must_be_free() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let chain = format!("127.0.0.1:{}", free_port());
    let out = vitalis(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--chain-listen",
        &chain,
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--mqtt-listen",
        &addr,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MQTT endpoint") && stderr.contains(&addr),
        "{stderr}"
    );
}

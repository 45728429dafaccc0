//! The MQTT paths end to end: real MQTT clients (`rumqttc`) against the embedded endpoint
//! started in-process on a free port, and against the local Mosquitto at 127.0.0.1:1883
//! (`VITALIS_TEST_MQTT` to change it). Without a reachable Mosquitto the external tests
//! print that they were skipped, unless `VITALIS_REQUIRE_SERVICES=1`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use rumqttc::{AsyncClient, ConnectReturnCode, Event, Incoming, MqttOptions, QoS};
use serde_json::Value;
use sqlx::{Connection, Executor, SqliteConnection};
use tokio::sync::mpsc;
use vitalis_crypto::chameleon::ChameleonTrapdoor;
use vitalis_ingest::{Pipeline, PipelineConfig};
use vitalis_model::PatientId;
use vitalis_mqtt::ingestor::token_hash;
use vitalis_mqtt::{BrokerConfig, EmbeddedBroker, ExternalConsumer, Ingestor, topic};
use vitalis_store::directory::NewDevice;
use vitalis_store::{Directory, SqlStore, Store};

/// A store, its pipeline and the MQTT ingestor over them.
struct World {
    _dir: tempfile::TempDir,
    db_url: String,
    store: Arc<SqlStore>,
    ingestor: Arc<Ingestor>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("v.db").display());
    let key = ChameleonTrapdoor::generate(&mut rand::rng()).public_key();
    let store = Arc::new(SqlStore::open(&db_url, &key).await.unwrap());
    let pipeline = Pipeline::spawn(store.clone(), PipelineConfig::default());
    let ingestor = Arc::new(Ingestor::new(pipeline, store.clone()));
    World {
        _dir: dir,
        db_url,
        store,
        ingestor,
    }
}

/// A paired device.
struct Paired {
    id: String,
    patient: PatientId,
    token: String,
    key: Option<SigningKey>,
}

impl World {
    async fn pair(&self, signed: bool) -> Paired {
        let n: u64 = rand::random();
        let patient = self
            .store
            .create_patient(token_hash(&format!("vtp_{n}")))
            .await
            .unwrap();
        let token = format!("vtd_{n}");
        let key = signed.then(|| SigningKey::from_bytes(&rand::random()));
        let id = self
            .store
            .pair_device(NewDevice {
                patient: patient.clone(),
                token_hash: token_hash(&token),
                name: "watch".into(),
                public_key: key.as_ref().map(|k| k.verifying_key().to_bytes()),
                upload_interval_s: 60,
            })
            .await
            .unwrap();
        Paired {
            id: id.as_str().to_owned(),
            patient,
            token,
            key,
        }
    }

    async fn records(&self, patient: &PatientId) -> u64 {
        self.store.head(patient).await.unwrap().0
    }

    async fn broker(&self) -> EmbeddedBroker {
        let config = BrokerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..BrokerConfig::default()
        };
        EmbeddedBroker::start(config, self.ingestor.clone())
            .await
            .unwrap()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn readings(t: i64) -> String {
    format!(r#"[{{"metric":"heart_rate","t":{t},"value":61}}]"#)
}

/// A signed message: the signature covers the readings' bytes as sent.
fn signed(device: &Paired, readings: &str, with_patient: bool) -> String {
    let key = device.key.as_ref().unwrap();
    let sig =
        base64::engine::general_purpose::STANDARD.encode(key.sign(readings.as_bytes()).to_bytes());
    let patient = if with_patient {
        format!(r#","patient":"{}""#, device.patient.as_str())
    } else {
        String::new()
    };
    format!(r#"{{"readings":{readings},"signature":"{sig}"{patient}}}"#)
}

/// An MQTT client whose incoming packets (or connection error) arrive on a channel.
struct Client {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<Result<Incoming, String>>,
}

impl Client {
    fn connect(host: &str, port: u16, client_id: &str, login: Option<(&str, &str)>) -> Client {
        let mut options = MqttOptions::new(client_id, host, port);
        options.set_clean_session(false);
        options.set_keep_alive(Duration::from_secs(5));
        if let Some((user, password)) = login {
            options.set_credentials(user, password);
        }
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let event = eventloop.poll().await;
                let stop = event.is_err();
                let sent = match event {
                    Ok(Event::Incoming(packet)) => tx.send(Ok(packet)),
                    Ok(Event::Outgoing(_)) => Ok(()),
                    Err(err) => tx.send(Err(err.to_string())),
                };
                if stop || sent.is_err() {
                    break;
                }
            }
        });
        Client { client, events }
    }

    fn embedded(broker: &EmbeddedBroker, device: &Paired, token: &str) -> Client {
        let id = format!("{}-{}", device.id, rand::random::<u32>());
        Client::connect(
            "127.0.0.1",
            broker.local_addr().port(),
            &id,
            Some((&device.id, token)),
        )
    }

    /// The next packet matching `want` within `wait`, skipping the rest.
    async fn until<T>(
        &mut self,
        wait: Duration,
        mut want: impl FnMut(&Incoming) -> Option<T>,
    ) -> Option<T> {
        tokio::time::timeout(wait, async {
            loop {
                match self.events.recv().await {
                    Some(Ok(packet)) => {
                        if let Some(found) = want(&packet) {
                            return Some(found);
                        }
                    }
                    Some(Err(err)) => panic!("MQTT connection failed: {err}"),
                    None => return None,
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    async fn connected(&mut self) {
        let ack = self
            .until(Duration::from_secs(5), |p| match p {
                Incoming::ConnAck(ack) => Some(ack.code),
                _ => None,
            })
            .await;
        assert_eq!(ack, Some(ConnectReturnCode::Success));
    }

    async fn subscribe(&mut self, topic: &str) {
        self.client.subscribe(topic, QoS::AtMostOnce).await.unwrap();
        let granted = self
            .until(Duration::from_secs(5), |p| match p {
                Incoming::SubAck(ack) => Some(ack.return_codes.clone()),
                _ => None,
            })
            .await;
        assert!(granted.is_some(), "no SUBACK for {topic}");
    }

    async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        let payload: Vec<u8> = payload.into();
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }

    async fn puback(&mut self, wait: Duration) -> bool {
        self.until(wait, |p| matches!(p, Incoming::PubAck(_)).then_some(()))
            .await
            .is_some()
    }

    /// The next JSON message on `topic`.
    async fn message_on(&mut self, topic: &str, wait: Duration) -> Option<Value> {
        self.until(wait, |p| match p {
            Incoming::Publish(m) if m.topic == topic => serde_json::from_slice(&m.payload).ok(),
            _ => None,
        })
        .await
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_reading_is_acknowledged_once_stored_and_stored_once_when_sent_again() {
    let w = world().await;
    let broker = w.broker().await;
    let device = w.pair(false).await;
    let mut c = Client::embedded(&broker, &device, &device.token);
    c.connected().await;
    c.subscribe(&topic::receipts(&device.id)).await;
    // A second connection of the same device hears the receipts too.
    let mut listener = Client::embedded(&broker, &device, &device.token);
    listener.connected().await;
    listener.subscribe(&topic::receipts(&device.id)).await;

    let body = format!(r#"{{"readings":{}}}"#, readings(now_ms() - 1000));
    c.publish(&topic::readings(&device.id), body.clone()).await;
    assert!(c.puback(WAIT).await);
    let heard = listener
        .message_on(&topic::receipts(&device.id), WAIT)
        .await;
    assert_eq!(heard.unwrap()["accepted"], 1);
    let receipt = c
        .message_on(&topic::receipts(&device.id), WAIT)
        .await
        .unwrap();
    assert_eq!(
        (receipt["accepted"].as_u64(), receipt["duplicates"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(receipt["upload_interval_s"], 60);
    assert_eq!(w.records(&device.patient).await, 1);

    // The same message again (a retransmission): acknowledged, nothing stored twice.
    c.publish(&topic::readings(&device.id), body).await;
    assert!(c.puback(WAIT).await);
    let receipt = c
        .message_on(&topic::receipts(&device.id), WAIT)
        .await
        .unwrap();
    assert_eq!(
        (receipt["accepted"].as_u64(), receipt["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(w.records(&device.patient).await, 1);
    let stats = broker.stats().snapshot();
    assert_eq!(
        (
            stats.stored,
            stats.readings,
            stats.duplicates,
            stats.connected
        ),
        (2, 1, 1, 2)
    );
}

#[tokio::test]
async fn no_acknowledgement_leaves_before_the_commit() {
    let w = world().await;
    let broker = w.broker().await;
    let device = w.pair(false).await;
    let mut c = Client::embedded(&broker, &device, &device.token);
    c.connected().await;

    // Another connection holds SQLite's write lock: the pipeline's commit waits.
    let mut blocker = SqliteConnection::connect(&w.db_url).await.unwrap();
    blocker.execute("BEGIN IMMEDIATE").await.unwrap();
    let body = format!(r#"{{"readings":{}}}"#, readings(now_ms() - 1000));
    c.publish(&topic::readings(&device.id), body).await;
    assert!(
        !c.puback(Duration::from_millis(1500)).await,
        "acknowledged before the commit"
    );
    assert_eq!(w.ingestor.stats().snapshot().stored, 0);

    blocker.execute("ROLLBACK").await.unwrap();
    assert!(
        c.puback(WAIT).await,
        "no acknowledgement after the store recovered"
    );
    assert_eq!(w.records(&device.patient).await, 1);
}

#[tokio::test]
async fn a_malformed_payload_is_answered_on_the_errors_topic_and_counted() {
    let w = world().await;
    let broker = w.broker().await;
    let device = w.pair(false).await;
    let mut c = Client::embedded(&broker, &device, &device.token);
    c.connected().await;
    c.subscribe(&topic::errors(&device.id)).await;
    let (readings_topic, errors_topic) = (topic::readings(&device.id), topic::errors(&device.id));

    let cases: [(&[u8], &str); 4] = [
        (b"{\"readings\": [", "malformed_json"),
        (b"\xff\xfe binary", "malformed_json"),
        (b"{\"readings\": []}", "empty_batch"),
        (
            br#"{"readings":[{"metric":"heart_rate","t":1000,"value":9000}]}"#,
            "out_of_range",
        ),
    ];
    for (payload, code) in cases {
        c.publish(&readings_topic, payload.to_vec()).await;
        // Done with, so acknowledged (sending it again would give the same answer), and
        // the refusal follows the acknowledgement.
        assert!(c.puback(WAIT).await);
        let error = c.message_on(&errors_topic, WAIT).await.unwrap();
        assert_eq!(error["error"]["code"], code, "{error}");
    }
    let stats = broker.stats().snapshot();
    assert_eq!((stats.malformed, stats.stored), (4, 0));

    // The connection (and the endpoint) carry on.
    let body = format!(r#"{{"readings":{}}}"#, readings(now_ms() - 1000));
    c.publish(&readings_topic, body).await;
    assert!(c.puback(WAIT).await);
    assert_eq!(w.records(&device.patient).await, 1);
}

#[tokio::test]
async fn wrong_credentials_and_other_devices_topics_are_refused() {
    let w = world().await;
    let broker = w.broker().await;
    let (device, other) = (w.pair(false).await, w.pair(false).await);

    for token in ["vtd_wrong", other.token.as_str()] {
        let mut c = Client::embedded(&broker, &device, token);
        let answer = tokio::time::timeout(WAIT, c.events.recv()).await.unwrap();
        // rumqttc reports a refused CONNECT as a connection error.
        let err = answer.unwrap().unwrap_err();
        assert!(err.contains("BadUserNamePassword"), "{err}");
    }
    assert_eq!(broker.stats().snapshot().connections_refused, 2);

    let mut c = Client::embedded(&broker, &device, &device.token);
    c.connected().await;
    c.subscribe(&topic::errors(&device.id)).await;
    let body = format!(r#"{{"readings":{}}}"#, readings(now_ms() - 1000));
    c.publish(&topic::readings(&other.id), body).await;
    let error = c
        .message_on(&topic::errors(&device.id), WAIT)
        .await
        .unwrap();
    assert_eq!(error["error"]["code"], "wrong_topic");
    assert_eq!(w.records(&other.patient).await, 0);
    // Another device's errors cannot be read either.
    c.client
        .subscribe(topic::errors(&other.id), QoS::AtMostOnce)
        .await
        .unwrap();
    let codes = c
        .until(WAIT, |p| match p {
            Incoming::SubAck(ack) => Some(ack.return_codes.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(codes, vec![rumqttc::SubscribeReasonCode::Failure]);
}

#[tokio::test]
async fn a_device_with_a_key_signs_on_the_embedded_endpoint_too() {
    let w = world().await;
    let broker = w.broker().await;
    let device = w.pair(true).await;
    let mut c = Client::embedded(&broker, &device, &device.token);
    c.connected().await;
    c.subscribe(&topic::errors(&device.id)).await;
    let r = readings(now_ms() - 1000);

    c.publish(
        &topic::readings(&device.id),
        format!(r#"{{"readings":{r}}}"#),
    )
    .await;
    let error = c
        .message_on(&topic::errors(&device.id), WAIT)
        .await
        .unwrap();
    assert_eq!(error["error"]["code"], "signature_required");
    c.publish(&topic::readings(&device.id), signed(&device, &r, false))
        .await;
    assert!(c.puback(WAIT).await);
    assert_eq!(w.records(&device.patient).await, 1);
    assert_eq!(broker.stats().snapshot().unauthorized, 1);
}

/// The local Mosquitto, or `None` (skipped) when it is not running.
async fn mosquitto() -> Option<(String, u16)> {
    let addr = std::env::var("VITALIS_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into());
    let required = std::env::var("VITALIS_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    match tokio::net::TcpStream::connect(&addr).await {
        Ok(_) => {
            let (host, port) = addr.rsplit_once(':').unwrap();
            Some((host.to_owned(), port.parse().unwrap()))
        }
        Err(e) if required => panic!("Mosquitto required (VITALIS_REQUIRE_SERVICES=1): {e}"),
        Err(e) => {
            eprintln!("SKIPPED: external-broker tests, no MQTT broker at {addr}: {e}");
            None
        }
    }
}

#[tokio::test]
async fn an_external_broker_delivers_signed_readings_and_refuses_the_rest() {
    let Some((host, port)) = mosquitto().await else {
        return;
    };
    let w = world().await;
    let server_id = format!("vitalis-test-{}", rand::random::<u64>());
    let consumer = ExternalConsumer::start(
        &format!("mqtt://{host}:{port}?client_id={server_id}"),
        w.ingestor.clone(),
    )
    .unwrap();
    let (device, unsigned) = (w.pair(true).await, w.pair(false).await);
    let mut c = Client::connect(&host, port, &format!("dev-{}", rand::random::<u64>()), None);
    c.connected().await;
    for d in [&device, &unsigned] {
        c.subscribe(&topic::errors(&d.id)).await;
        c.subscribe(&topic::receipts(&d.id)).await;
    }
    let (readings_topic, errors_topic) = (topic::readings(&device.id), topic::errors(&device.id));

    // Until the server's subscription is in place, probes go unanswered.
    let mut live = false;
    for _ in 0..50 {
        c.publish(&readings_topic, "probe").await;
        if let Some(e) = c
            .message_on(&errors_topic, Duration::from_millis(200))
            .await
        {
            assert_eq!(e["error"]["code"], "malformed_json");
            live = true;
            break;
        }
    }
    assert!(live, "the server never answered on {errors_topic}");

    let r = readings(now_ms() - 1000);
    c.publish(&readings_topic, signed(&device, &r, true)).await;
    let receipt = c
        .message_on(&topic::receipts(&device.id), WAIT)
        .await
        .unwrap();
    assert_eq!(receipt["accepted"], 1, "{receipt}");
    c.publish(&readings_topic, signed(&device, &r, true)).await;
    let receipt = c
        .message_on(&topic::receipts(&device.id), WAIT)
        .await
        .unwrap();
    assert_eq!(
        (receipt["accepted"].as_u64(), receipt["duplicates"].as_u64()),
        (Some(0), Some(1))
    );

    // A signature over other bytes, a message without its patient, an unsigned device.
    let tampered = signed(&device, &r, true).replace("61}", "62}");
    c.publish(&readings_topic, tampered).await;
    let error = c.message_on(&errors_topic, WAIT).await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_signature");
    c.publish(&readings_topic, signed(&device, &r, false)).await;
    let error = c.message_on(&errors_topic, WAIT).await.unwrap();
    assert_eq!(error["error"]["code"], "unknown_device");
    let plain = format!(
        r#"{{"readings":{r},"patient":"{}"}}"#,
        unsigned.patient.as_str()
    );
    c.publish(&topic::readings(&unsigned.id), plain).await;
    let error = c
        .message_on(&topic::errors(&unsigned.id), WAIT)
        .await
        .unwrap();
    assert_eq!(error["error"]["code"], "unsigned_device");

    assert_eq!(w.records(&device.patient).await, 1);
    assert_eq!(w.records(&unsigned.patient).await, 0);
    let stats = w.ingestor.stats().snapshot();
    assert_eq!((stats.stored, stats.unauthorized), (2, 3));
    assert!(stats.malformed >= 1);

    // Leave no persistent session behind on the shared broker.
    drop(consumer);
    let mut options = MqttOptions::new(server_id, host, port);
    options.set_clean_session(true);
    let (_client, mut eventloop) = AsyncClient::new(options, 8);
    let _ = tokio::time::timeout(Duration::from_secs(2), eventloop.poll()).await;
}

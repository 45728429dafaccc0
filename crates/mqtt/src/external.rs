//! The consumer of an external broker (Mosquitto, EMQX, any MQTT 3.1.1 broker).
//!
//! The server subscribes to `vitalis/v1/devices/+/readings` at QoS 1 in a persistent
//! session (clean session off) with manual acknowledgements: the PUBACK of its own
//! subscription leaves only after the message's readings are committed (or the message
//! is refused for good). Until then the broker keeps the message and gives it again after
//! a reconnect, so a server crash loses nothing the broker accepted. The device's own
//! PUBACK comes from the broker when *it* has the message; a device that needs to know
//! its readings are stored waits for its receipt on `…/receipts`.
//!
//! Other parties can read what passes through such a broker, so no bearer token may
//! travel through it: each message names its patient and is signed with the device's
//! Ed25519 key, and devices paired without a key are refused.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Incoming, MqttOptions, Publish, QoS};

use crate::ingestor::{Ingestor, Outcome};
use crate::message::{Refusal, receipt_json};
use crate::topic;

/// The client id the server uses when the URL names none; a persistent session is kept
/// under it, so two servers sharing a broker need different ids.
pub const DEFAULT_CLIENT_ID: &str = "vitalis-server";

/// A URL the consumer cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MQTT URL: {0} (expected mqtt://[user[:password]@]host[:port][?client_id=ID])")]
pub struct InvalidUrl(pub String);

/// Connection options from `mqtt://[user[:password]@]host[:port][?client_id=ID]`.
pub fn options_from_url(url: &str) -> Result<MqttOptions, InvalidUrl> {
    let bad = |why: &str| InvalidUrl(why.to_owned());
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| bad("the scheme must be mqtt:// (TLS is not supported yet)"))?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (credentials, host_port) = match rest.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, rest),
    };
    let host_port = host_port.trim_end_matches('/');
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| bad("the port is not a number"))?),
        None => (host_port, 1883),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let mut client_id = DEFAULT_CLIENT_ID.to_owned();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("client_id", id)) if !id.is_empty() => client_id = id.to_owned(),
            _ => return Err(bad("the only query parameter is client_id")),
        }
    }
    let mut options = MqttOptions::new(client_id, host, port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_request_channel_capacity(1024);
    if let Some(credentials) = credentials {
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        options.set_credentials(user, password);
    }
    Ok(options)
}

/// The running consumer; stops when dropped.
pub struct ExternalConsumer {
    task: tokio::task::JoinHandle<()>,
}

impl ExternalConsumer {
    /// Connects to the broker at `url` and consumes readings on the current runtime.
    /// Connection failures are logged and retried; only a bad URL is an error.
    pub fn start(url: &str, ingestor: Arc<Ingestor>) -> Result<ExternalConsumer, InvalidUrl> {
        let options = options_from_url(url)?;
        let (client, eventloop) = AsyncClient::new(options, 1024);
        let task = tokio::spawn(consume(client, eventloop, ingestor));
        Ok(ExternalConsumer { task })
    }
}

impl Drop for ExternalConsumer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn consume(client: AsyncClient, mut eventloop: EventLoop, ingestor: Arc<Ingestor>) {
    let mut failing = false;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(ack))) => {
                tracing::info!(
                    session_present = ack.session_present,
                    "connected to the MQTT broker"
                );
                failing = false;
                // Harmless when the session already holds the subscription.
                if let Err(err) = client.try_subscribe(topic::ALL_READINGS, QoS::AtLeastOnce) {
                    tracing::warn!(error = %err, "subscribing to device readings failed");
                }
            }
            Ok(Event::Incoming(Incoming::Publish(publish))) => {
                // Each message on its own task: the event loop keeps turning (pings,
                // acknowledgements) while the store works.
                tokio::spawn(handle(client.clone(), ingestor.clone(), publish));
            }
            Ok(_) => {}
            Err(err) => {
                if !failing {
                    tracing::warn!(error = %err, "MQTT broker connection lost; retrying");
                }
                failing = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Stores (or refuses) one message, answers the device, then acknowledges the message
/// to the broker. While the store is unavailable it tries again, unacknowledged.
async fn handle(client: AsyncClient, ingestor: Arc<Ingestor>, publish: Publish) {
    let answer = match topic::device_of_readings(&publish.topic) {
        None => None,
        Some(device) => {
            let mut backoff = Duration::from_millis(200);
            loop {
                match ingestor.from_broker(device, &publish.payload).await {
                    Outcome::Unavailable => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                    Outcome::Stored {
                        receipt,
                        upload_interval_s,
                    } => {
                        let json = receipt_json(&receipt, upload_interval_s);
                        break Some((topic::receipts(device), json));
                    }
                    Outcome::Refused(refusal) => {
                        tracing::debug!(device, code = %refusal.code, "MQTT message refused");
                        break Some((topic::errors(device), Refusal::to_json(&refusal)));
                    }
                }
            }
        }
    };
    if let Some((topic, payload)) = answer
        && let Err(err) = client.publish(topic, QoS::AtMostOnce, false, payload).await
    {
        tracing::warn!(error = %err, "answering a device over MQTT failed");
    }
    if let Err(err) = client.ack(&publish).await {
        tracing::warn!(error = %err, "acknowledging an MQTT message failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_port_credentials_and_client_id() {
        let o = options_from_url("mqtt://u:p@127.0.0.1:1999?client_id=node-2").unwrap();
        assert_eq!(o.broker_address(), ("127.0.0.1".to_owned(), 1999));
        assert_eq!(o.client_id(), "node-2");
        let login = o.credentials().unwrap();
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("u", "p")
        );
        assert!(!o.clean_session() && o.manual_acks());
        let o = options_from_url("mqtt://localhost").unwrap();
        assert_eq!(o.broker_address().1, 1883);
        assert_eq!(o.client_id(), DEFAULT_CLIENT_ID);
        assert!(options_from_url("mqtts://h").is_err());
        assert!(options_from_url("mqtt://h:x").is_err());
        assert!(options_from_url("mqtt://h?x=1").is_err());
    }
}

//! Vitalis over MQTT: devices publish their readings to
//! `vitalis/v1/devices/{device_id}/readings`, and the server stores them through the same
//! [`vitalis_ingest::Pipeline`] as HTTP uploads.
//!
//! ```text
//! device ──MQTT──▶ broker::EmbeddedBroker (token)  ──┐
//! device ──MQTT──▶ external broker ──▶ external::ExternalConsumer (signature) ──┤
//!                                                    ▼
//!                 ingestor::Ingestor: authenticate → verify → Pipeline::submit (durable)
//!                                                    │
//!            PUBACK · receipt on …/receipts · or the refusal on …/errors ◀──┘
//! ```
//!
//! # Topics and payloads
//!
//! | topic | who publishes | what |
//! |---|---|---|
//! | `vitalis/v1/devices/{id}/readings` | the device | `{"readings": [...]}`, as over HTTP, optionally with `"signature"` and `"patient"` |
//! | `vitalis/v1/devices/{id}/receipts` | the server | the HTTP receipt of a stored message (`accepted`, `duplicates`, `records`, `upload_interval_s`) |
//! | `vitalis/v1/devices/{id}/errors` | the server | the HTTP error body `{"error": {"code", "message", "field", "index"}}` |
//!
//! A signature (base64, Ed25519) covers the exact bytes of the `readings` value in the
//! message, from `[` to `]` ([`message`]). A device paired with a public key must sign
//! on both paths, as it must over HTTP.
//!
//! # Two ways in
//!
//! **Embedded** ([`broker`], the default of `vitalis serve`, 127.0.0.1:1884): a device
//! connects with its id as user name and its token as password. The endpoint is a small
//! MQTT 3.1.1 server of its own, built on `rumqttc`'s packet codec, not a general broker
//! such as `rumqttd`: `rumqttd`'s router sends the PUBACK of a QoS 1 message as soon as
//! it has the message in its in-memory log, before any subscriber (the server) has seen
//! it, and offers no hook to hold it back. A reading acknowledged that way would be lost
//! by a crash before the commit. Here the PUBACK (PUBREC at QoS 2) leaves only after the
//! store's transaction has committed; a device that keeps unacknowledged messages and
//! sends them again after a reconnect (clean session off, as MQTT clients do) loses
//! nothing, and readings sent twice are stored once and reported as duplicates. Devices
//! cannot talk to each other through it: each may publish only its own readings and
//! subscribe only to its own receipts and errors.
//!
//! **External** ([`external`], `vitalis serve --mqtt-url mqtt://host:port`): the server
//! subscribes to every device's readings in a persistent session with manual
//! acknowledgements and acknowledges each message to the broker only after the commit.
//! No token may pass through a broker other parties can read: messages are signed and
//! name their `patient`; devices without a key are refused (`unsigned_device`).
//!
//! # Refusals
//!
//! A message refused for good (bad JSON, an invalid reading, an unknown device, a bad
//! signature, another device's topic) is still acknowledged — it is done with, and
//! sending it again would give the same answer — and the refusal is published on the
//! device's errors topic and counted in [`MqttStats`]. A message the store cannot take
//! now is not acknowledged: the embedded endpoint closes the connection so the device
//! sends it again; the external consumer retries it, unacknowledged, until the store
//! takes it. Nothing a device sends can make the endpoint panic.

pub mod broker;
pub mod external;
pub mod ingestor;
pub mod message;
mod notices;
mod stats;
pub mod topic;

pub use broker::{BrokerConfig, EmbeddedBroker};
pub use external::ExternalConsumer;
pub use ingestor::{Ingestor, Outcome};
pub use stats::{MqttStats, StatsSnapshot};

//! The embedded endpoint: an MQTT 3.1.1 server for devices, inside `vitalis serve`.
//!
//! It speaks the protocol (packets framed and encoded by `rumqttc`'s codec) but routes
//! nothing between clients: a device may publish only to its own readings topic and
//! subscribe only to its own errors and receipts topics, which the server alone
//! publishes to (at QoS 0, to every connection of the device that subscribed to them). That is what lets it keep the promise a general broker cannot: the
//! PUBACK of a reading leaves only after the transaction that holds it has committed.
//!
//! One task per connection. CONNECT must carry the device id as user name and the
//! device token as password; anything else gets CONNACK "bad user name or password". A
//! connection works on up to [`BrokerConfig::max_inflight`] messages at once (their
//! acknowledgements may come back out of order, as MQTT allows). When the store cannot
//! take a message, the connection is closed without acknowledging it, so the device
//! sends it again after reconnecting (MQTT 3.1.1 §4.4); what was stored in the meantime
//! comes back as duplicates, never stored twice.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rumqttc::mqttbytes::Protocol;
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, Publish, SubAck,
    SubscribeReasonCode, UnsubAck,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use vitalis_store::DeviceAuth;

use crate::ingestor::{Ingestor, Outcome};
use crate::message::{Refusal, receipt_json};
use crate::notices::{Delivery, Interest, Notice, Notices};
use crate::stats::MqttStats;
use crate::topic;

/// Settings of the embedded endpoint.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Where to listen (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Largest packet accepted (bytes); a larger one closes the connection.
    pub max_packet_bytes: usize,
    /// Messages of one connection being stored at once.
    pub max_inflight: usize,
    /// How long a new connection has to send CONNECT.
    pub connect_timeout: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            max_packet_bytes: 1 << 20,
            max_inflight: 32,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The default port: not MQTT's 1883, so that a Mosquitto on the same machine is left
/// alone.
pub const DEFAULT_PORT: u16 = 1884;

/// A running endpoint; stops (with every connection) when dropped.
pub struct EmbeddedBroker {
    local_addr: SocketAddr,
    stats: Arc<MqttStats>,
    task: tokio::task::JoinHandle<()>,
}

impl EmbeddedBroker {
    /// Binds `config.listen` and starts accepting devices on the current runtime.
    pub async fn start(config: BrokerConfig, ingestor: Arc<Ingestor>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let stats = ingestor.stats().clone();
        let shared = Arc::new(Shared {
            config,
            ingestor,
            notices: Notices::default(),
        });
        let task = tokio::spawn(accept_loop(listener, shared));
        Ok(EmbeddedBroker {
            local_addr,
            stats,
            task,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The counters of this endpoint.
    pub fn stats(&self) -> &Arc<MqttStats> {
        &self.stats
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

/// What every connection of one endpoint shares.
struct Shared {
    config: BrokerConfig,
    ingestor: Arc<Ingestor>,
    notices: Notices,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    let mut next_connection = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve(stream, shared.clone(), next_connection));
                    next_connection += 1;
                }
                Err(err) => {
                    // Out of descriptors, most likely: wait instead of spinning.
                    tracing::warn!(error = %err, "MQTT accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Why a connection ended early.
enum Closed {
    /// The peer went away or broke the protocol; nothing to answer.
    Gone,
    /// The protocol was broken in a way worth counting.
    ProtocolError,
}

/// Reads bytes until `buf` holds one whole packet; `None` at end of stream.
async fn read_packet(
    reader: &mut OwnedReadHalf,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<Packet>, Closed> {
    loop {
        if let Some(packet) = parse(buf, max)? {
            return Ok(Some(packet));
        }
        match reader.read_buf(buf).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

/// One whole packet from the front of `buf`, if it holds one.
fn parse(buf: &mut BytesMut, max: usize) -> Result<Option<Packet>, Closed> {
    match Packet::read(buf, max) {
        Ok(packet) => Ok(Some(packet)),
        Err(CodecError::InsufficientBytes(_)) => Ok(None),
        Err(err) => {
            tracing::debug!(error = %err, "MQTT protocol error");
            Err(Closed::ProtocolError)
        }
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>, connection: u64) {
    let (config, ingestor) = (&shared.config, &shared.ingestor);
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = BytesMut::with_capacity(1024);
    let stats = ingestor.stats().clone();
    let connect = tokio::time::timeout(
        config.connect_timeout,
        read_packet(&mut reader, &mut buf, config.max_packet_bytes),
    )
    .await;
    let connect = match connect {
        Ok(Ok(Some(Packet::Connect(connect)))) => connect,
        Ok(Err(Closed::ProtocolError)) | Ok(Ok(Some(_))) => {
            stats.protocol_error();
            return;
        }
        _ => return,
    };
    let accepted = admit(&connect, ingestor).await;
    let code = match &accepted {
        Ok(_) => ConnectReturnCode::Success,
        Err(code) => {
            stats.connection_refused();
            *code
        }
    };
    let mut out = BytesMut::new();
    let _ = Packet::ConnAck(ConnAck::new(code, false)).write(&mut out, usize::MAX);
    let written = writer.write_all(&out).await.is_ok();
    let (Ok(device), true) = (accepted, written) else {
        return;
    };
    let _connected = stats.connected();
    let (notices, heard) = mpsc::channel(64);
    let session = Session {
        device: Arc::new(device),
        keep_alive: Duration::from_secs(u64::from(connect.keep_alive)),
        shared: shared.clone(),
        connection,
        interest: Interest::default(),
        notices,
        out: BytesMut::new(),
    };
    if let Closed::ProtocolError = session.run(reader, writer, buf, heard).await {
        stats.protocol_error();
    }
}

/// The device a CONNECT authenticates, or the CONNACK code that refuses it.
async fn admit(connect: &Connect, ingestor: &Ingestor) -> Result<DeviceAuth, ConnectReturnCode> {
    if connect.protocol != Protocol::V4 {
        return Err(ConnectReturnCode::RefusedProtocolVersion);
    }
    let login = connect
        .login
        .as_ref()
        .ok_or(ConnectReturnCode::BadUserNamePassword)?;
    match ingestor
        .authenticate(&login.username, &login.password)
        .await
    {
        Ok(Some(device)) => Ok(device),
        Ok(None) => Err(ConnectReturnCode::BadUserNamePassword),
        Err(err) => {
            tracing::error!(error = %err, "looking up an MQTT device failed");
            Err(ConnectReturnCode::ServiceUnavailable)
        }
    }
}

/// A connected device.
struct Session {
    device: Arc<DeviceAuth>,
    keep_alive: Duration,
    shared: Arc<Shared>,
    /// This connection's number, unique in the endpoint.
    connection: u64,
    /// Which of the device's notice topics it subscribed to.
    interest: Interest,
    /// Where notices for this connection arrive.
    notices: mpsc::Sender<Delivery>,
    /// Packets waiting to be written.
    out: BytesMut,
}

impl Drop for Session {
    fn drop(&mut self) {
        let device = self.device.device.as_str();
        let nothing = Interest::default();
        (self.shared.notices).listen(device, self.connection, nothing, &self.notices);
    }
}

/// A message handed to the pipeline, and what became of it.
struct Done {
    pkid: u16,
    qos: QoS,
    outcome: Outcome,
}

impl Session {
    async fn run(
        mut self,
        mut reader: OwnedReadHalf,
        mut writer: OwnedWriteHalf,
        mut buf: BytesMut,
        mut heard: mpsc::Receiver<Delivery>,
    ) -> Closed {
        let mut inflight = FuturesUnordered::new();
        // MQTT 3.1.1 §3.1.2.10: one and a half keep-alive periods of silence end it.
        let grace = self.keep_alive.mul_f32(1.5);
        let mut deadline = Instant::now() + grace;
        loop {
            // Work on whatever whole packets are already buffered, within the window.
            while inflight.len() < self.shared.config.max_inflight {
                match parse(&mut buf, self.shared.config.max_packet_bytes) {
                    Ok(Some(packet)) => match self.handle(packet) {
                        Step::Continue => {}
                        Step::Store(publish) => inflight.push(self.store(publish)),
                        Step::Close => return Closed::Gone,
                    },
                    Ok(None) => break,
                    Err(closed) => return closed,
                }
            }
            if !self.flush(&mut writer).await {
                return Closed::Gone;
            }
            let room = inflight.len() < self.shared.config.max_inflight;
            tokio::select! {
                read = reader.read_buf(&mut buf), if room => match read {
                    Ok(0) | Err(_) => return Closed::Gone,
                    Ok(_) => deadline = Instant::now() + grace,
                },
                Some(done) = inflight.next(), if !inflight.is_empty() => {
                    if !self.answer(done) {
                        // Unavailable: say so, and let the device send again later.
                        while let Ok((topic, payload)) = heard.try_recv() {
                            self.send(Packet::Publish(Publish::from_bytes(topic, QoS::AtMostOnce, payload)));
                        }
                        self.flush(&mut writer).await;
                        return Closed::Gone;
                    }
                }
                Some((topic, payload)) = heard.recv() => {
                    self.send(Packet::Publish(Publish::from_bytes(topic, QoS::AtMostOnce, payload)));
                }
                _ = tokio::time::sleep_until(deadline), if !self.keep_alive.is_zero() => {
                    return Closed::Gone;
                }
            }
        }
    }

    /// Writes what is waiting; false if the peer is gone.
    async fn flush(&mut self, writer: &mut OwnedWriteHalf) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let ok = writer.write_all(&self.out).await.is_ok();
        self.out.clear();
        ok
    }

    fn send(&mut self, packet: Packet) {
        // Our own packets are small; the codec refuses only oversize ones.
        let _ = packet.write(&mut self.out, usize::MAX);
    }

    fn handle(&mut self, packet: Packet) -> Step {
        match packet {
            Packet::Publish(publish) => return self.on_publish(publish),
            Packet::Subscribe(subscribe) => {
                let codes = subscribe
                    .filters
                    .iter()
                    .map(|f| self.subscribe(&f.path, true))
                    .collect();
                self.send(Packet::SubAck(SubAck::new(subscribe.pkid, codes)));
            }
            Packet::Unsubscribe(unsubscribe) => {
                for path in &unsubscribe.topics {
                    self.subscribe(path, false);
                }
                self.send(Packet::UnsubAck(UnsubAck::new(unsubscribe.pkid)));
            }
            Packet::PingReq => self.send(Packet::PingResp),
            // The second half of a QoS 2 exchange: the message was stored before PUBREC.
            Packet::PubRel(rel) => self.send(Packet::PubComp(PubComp::new(rel.pkid))),
            // Answers to our QoS 0 publishes never come; nothing else needs an answer.
            Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubComp(_) => {}
            Packet::Disconnect
            | Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => return Step::Close,
        }
        Step::Continue
    }

    /// Grants (QoS 0) or removes a subscription to the device's own errors or receipts.
    fn subscribe(&mut self, path: &str, on: bool) -> SubscribeReasonCode {
        let id = self.device.device.as_str();
        if path == topic::errors(id) {
            self.interest.errors = on;
        } else if path == topic::receipts(id) {
            self.interest.receipts = on;
        } else {
            return SubscribeReasonCode::Failure;
        }
        let notices = &self.shared.notices;
        notices.listen(id, self.connection, self.interest, &self.notices);
        SubscribeReasonCode::Success(QoS::AtMostOnce)
    }

    fn on_publish(&mut self, publish: Publish) -> Step {
        if topic::device_of_readings(&publish.topic) == Some(self.device.device.as_str()) {
            return Step::Store(publish);
        }
        let stats = self.shared.ingestor.stats().clone();
        stats.message();
        let refusal = Refusal::unauthorized(
            "wrong_topic",
            "a device publishes only to vitalis/v1/devices/{its id}/readings",
        );
        stats.refused(&refusal);
        self.answer(Done {
            pkid: publish.pkid,
            qos: publish.qos,
            outcome: Outcome::Refused(refusal),
        });
        Step::Continue
    }

    fn store(&self, publish: Publish) -> impl Future<Output = Done> + use<> {
        let (ingestor, device) = (self.shared.ingestor.clone(), self.device.clone());
        async move {
            let outcome = ingestor.from_authenticated(&device, &publish.payload).await;
            Done {
                pkid: publish.pkid,
                qos: publish.qos,
                outcome,
            }
        }
    }

    /// Queues the acknowledgement and the receipt or error of a finished message; false
    /// when the message was not taken and the connection must close unacknowledged.
    fn answer(&mut self, done: Done) -> bool {
        let id = self.device.device.as_str();
        let notices = &self.shared.notices;
        match done.outcome {
            Outcome::Stored {
                receipt,
                upload_interval_s,
            } => {
                let json = receipt_json(&receipt, upload_interval_s);
                notices.send(id, Notice::Receipt, topic::receipts(id), json);
            }
            Outcome::Refused(refusal) => {
                tracing::debug!(device = %id, code = %refusal.code, "MQTT message refused");
                notices.send(id, Notice::Error, topic::errors(id), refusal.to_json());
            }
            Outcome::Unavailable => {
                let refusal = Refusal::from(vitalis_ingest::IngestError::Unavailable);
                notices.send(id, Notice::Error, topic::errors(id), refusal.to_json());
                return false;
            }
        }
        // The acknowledgement is queued now; the notice follows through the channel.
        match done.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.send(Packet::PubAck(PubAck::new(done.pkid))),
            QoS::ExactlyOnce => self.send(Packet::PubRec(PubRec::new(done.pkid))),
        }
        true
    }
}

/// What to do after a packet.
enum Step {
    Continue,
    Store(Publish),
    Close,
}

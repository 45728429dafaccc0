//! Counters of the MQTT paths, shared by the embedded endpoint and the external consumer.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::message::{Refusal, RefusalKind};

/// Live counters; cheap to update from every connection.
#[derive(Debug, Default)]
pub struct MqttStats {
    messages: AtomicU64,
    stored: AtomicU64,
    readings: AtomicU64,
    duplicates: AtomicU64,
    malformed: AtomicU64,
    unauthorized: AtomicU64,
    unavailable: AtomicU64,
    connections_refused: AtomicU64,
    protocol_errors: AtomicU64,
    connected: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Messages received on a readings topic.
    pub messages: u64,
    /// Messages stored (acknowledged after the commit).
    pub stored: u64,
    /// Readings stored.
    pub readings: u64,
    /// Readings already stored before (a message sent again).
    pub duplicates: u64,
    /// Messages refused for their payload (answered on the errors topic).
    pub malformed: u64,
    /// Messages refused for their sender: unknown device, signature, topic.
    pub unauthorized: u64,
    /// Messages the store could not take (not acknowledged; the sender sends again).
    pub unavailable: u64,
    /// Connections refused at CONNECT (bad credentials, wrong protocol).
    pub connections_refused: u64,
    /// Connections closed for breaking the protocol.
    pub protocol_errors: u64,
    /// Devices connected to the embedded endpoint now.
    pub connected: u64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl MqttStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            messages: get(&self.messages),
            stored: get(&self.stored),
            readings: get(&self.readings),
            duplicates: get(&self.duplicates),
            malformed: get(&self.malformed),
            unauthorized: get(&self.unauthorized),
            unavailable: get(&self.unavailable),
            connections_refused: get(&self.connections_refused),
            protocol_errors: get(&self.protocol_errors),
            connected: get(&self.connected),
        }
    }

    pub(crate) fn message(&self) {
        bump(&self.messages, 1);
    }

    pub(crate) fn stored(&self, accepted: u64, duplicates: u64) {
        bump(&self.stored, 1);
        bump(&self.readings, accepted);
        bump(&self.duplicates, duplicates);
    }

    pub(crate) fn refused(&self, refusal: &Refusal) {
        match refusal.kind() {
            RefusalKind::Malformed => bump(&self.malformed, 1),
            RefusalKind::Unauthorized => bump(&self.unauthorized, 1),
        }
    }

    pub(crate) fn unavailable(&self) {
        bump(&self.unavailable, 1);
    }

    pub(crate) fn connection_refused(&self) {
        bump(&self.connections_refused, 1);
    }

    pub(crate) fn protocol_error(&self) {
        bump(&self.protocol_errors, 1);
    }

    pub(crate) fn connected(&self) -> ConnectedGuard<'_> {
        bump(&self.connected, 1);
        ConnectedGuard(self)
    }
}

/// Counts a connection as connected while it lives.
pub(crate) struct ConnectedGuard<'a>(&'a MqttStats);

impl Drop for ConnectedGuard<'_> {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

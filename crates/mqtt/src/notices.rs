//! Who hears a device's receipts and errors on the embedded endpoint: every connection
//! of that device subscribed to the topic, not only the one that published (a device may
//! publish on one connection and listen on another, as `mosquitto_pub` and
//! `mosquitto_sub` do).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::mpsc;

/// Which of its own topics a connection listens to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Interest {
    pub(crate) errors: bool,
    pub(crate) receipts: bool,
}

/// The notice topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    Error,
    Receipt,
}

/// A notice on its way to one connection: topic and payload.
pub(crate) type Delivery = (String, Bytes);

struct Listener {
    connection: u64,
    interest: Interest,
    tx: mpsc::Sender<Delivery>,
}

/// The listening connections, by device id.
#[derive(Default)]
pub(crate) struct Notices {
    by_device: Mutex<HashMap<String, Vec<Listener>>>,
}

impl Notices {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Listener>>> {
        // The map stays consistent whatever panicked while it was held.
        self.by_device.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets what `connection` of `device` listens to (nothing removes it).
    pub(crate) fn listen(
        &self,
        device: &str,
        connection: u64,
        interest: Interest,
        tx: &mpsc::Sender<Delivery>,
    ) {
        let mut map = self.lock();
        let listeners = map.entry(device.to_owned()).or_default();
        listeners.retain(|l| l.connection != connection);
        if interest != Interest::default() {
            listeners.push(Listener {
                connection,
                interest,
                tx: tx.clone(),
            });
        }
        if listeners.is_empty() {
            map.remove(device);
        }
    }

    /// Hands a notice to every connection of `device` that listens to it. Notices are
    /// QoS 0: a connection too far behind misses them.
    pub(crate) fn send(&self, device: &str, notice: Notice, topic: String, payload: Vec<u8>) {
        let map = self.lock();
        let Some(listeners) = map.get(device) else {
            return;
        };
        let payload = Bytes::from(payload);
        for l in listeners {
            let wanted = match notice {
                Notice::Error => l.interest.errors,
                Notice::Receipt => l.interest.receipts,
            };
            if wanted {
                let _ = l.tx.try_send((topic.clone(), payload.clone()));
            }
        }
    }
}

//! Shared progress counters of a simulation run, and their one-line summary.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Running totals, updated by every device task; share it in an `Arc` with
/// [`super::report_progress`]. All counts except `devices` and `retries` are readings.
#[derive(Debug, Default)]
pub struct Counters {
    devices: AtomicU64,
    generated: AtomicU64,
    sent: AtomicU64,
    acknowledged: AtomicU64,
    rejected: AtomicU64,
    retries: AtomicU64,
    unsent: AtomicU64,
}

/// A copy of [`Counters`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CountersSnapshot {
    /// Simulated devices.
    pub devices: u64,
    /// Readings generated.
    pub generated: u64,
    /// Readings in batches whose upload was attempted (each batch counted once).
    pub sent: u64,
    /// Readings the server confirmed: `accepted + duplicates` of 200 answers.
    pub acknowledged: u64,
    /// Readings in batches the server refused permanently (4xx other than 408 and 429).
    pub rejected: u64,
    /// Upload attempts repeated after a 5xx, 408, 429 or network error.
    pub retries: u64,
    /// Readings given up on when the run stopped before they could be delivered.
    pub unsent: u64,
}

impl Counters {
    /// All zero.
    pub fn new() -> Counters {
        Counters::default()
    }

    /// The current values. Each is read atomically; together they are a close but not
    /// simultaneous picture while devices are running.
    pub fn snapshot(&self) -> CountersSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CountersSnapshot {
            devices: get(&self.devices),
            generated: get(&self.generated),
            sent: get(&self.sent),
            acknowledged: get(&self.acknowledged),
            rejected: get(&self.rejected),
            retries: get(&self.retries),
            unsent: get(&self.unsent),
        }
    }

    pub(crate) fn add_devices(&self, n: usize) {
        self.devices.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_generated(&self, n: usize) {
        self.generated.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_acknowledged(&self, n: u64) {
        self.acknowledged.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_rejected(&self, n: usize) {
        self.rejected.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_unsent(&self, n: usize) {
        self.unsent.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// `12,345`: digits grouped by thousands.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for CountersSnapshot {
    /// `12 devices · 10,240 readings generated · 10,200 sent · 10,200 acknowledged ·
    /// 0 rejected · 3 retries`, plus `· N unsent` when some were given up.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        write!(
            f,
            "{} {} · {} readings generated · {} sent · {} acknowledged · {} rejected · {} {}",
            grouped(self.devices),
            plural(self.devices, "device", "devices"),
            grouped(self.generated),
            grouped(self.sent),
            grouped(self.acknowledged),
            grouped(self.rejected),
            grouped(self.retries),
            plural(self.retries, "retry", "retries"),
        )?;
        if self.unsent > 0 {
            write!(f, " · {} unsent", grouped(self.unsent))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (10_240, "10,240"),
            (1_234_567, "1,234,567"),
        ];
        for (n, text) in cases {
            assert_eq!(grouped(n), text);
        }
    }

    #[test]
    fn summary_reads_as_one_line() {
        let snapshot = CountersSnapshot {
            devices: 12,
            generated: 10_240,
            sent: 10_200,
            acknowledged: 10_200,
            rejected: 0,
            retries: 3,
            unsent: 0,
        };
        assert_eq!(
            snapshot.to_string(),
            "12 devices · 10,240 readings generated · 10,200 sent · 10,200 acknowledged · 0 rejected · 3 retries"
        );
        let one = CountersSnapshot {
            devices: 1,
            retries: 1,
            unsent: 5,
            ..snapshot
        };
        assert!(one.to_string().starts_with("1 device · "));
        assert!(one.to_string().ends_with("1 retry · 5 unsent"));
    }
}

//! One simulated device: a generator that turns elapsed time into batches of readings,
//! and a sender that delivers those batches in order, retrying transient failures.
//!
//! The two run concurrently and meet at a bounded queue, so readings keep being
//! generated (and counted) while the server is down, and delivery resumes in order
//! when it is back. A batch is never dropped while retrying; only when the run is
//! stopping and the grace period is over are the remaining readings given up and
//! counted as unsent.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout_at};

use super::client::{Batch, Outcome, Uploader};
use super::counters::Counters;
use crate::physiology::Wearer;

/// Batches a device may have waiting for delivery before its generator pauses.
const QUEUE_BATCHES: usize = 64;
/// Delay before the first retry of a batch; it doubles with each further retry.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);
/// Upper bound of the retry delay.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

/// Milliseconds since the Unix epoch, by the wall clock.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Resolves once `stop` holds `true`; never, if its sender is gone without stopping.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// When a run's data begins and ends, shared by all its devices.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// Start of the first generated interval, wall-clock ms (run start minus backfill).
    pub(crate) first_ms: i64,
    /// End of the data, wall-clock ms, when the run has a duration.
    pub(crate) end_ms: Option<i64>,
    /// The same end as a monotonic instant.
    pub(crate) end_at: Option<Instant>,
    pub(crate) interval: Duration,
    /// How long delivery may go on once the run is stopping.
    pub(crate) flush_timeout: Duration,
    pub(crate) max_batch: usize,
}

/// Everything one device task needs.
#[derive(Debug)]
pub(crate) struct Device {
    pub(crate) wearer: Wearer,
    pub(crate) uploader: Uploader,
    pub(crate) counters: Arc<Counters>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) schedule: Schedule,
    /// Delay of this device's first upload, to spread devices across an interval.
    pub(crate) stagger: Duration,
    /// Source of retry jitter.
    pub(crate) jitter: ChaCha8Rng,
}

impl Device {
    /// Generates and delivers until the run ends, then flushes within the grace period.
    pub(crate) async fn run(self) {
        let (queue, inbox) = mpsc::channel(QUEUE_BATCHES);
        let generator = Generator {
            wearer: self.wearer,
            counters: self.counters.clone(),
            stop: self.stop.clone(),
            schedule: self.schedule,
            device: self.uploader.device(),
        };
        let sender = Sender {
            uploader: self.uploader,
            counters: self.counters,
            shutdown: Shutdown::new(self.stop, self.schedule),
            jitter: self.jitter,
        };
        tokio::join!(generator.run(self.stagger, queue), sender.run(inbox));
    }
}

struct Generator {
    wearer: Wearer,
    counters: Arc<Counters>,
    stop: watch::Receiver<bool>,
    schedule: Schedule,
    device: usize,
}

impl Generator {
    /// Every interval, queues the readings of `[last end, now)`; once more on stop.
    async fn run(mut self, stagger: Duration, queue: mpsc::Sender<Batch>) {
        let mut last_to = self.schedule.first_ms;
        let mut stopping = self.pause(stagger).await;
        loop {
            let now = now_ms();
            let to = self.schedule.end_ms.map_or(now, |end| now.min(end));
            if to > last_to {
                if !self.enqueue(last_to, to, &queue).await {
                    return;
                }
                last_to = to;
            }
            let finished = self.schedule.end_ms.is_some_and(|end| last_to >= end);
            if stopping || finished {
                return;
            }
            let until_end = self
                .schedule
                .end_ms
                .map(|end| (end - now_ms()).max(0) as u64);
            let wait = until_end.map_or(self.schedule.interval, |ms| {
                self.schedule.interval.min(Duration::from_millis(ms))
            });
            stopping = self.pause(wait).await;
        }
    }

    /// Waits `wait`; `true` if the run is stopping.
    async fn pause(&mut self, wait: Duration) -> bool {
        tokio::select! {
            () = sleep(wait) => *self.stop.borrow(),
            () = stopped(&mut self.stop) => true,
        }
    }

    /// Generates `[from, to)` and queues it in batches; `false` once nobody delivers.
    async fn enqueue(&mut self, from: i64, to: i64, queue: &mpsc::Sender<Batch>) -> bool {
        let readings = self.wearer.readings(from, to);
        self.counters.add_generated(readings.len());
        let mut chunks = readings.chunks(self.schedule.max_batch);
        while let Some(chunk) = chunks.next() {
            let batch = match Batch::new(chunk) {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::error!(device = self.device, error = %e, "cannot encode a batch");
                    self.counters.add_rejected(chunk.len());
                    continue;
                }
            };
            if queue.send(batch).await.is_err() {
                // The sender gave up: these readings will not be delivered.
                self.counters
                    .add_unsent(chunk.len() + chunks.map(<[_]>::len).sum::<usize>());
                return false;
            }
        }
        true
    }
}

/// When delivery must give up: `flush_timeout` after the stop signal or the end of
/// the run's duration, whichever comes first.
struct Shutdown {
    stop: watch::Receiver<bool>,
    stopped_at: Option<Instant>,
    end_at: Option<Instant>,
    grace: Duration,
}

impl Shutdown {
    fn new(stop: watch::Receiver<bool>, schedule: Schedule) -> Shutdown {
        Shutdown {
            stop,
            stopped_at: None,
            end_at: schedule.end_at,
            grace: schedule.flush_timeout,
        }
    }

    /// `None` while the run is going on.
    fn give_up_at(&mut self) -> Option<Instant> {
        if self.stopped_at.is_none() && *self.stop.borrow() {
            self.stopped_at = Some(Instant::now());
        }
        let ended = self.end_at.filter(|end| *end <= Instant::now());
        let since = match (self.stopped_at, ended) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        since.map(|t| t + self.grace)
    }

    /// Sleeps until `wake`; `false` if stopping means giving up before then.
    async fn sleep_until(&mut self, wake: Instant) -> bool {
        if self.give_up_at().is_none() {
            tokio::select! {
                () = sleep_until(wake) => return true,
                () = stopped(&mut self.stop) => {}
            }
        }
        match self.give_up_at() {
            Some(deadline) if wake > deadline => false,
            _ => {
                sleep_until(wake).await;
                true
            }
        }
    }
}

/// Exponential backoff with jitter: 200 ms, doubling, at most 10 s; each delay is
/// drawn from the upper half of its step so devices do not retry in lockstep.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff {
            next: FIRST_RETRY_DELAY,
        }
    }

    /// The next delay; a server's `Retry-After` lengthens it (up to the maximum).
    pub(crate) fn next_delay(
        &mut self,
        rng: &mut impl Rng,
        retry_after: Option<Duration>,
    ) -> Duration {
        let step = self.next;
        self.next = (step * 2).min(MAX_RETRY_DELAY);
        let jittered = step.mul_f64(rng.random_range(0.5..=1.0));
        retry_after.map_or(jittered, |r| r.min(MAX_RETRY_DELAY).max(jittered))
    }
}

struct Sender {
    uploader: Uploader,
    counters: Arc<Counters>,
    shutdown: Shutdown,
    jitter: ChaCha8Rng,
}

impl Sender {
    /// Delivers batches in queue order until the queue closes or delivery gives up.
    async fn run(mut self, mut inbox: mpsc::Receiver<Batch>) {
        while let Some(batch) = inbox.recv().await {
            if !self.deliver(&batch).await {
                inbox.close();
                let mut unsent = batch.len;
                while let Some(queued) = inbox.recv().await {
                    unsent += queued.len;
                }
                self.counters.add_unsent(unsent);
                let device = self.uploader.device();
                tracing::warn!(device, unsent, "stopped before delivering every reading");
                return;
            }
        }
    }

    /// Sends `batch` until it is acknowledged or rejected (`true`), or the grace period
    /// after stopping is over (`false`).
    async fn deliver(&mut self, batch: &Batch) -> bool {
        self.counters.add_sent(batch.len);
        let mut backoff = Backoff::new();
        let device = self.uploader.device();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = match self.shutdown.give_up_at() {
                Some(deadline) => match timeout_at(deadline, self.uploader.post(batch)).await {
                    Ok(outcome) => outcome,
                    Err(_) => return false,
                },
                None => self.uploader.post(batch).await,
            };
            let (reason, retry_after) = match outcome {
                Outcome::Acknowledged(n) => {
                    self.counters.add_acknowledged(n);
                    return true;
                }
                Outcome::Rejected { status, body } => {
                    tracing::warn!(device, key = %batch.key, %status, %body, "batch rejected");
                    self.counters.add_rejected(batch.len);
                    return true;
                }
                Outcome::Retry {
                    reason,
                    retry_after,
                } => (reason, retry_after),
            };
            let delay = backoff.next_delay(&mut self.jitter, retry_after);
            if attempt == 1 {
                tracing::warn!(device, key = %batch.key, %reason, "upload failed; retrying");
            } else {
                tracing::debug!(device, key = %batch.key, %reason, attempt, ?delay, "upload failed again");
            }
            if !self.shutdown.sleep_until(Instant::now() + delay).await {
                return false;
            }
            self.counters.add_retry();
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_ceiling() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut backoff = Backoff::new();
        let mut step = FIRST_RETRY_DELAY;
        for _ in 0..12 {
            let delay = backoff.next_delay(&mut rng, None);
            assert!(
                delay >= step / 2 && delay <= step,
                "{delay:?} for step {step:?}"
            );
            step = (step * 2).min(MAX_RETRY_DELAY);
        }
        assert!(backoff.next_delay(&mut rng, None) >= MAX_RETRY_DELAY / 2);
    }

    #[test]
    fn retry_after_lengthens_the_delay_within_the_ceiling() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut backoff = Backoff::new();
        assert_eq!(
            backoff.next_delay(&mut rng, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            backoff.next_delay(&mut rng, Some(Duration::from_secs(60))),
            MAX_RETRY_DELAY
        );
    }
}

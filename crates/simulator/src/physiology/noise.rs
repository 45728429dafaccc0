//! Random numbers addressed by `(channel, index)` instead of drawn in sequence.
//!
//! Every random quantity of the simulation is read from its own ChaCha8 stream: the
//! wearer's seed is the key, and the stream number combines a [`Channel`] (what the
//! number is for) with an index (which day, which minute, which sample). A value
//! therefore depends only on the seed and on what it describes, never on how many
//! numbers were drawn before it, which is what lets any interval be regenerated
//! identically however the time axis is split into calls.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The purpose of a stream; keeps unrelated quantities independent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Traits = 1,
    Night,
    Day,
    HeartRateSlow,
    HeartRateFast,
    HeartRateJitter,
    Steps,
    Spo2,
    BloodPressure,
    Temperature,
    Respiration,
}

/// The index occupies the low 48 bits of the stream number, the channel the bits above.
const INDEX_BITS: u32 = 48;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

/// A source of addressable random numbers for one seed.
#[derive(Debug, Clone)]
pub(crate) struct Noise {
    /// Never drawn from directly: it is cloned at stream position zero for every use.
    base: ChaCha8Rng,
}

impl Noise {
    pub(crate) fn new(seed: u64) -> Noise {
        Noise {
            base: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A generator positioned at the start of the stream for `(channel, index)`.
    pub(crate) fn rng(&self, channel: Channel, index: i64) -> ChaCha8Rng {
        let mut rng = self.base.clone();
        // Two's-complement wrapping keeps negative indices distinct and deterministic.
        let stream = ((channel as u64) << INDEX_BITS) | (index as u64 & INDEX_MASK);
        rng.set_stream(stream);
        rng
    }

    /// A standard normal number for `(channel, index)`.
    pub(crate) fn normal(&self, channel: Channel, index: i64) -> f64 {
        self.rng(channel, index).sample(StandardNormal)
    }

    /// Smooth noise of unit scale: standard normal knots every `period_ms`, joined by
    /// smoothstep interpolation. Neighbouring samples are strongly correlated (like an
    /// AR(1) process) but each is a function of `t_ms` alone.
    pub(crate) fn smooth(&self, channel: Channel, t_ms: i64, period_ms: i64) -> f64 {
        let knot = t_ms.div_euclid(period_ms);
        let frac = t_ms.rem_euclid(period_ms) as f64 / period_ms as f64;
        let a = self.normal(channel, knot);
        let b = self.normal(channel, knot + 1);
        let w = frac * frac * (3.0 - 2.0 * frac);
        a + (b - a) * w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_depend_only_on_their_address() {
        let noise = Noise::new(42);
        let first = noise.normal(Channel::Spo2, 7);
        let _ = noise.normal(Channel::Spo2, 8);
        assert_eq!(noise.normal(Channel::Spo2, 7), first);
        assert_eq!(Noise::new(42).normal(Channel::Spo2, 7), first);
        assert_ne!(noise.normal(Channel::Temperature, 7), first);
        assert_ne!(Noise::new(43).normal(Channel::Spo2, 7), first);
    }

    #[test]
    fn smooth_noise_passes_through_its_knots_and_stays_continuous() {
        let noise = Noise::new(1);
        let period = 60_000;
        assert_eq!(
            noise.smooth(Channel::HeartRateSlow, 3 * period, period),
            noise.normal(Channel::HeartRateSlow, 3)
        );
        let a = noise.smooth(Channel::HeartRateSlow, 4 * period - 1, period);
        let b = noise.smooth(Channel::HeartRateSlow, 4 * period, period);
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
    }
}

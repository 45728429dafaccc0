//! Vitalis health analytics: what a day, a night or a month of wearable readings says.
//!
//! Pure functions over timestamped samples — no I/O, no async, no clock. Every method
//! names its definition and source in its doc comment. Bad input is never an error:
//! NaN and infinite values, duplicates, out-of-order samples, gaps and empty days give
//! defined results (`None`, or a result that reports its coverage), never NaN and never
//! a panic. Errors ([`AnalyticsError`]) are for parameters no computation can use.
//!
//! # A tour
//!
//! Samples are `(Unix ms, value)` pairs in the metric's canonical unit; build them from
//! tuples or from validated `vitalis_model::Reading`s ([`samples_of`]).
//!
//! ```
//! use vitalis_analytics::{
//!     ArtefactFilter, DailyConfig, Day, HeartRateReserve, RestingHrConfig, Sample, UtcOffset,
//!     daily_summaries, hrv_from_rr, lttb, resting_heart_rate,
//! };
//!
//! // A day of heart rate every 5 s: 70 bpm, with a calm hour at 52 bpm.
//! let day = Day::from_ymd(2024, 5, 1).unwrap();
//! let t0 = day.start_ms(UtcOffset::UTC);
//! let hr: Vec<Sample> = (0..17_280)
//!     .map(|i| {
//!         let bpm = if (2_000..2_720).contains(&i) { 52.0 } else { 70.0 };
//!         Sample::new(t0 + i * 5_000, bpm)
//!     })
//!     .collect();
//!
//! // Daily summary: extremes, mean, percentiles, and how much of the day has data.
//! let config = DailyConfig::new(UtcOffset::UTC, 5_000).unwrap();
//! let days = daily_summaries(&hr, &config).days;
//! assert_eq!(days[0].day, day);
//! assert_eq!((days[0].summary.min, days[0].summary.max), (52.0, 70.0));
//! assert_eq!(days[0].coverage, 1.0);
//!
//! // Resting heart rate: the lowest 30-minute mean (here over the whole day).
//! let rest = resting_heart_rate(&hr, None, &RestingHrConfig::default()).unwrap();
//! assert_eq!(rest.bpm, 52.0);
//!
//! // Karvonen zones for someone born in 1984: HRmax = 208 − 0.7 · 40 = 180.
//! let reserve = HeartRateReserve::from_profile(1984, rest.bpm, day).unwrap();
//! let zones = reserve.zones();
//! assert_eq!(zones[0].lower_bpm, 52.0 + 0.5 * (180.0 - 52.0));
//!
//! // HRV from R-R intervals (ms), with artefact filtering.
//! let hrv = hrv_from_rr(&[812.0, 790.0, 805.0, 2900.0, 798.0, 820.0], &ArtefactFilter::STANDARD)
//!     .unwrap();
//! assert_eq!(hrv.rejected, 1);
//! assert!(hrv.rmssd_ms.unwrap() > 0.0);
//!
//! // 17,280 points to 500 for a chart, keeping the calm hour's edges.
//! let chart = lttb(&hr, 500);
//! assert_eq!(chart.len(), 500);
//! assert_eq!((chart[0], chart[499]), (hr[0], hr[17_279]));
//! ```
//!
//! Beyond these: step totals, activity classes and goal streaks ([`daily_steps`],
//! [`StepBands`], [`goal_streaks`]); sleep episodes, stages and efficiency
//! ([`sleep_episodes`]); SpO2 desaturation events and ODI ([`desaturations`]);
//! ACC/AHA blood-pressure categories ([`categorize`]); temperature against a personal
//! baseline ([`temperature_deviations`]); robust anomalies ([`daily_anomalies`]) and
//! Theil–Sen trends ([`trend`]); incrementally updatable minute/hour/day rollups
//! ([`Rollup`]); and a plain-language day or week summary that lists the numbers it
//! rests on ([`describe_day`], [`describe_week`]).

mod anomaly;
mod blood_pressure;
mod downsample;
mod error;
mod heart;
mod hrv;
mod narrative;
mod rollup;
mod sample;
mod sleep;
mod spo2;
mod stats;
mod steps;
mod summary;
mod temperature;
mod time;
mod trend;
mod zones;

pub use anomaly::{
    Anomaly, AnomalyConfig, Direction, MODIFIED_Z_THRESHOLD, RobustBaseline, daily_anomalies,
};
pub use blood_pressure::{BloodPressure, BpCategory, categorize, mean_category, pair_readings};
pub use downsample::lttb;
pub use error::{AnalyticsError, Result};
pub use heart::{
    MAX_QUIET_BUCKETS, RestingHeartRate, RestingHrConfig, TimeRange, daily_resting_heart_rate,
    merge_ranges, quiet_periods_from_steps, resting_heart_rate, within,
};
pub use hrv::{ADJACENCY_TOLERANCE_MS, ArtefactFilter, Hrv, hrv_from_beats, hrv_from_rr};
pub use narrative::{DayFacts, Fact, MetricAnomaly, Narrative, describe_day, describe_week};
pub use rollup::{BucketStats, Granularity, Rollup};
pub use sample::{
    Cleaned, Duplicates, MAX_ABS_VALUE, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, Sample, clean,
    samples_of,
};
pub use sleep::{
    SleepConfig, SleepDay, SleepEpisode, StageDurations, sleep_by_day, sleep_episodes,
    stage_samples,
};
pub use spo2::{DesaturationConfig, DesaturationEvent, DesaturationReport, desaturations};
pub use stats::{Summary, median, percentile};
pub use steps::{
    ActivityClass, DailySteps, StepBands, Streak, current_streak, daily_steps, goal_streaks,
    longest_streak,
};
pub use summary::{DailyConfig, DailySummaries, DailySummary, daily_summaries};
pub use temperature::{TemperatureConfig, TemperatureDay, temperature_deviations};
pub use time::{DAY_MS, Day, HOUR_MS, MINUTE_MS, UtcOffset};
pub use trend::{Trend, TrendConfig, TrendDirection, theil_sen, trend};
pub use zones::{
    HeartRateReserve, Intensity, Zone, ZoneBounds, ZoneTimes, age_in_year, max_heart_rate_tanaka,
    time_in_zones,
};

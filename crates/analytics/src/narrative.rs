//! Plain-language summaries of a day or a week, with the facts they rest on.
//!
//! The text is English prose for the wearer; next to it, [`Narrative::facts`] lists
//! every number the text states, how it is shown, its unit and the method that produced
//! it, so a reader (or a test) can trace each sentence back to a computation in this
//! crate. The text states no number that is not in `facts`.

use serde::{Deserialize, Serialize};
use vitalis_model::Metric;

use crate::anomaly::{Anomaly, Direction};
use crate::blood_pressure::BloodPressure;
use crate::sleep::SleepDay;
use crate::steps::StepBands;
use crate::time::{Day, MINUTE_MS};
use crate::trend::{TrendConfig, TrendDirection, trend};

/// One number a narrative rests on. Classes (activity class, blood-pressure category)
/// are facts too: their value is the class's rank, lowest first, and `shown` its name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    /// What it is (`steps`, `resting_heart_rate`, …).
    pub key: String,
    /// The value.
    pub value: f64,
    /// Its unit (UCUM where one exists).
    pub unit: &'static str,
    /// Exactly how the text shows it.
    pub shown: String,
    /// The function of this crate (and so the method and source) that produced it.
    pub method: &'static str,
}

/// A plain-language summary and its facts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Narrative {
    /// English text.
    pub text: String,
    /// The numbers the text states, in order of appearance.
    pub facts: Vec<Fact>,
}

/// An anomaly of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricAnomaly {
    /// The metric.
    pub metric: Metric,
    /// The anomaly.
    pub anomaly: Anomaly,
}

/// What is known about one day, gathered from the other analyses; absent facts are
/// left out of the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayFacts {
    /// The local day.
    pub day: Day,
    /// Steps in the day (`steps::daily_steps`).
    pub steps: Option<f64>,
    /// The wearer's step goal.
    pub step_goal: Option<f64>,
    /// Days in the current goal streak (`steps::current_streak`).
    pub goal_streak_days: Option<u32>,
    /// Resting heart rate, bpm (`heart::resting_heart_rate`).
    pub resting_hr_bpm: Option<f64>,
    /// RMSSD, ms (`hrv::hrv_from_beats`).
    pub rmssd_ms: Option<f64>,
    /// Sleep ending on the day (`sleep::sleep_by_day`).
    pub sleep: Option<SleepDay>,
    /// Desaturation events per hour (`spo2::desaturations`).
    pub odi: Option<f64>,
    /// A blood-pressure reading (`blood_pressure`).
    pub blood_pressure: Option<BloodPressure>,
    /// Temperature deviation from baseline, °C (`temperature::temperature_deviations`).
    pub temperature_deviation_c: Option<f64>,
    /// Anomalies of the day (`anomaly::daily_anomalies`).
    pub anomalies: Vec<MetricAnomaly>,
}

impl DayFacts {
    /// A day about which nothing is known yet.
    pub fn new(day: Day) -> DayFacts {
        DayFacts {
            day,
            steps: None,
            step_goal: None,
            goal_streak_days: None,
            resting_hr_bpm: None,
            rmssd_ms: None,
            sleep: None,
            odi: None,
            blood_pressure: None,
            temperature_deviation_c: None,
            anomalies: Vec::new(),
        }
    }
}

/// Collects sentences and the facts they show.
struct Writer {
    sentences: Vec<String>,
    facts: Vec<Fact>,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            sentences: Vec::new(),
            facts: Vec::new(),
        }
    }

    /// Records a fact and returns it as the text shows it.
    fn fact(
        &mut self,
        key: impl Into<String>,
        value: f64,
        unit: &'static str,
        shown: String,
        method: &'static str,
    ) -> String {
        self.facts.push(Fact {
            key: key.into(),
            value,
            unit,
            shown: shown.clone(),
            method,
        });
        shown
    }

    fn number(
        &mut self,
        key: &str,
        value: f64,
        decimals: usize,
        unit: &'static str,
        method: &'static str,
    ) -> String {
        self.fact(key, value, unit, format_number(value, decimals), method)
    }

    fn duration(&mut self, key: &str, ms: i64, method: &'static str) -> String {
        self.fact(
            key,
            ms as f64 / 60_000.0,
            "min",
            format_duration(ms),
            method,
        )
    }

    fn day(&mut self, key: &str, day: Day) -> String {
        self.fact(key, day.number() as f64, "d", day.to_string(), "time::Day")
    }

    fn say(&mut self, sentence: String) {
        self.sentences.push(sentence);
    }

    fn finish(self, empty: &str) -> Narrative {
        let text = if self.sentences.len() <= 1 {
            format!("{} {empty}", self.sentences.join(" "))
        } else {
            self.sentences.join(" ")
        };
        Narrative {
            text: text.trim().to_owned(),
            facts: self.facts,
        }
    }
}

/// Rounds to `decimals` places and groups thousands with commas ("12,345", "0.4").
fn format_number(value: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, value.abs());
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if value < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// "7 h 5 min", "45 min".
fn format_duration(ms: i64) -> String {
    let minutes = (ms.max(0) + MINUTE_MS / 2) / MINUTE_MS;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite())
}

/// The plain-language summary of one day.
pub fn describe_day(f: &DayFacts) -> Narrative {
    let mut w = Writer::new();
    let day = w.day("day", f.day);
    w.say(format!("Summary for {day}."));
    if let Some(steps) = finite(f.steps) {
        let shown = w.number("steps", steps, 0, "{steps}", "steps::daily_steps");
        let class = match StepBands::VITALIS.classify(steps) {
            Some(c) => {
                let label = w.fact(
                    "activity_class",
                    c as usize as f64,
                    "1",
                    c.label().to_owned(),
                    "steps::StepBands::classify",
                );
                format!(" ({label})")
            }
            None => String::new(),
        };
        let mut s = format!("You walked {shown} steps{class}");
        if let Some(goal) = finite(f.step_goal) {
            let g = w.number("step_goal", goal, 0, "{steps}", "profile");
            let rel = if steps >= goal {
                "reaching"
            } else {
                "short of"
            };
            s.push_str(&format!(", {rel} your goal of {g}"));
            if let Some(days) = f.goal_streak_days.filter(|d| *d > 1 && steps >= goal) {
                let d = w.number(
                    "goal_streak_days",
                    f64::from(days),
                    0,
                    "d",
                    "steps::current_streak",
                );
                s.push_str(&format!(", day {d} of your streak"));
            }
        }
        s.push('.');
        w.say(s);
    }
    if let Some(sleep) = f.sleep.filter(|s| s.in_bed_ms() > 0) {
        let asleep = w.duration("sleep_asleep", sleep.asleep_ms(), "sleep::sleep_by_day");
        let eff = w.number(
            "sleep_efficiency",
            100.0 * sleep.efficiency(),
            0,
            "%",
            "sleep::SleepDay::efficiency",
        );
        let deep = w.duration("sleep_deep", sleep.stages.deep_ms, "sleep::sleep_by_day");
        let rem = w.duration("sleep_rem", sleep.stages.rem_ms, "sleep::sleep_by_day");
        w.say(format!(
            "You slept {asleep} at {eff} % efficiency, with {deep} of deep sleep and {rem} of REM sleep."
        ));
    }
    if let Some(rhr) = finite(f.resting_hr_bpm) {
        let r = w.number(
            "resting_heart_rate",
            rhr,
            0,
            "/min",
            "heart::resting_heart_rate",
        );
        w.say(format!("Your resting heart rate was {r} beats per minute."));
    }
    if let Some(rmssd) = finite(f.rmssd_ms) {
        let r = w.number("rmssd", rmssd, 0, "ms", "hrv::hrv_from_beats");
        w.say(format!("Heart-rate variability (RMSSD) was {r} ms."));
    }
    if let Some(odi) = finite(f.odi) {
        // The "3 points" is the scoring rule, not a measurement; it is listed as a fact
        // too, so that every number in the text has its source.
        w.fact(
            "desaturation_threshold",
            3.0,
            "%",
            "3".into(),
            "spo2::DesaturationConfig::drop",
        );
        let o = w.number(
            "oxygen_desaturation_index",
            odi,
            1,
            "/h",
            "spo2::desaturations",
        );
        w.say(format!(
            "Blood oxygen dipped by 3 points or more {o} times per hour of recording."
        ));
    }
    if let Some(bp) = f.blood_pressure
        && let Some(cat) = bp.category()
    {
        let s = w.number(
            "blood_pressure_systolic",
            bp.systolic,
            0,
            "mm[Hg]",
            "blood_pressure::categorize",
        );
        let d = w.number(
            "blood_pressure_diastolic",
            bp.diastolic,
            0,
            "mm[Hg]",
            "blood_pressure::categorize",
        );
        let c = w.fact(
            "blood_pressure_category",
            cat as usize as f64,
            "1",
            cat.label().to_owned(),
            "blood_pressure::categorize",
        );
        w.say(format!(
            "Blood pressure was {s}/{d} mm Hg, in the {c} range of the ACC/AHA guideline."
        ));
    }
    if let Some(dev) = finite(f.temperature_deviation_c) {
        let shown = w.number(
            "temperature_deviation",
            dev.abs(),
            1,
            "Cel",
            "temperature::temperature_deviations",
        );
        let side = if dev >= 0.0 { "above" } else { "below" };
        w.say(format!(
            "Body temperature was {shown} °C {side} your usual level."
        ));
    }
    for a in &f.anomalies {
        let label = a.metric.spec().label;
        let key = a.metric.spec().name;
        let v = w.number(
            &format!("{key}_anomaly_value"),
            a.anomaly.value,
            1,
            a.metric.spec().unit,
            "anomaly::daily_anomalies",
        );
        let m = w.number(
            &format!("{key}_baseline_median"),
            a.anomaly.baseline.median,
            1,
            a.metric.spec().unit,
            "anomaly::daily_anomalies",
        );
        let side = match a.anomaly.direction {
            Direction::Above => "high",
            Direction::Below => "low",
        };
        w.say(format!(
            "{label} of {v} was unusually {side} (typically {m})."
        ));
    }
    w.finish("No data was recorded.")
}

/// The plain-language summary of a week (or any run of days), from the facts of each day.
pub fn describe_week(days: &[DayFacts]) -> Narrative {
    let mut w = Writer::new();
    let (Some(first), Some(last)) = (
        days.iter().map(|d| d.day).min(),
        days.iter().map(|d| d.day).max(),
    ) else {
        return Narrative {
            text: "No data was recorded.".into(),
            facts: Vec::new(),
        };
    };
    let a = w.day("from", first);
    let b = w.day("to", last);
    w.say(format!("Summary for {a} to {b}."));

    let steps: Vec<(Day, f64)> = days
        .iter()
        .filter_map(|d| finite(d.steps).map(|s| (d.day, s)))
        .collect();
    if !steps.is_empty() {
        let total: f64 = steps.iter().map(|s| s.1).sum();
        let t = w.number("steps_total", total, 0, "{steps}", "steps::daily_steps");
        let mean = total / steps.len() as f64;
        let m = w.number("steps_daily_mean", mean, 0, "{steps}", "steps::daily_steps");
        let n = w.number(
            "days_with_steps",
            steps.len() as f64,
            0,
            "d",
            "steps::daily_steps",
        );
        let mut s = format!("You walked {t} steps, {m} a day on average over {n} days with data");
        let goals: Vec<bool> = days
            .iter()
            .filter_map(|d| Some(finite(d.steps)? >= finite(d.step_goal)?))
            .collect();
        if !goals.is_empty() {
            let met = goals.iter().filter(|g| **g).count();
            let k = w.number("days_goal_met", met as f64, 0, "d", "steps::goal_streaks");
            s.push_str(&format!(", and reached your step goal on {k} of them"));
        }
        s.push('.');
        w.say(s);
    }
    let sleeps: Vec<&SleepDay> = days
        .iter()
        .filter_map(|d| d.sleep.as_ref())
        .filter(|s| s.in_bed_ms() > 0)
        .collect();
    if !sleeps.is_empty() {
        let mean_ms = sleeps.iter().map(|s| s.asleep_ms()).sum::<i64>() / sleeps.len() as i64;
        let m = w.duration("sleep_asleep_mean", mean_ms, "sleep::sleep_by_day");
        w.say(format!("You slept {m} a night on average."));
    }
    let rhr: Vec<(Day, f64)> = days
        .iter()
        .filter_map(|d| finite(d.resting_hr_bpm).map(|r| (d.day, r)))
        .collect();
    if !rhr.is_empty() {
        let mean = rhr.iter().map(|r| r.1).sum::<f64>() / rhr.len() as f64;
        let m = w.number(
            "resting_heart_rate_mean",
            mean,
            0,
            "/min",
            "heart::resting_heart_rate",
        );
        let window = TrendConfig {
            window_days: (last.days_since(first) + 1).clamp(1, 366) as u32,
            ..TrendConfig::WEEK
        };
        let mut s = format!("Your resting heart rate averaged {m} beats per minute");
        if let Some(t) = trend(&rhr, last, &window) {
            let slope = t.slope_per_day.abs();
            let shown = w.number(
                "resting_heart_rate_slope",
                slope,
                1,
                "/min/d",
                "trend::trend",
            );
            match t.direction {
                TrendDirection::Rising if shown != "0.0" => {
                    s.push_str(&format!(", rising by {shown} a day"))
                }
                TrendDirection::Falling if shown != "0.0" => {
                    s.push_str(&format!(", falling by {shown} a day"))
                }
                _ => s.push_str(&format!(", steady (slope {shown} a day)")),
            }
        }
        s.push('.');
        w.say(s);
    }
    let anomalies: usize = days.iter().map(|d| d.anomalies.len()).sum();
    if anomalies > 0 {
        let n = w.number(
            "anomalies",
            anomalies as f64,
            0,
            "1",
            "anomaly::daily_anomalies",
        );
        w.say(format!("{n} daily values stood out from your usual range."));
    }
    w.finish("No data was recorded.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_for_reading() {
        assert_eq!(format_number(12_345.4, 0), "12,345");
        assert_eq!(format_number(999.0, 0), "999");
        assert_eq!(format_number(1_000_000.0, 0), "1,000,000");
        assert_eq!(format_number(-0.04, 1), "0.0");
        assert_eq!(format_number(-1.26, 1), "-1.3");
        assert_eq!(format_duration(432 * MINUTE_MS), "7 h 12 min");
        assert_eq!(format_duration(45 * MINUTE_MS), "45 min");
        assert_eq!(format_duration(120 * MINUTE_MS), "2 h");
    }

    #[test]
    fn an_empty_day_says_so() {
        let n = describe_day(&DayFacts::new(Day::from_ymd(2024, 1, 1).unwrap()));
        assert_eq!(n.text, "Summary for 2024-01-01. No data was recorded.");
        assert_eq!(n.facts.len(), 1);
        assert_eq!(describe_week(&[]).text, "No data was recorded.");
    }
}

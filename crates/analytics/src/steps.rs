//! Steps: daily totals, activity classes and goal streaks.
//!
//! A steps reading counts the steps since the previous reading, so a day's total is the
//! sum of the readings whose timestamps fall in it. Two readings with the same timestamp
//! are taken to be the same count sent twice (the larger is kept), never added.
//!
//! Activity classes follow the graduated step index of Tudor-Locke & Bassett (2004),
//! "How many steps/day are enough? Preliminary pedometer indices for public health",
//! Sports Med 34:1–8, which names five classes from sedentary to highly active. Its cut
//! points are 5,000 / 7,500 / 10,000 / 12,500 steps a day
//! ([`StepBands::TUDOR_LOCKE_BASSETT_2004`]); Vitalis reports with the wider bands
//! 5,000 / 8,000 / 12,000 / 16,000 ([`StepBands::VITALIS`]) under the same names.

use serde::{Deserialize, Serialize};
use vitalis_model::Metric;

use crate::sample::{Duplicates, Sample, clean_metric};
use crate::summary::day_runs;
use crate::time::{Day, UtcOffset};

/// The steps of one local day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DailySteps {
    /// The local day.
    pub day: Day,
    /// Steps counted in the day.
    pub steps: f64,
    /// Readings that contributed.
    pub readings: usize,
}

/// Daily step totals, oldest first; days without a reading are absent. Readings outside
/// the catalog's plausible range (negative, or above 100,000 in one reading) are ignored.
pub fn daily_steps(steps: &[Sample], offset: UtcOffset) -> Vec<DailySteps> {
    let clean = clean_metric(steps, Metric::Steps, Duplicates::Max).samples;
    day_runs(&clean, offset)
        .map(|run| DailySteps {
            day: Day::containing(run[0].t, offset),
            steps: run.iter().map(|s| s.value).sum(),
            readings: run.len(),
        })
        .collect()
}

/// Activity class by steps a day (names after Tudor-Locke & Bassett 2004).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityClass {
    /// Below the first cut point.
    Sedentary,
    /// From the first to the second cut point.
    LowActive,
    /// From the second to the third cut point.
    SomewhatActive,
    /// From the third to the fourth cut point.
    Active,
    /// From the fourth cut point up.
    HighlyActive,
}

impl ActivityClass {
    /// Every class, least active first.
    pub const ALL: [ActivityClass; 5] = [
        ActivityClass::Sedentary,
        ActivityClass::LowActive,
        ActivityClass::SomewhatActive,
        ActivityClass::Active,
        ActivityClass::HighlyActive,
    ];

    /// The name used in plain-language text.
    pub fn label(self) -> &'static str {
        match self {
            ActivityClass::Sedentary => "sedentary",
            ActivityClass::LowActive => "low active",
            ActivityClass::SomewhatActive => "somewhat active",
            ActivityClass::Active => "active",
            ActivityClass::HighlyActive => "highly active",
        }
    }
}

/// Four ascending cut points (steps a day) between the five activity classes; a day with
/// exactly a cut point's steps belongs to the higher class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepBands {
    /// The cut points, ascending.
    pub cut_points: [f64; 4],
}

impl StepBands {
    /// The bands Vitalis reports: < 5,000 sedentary, 5,000–7,999 low active,
    /// 8,000–11,999 somewhat active, 12,000–15,999 active, ≥ 16,000 highly active.
    pub const VITALIS: StepBands = StepBands {
        cut_points: [5_000.0, 8_000.0, 12_000.0, 16_000.0],
    };

    /// The graduated step index as published (Tudor-Locke & Bassett 2004).
    pub const TUDOR_LOCKE_BASSETT_2004: StepBands = StepBands {
        cut_points: [5_000.0, 7_500.0, 10_000.0, 12_500.0],
    };

    /// The class of a day's steps; `None` for NaN or a negative count.
    pub fn classify(&self, steps: f64) -> Option<ActivityClass> {
        if steps.is_nan() || steps < 0.0 {
            return None;
        }
        let above = self.cut_points.iter().filter(|c| steps >= **c).count();
        Some(ActivityClass::ALL[above])
    }
}

impl Default for StepBands {
    fn default() -> Self {
        StepBands::VITALIS
    }
}

/// A run of consecutive days that each met the step goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streak {
    /// First day of the run.
    pub start: Day,
    /// Last day of the run.
    pub end: Day,
    /// Number of days.
    pub days: u32,
}

/// Runs of consecutive days with at least `goal` steps, oldest first. A day missing from
/// `days` breaks a run (no data is not a met goal); duplicate days keep the larger total.
pub fn goal_streaks(days: &[DailySteps], goal: f64) -> Vec<Streak> {
    let mut met: Vec<Day> = days
        .iter()
        .filter(|d| d.steps >= goal)
        .map(|d| d.day)
        .collect();
    met.sort_unstable();
    met.dedup();
    let mut out: Vec<Streak> = Vec::new();
    for day in met {
        match out.last_mut() {
            Some(s) if s.end.next() == day => {
                s.end = day;
                s.days += 1;
            }
            _ => out.push(Streak {
                start: day,
                end: day,
                days: 1,
            }),
        }
    }
    out
}

/// The current streak as of `today`: the run ending today, or, while today has not met
/// the goal yet, the run ending yesterday. 0 when neither day met it.
pub fn current_streak(days: &[DailySteps], goal: f64, today: Day) -> u32 {
    goal_streaks(days, goal)
        .iter()
        .rev()
        .find(|s| s.end == today || s.end == today.plus(-1))
        .map_or(0, |s| s.days)
}

/// The longest streak, the most recent one among equals.
pub fn longest_streak(days: &[DailySteps], goal: f64) -> Option<Streak> {
    // `max_by_key` returns the last of equal maxima: the most recent.
    goal_streaks(days, goal).into_iter().max_by_key(|s| s.days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR_MS;

    #[test]
    fn totals_sum_counts_and_ignore_duplicates() {
        let d0 = Day::from_ymd(2016, 4, 12).unwrap();
        let t = d0.start_ms(UtcOffset::UTC);
        let s = [
            Sample::new(t + HOUR_MS, 100.0),
            Sample::new(t + HOUR_MS, 100.0),
            Sample::new(t + 2 * HOUR_MS, 50.0),
            Sample::new(t + 25 * HOUR_MS, 7.0),
            Sample::new(t + 26 * HOUR_MS, -3.0),
            Sample::new(t + 26 * HOUR_MS, f64::NAN),
        ];
        let d = daily_steps(&s, UtcOffset::UTC);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].day, d[0].steps, d[0].readings), (d0, 150.0, 2));
        assert_eq!((d[1].day, d[1].steps), (d0.next(), 7.0));
    }

    #[test]
    fn classes_and_boundaries() {
        let b = StepBands::VITALIS;
        assert_eq!(b.classify(4_999.0), Some(ActivityClass::Sedentary));
        assert_eq!(b.classify(5_000.0), Some(ActivityClass::LowActive));
        assert_eq!(b.classify(8_000.0), Some(ActivityClass::SomewhatActive));
        assert_eq!(b.classify(12_000.0), Some(ActivityClass::Active));
        assert_eq!(b.classify(16_000.0), Some(ActivityClass::HighlyActive));
        assert_eq!(b.classify(f64::NAN), None);
        let t = StepBands::TUDOR_LOCKE_BASSETT_2004;
        assert_eq!(t.classify(10_000.0), Some(ActivityClass::Active));
    }

    #[test]
    fn streaks_break_on_missing_and_short_days() {
        let d0 = Day::from_ymd(2024, 1, 1).unwrap();
        let mk = |i: i64, steps: f64| DailySteps {
            day: d0.plus(i),
            steps,
            readings: 1,
        };
        // met: 0 1 2 _ 4(missing day 3) 5(short) 6 7
        let days = [
            mk(0, 9e3),
            mk(1, 9e3),
            mk(2, 9e3),
            mk(4, 9e3),
            mk(5, 10.0),
            mk(6, 9e3),
            mk(7, 9e3),
        ];
        let s = goal_streaks(&days, 8_000.0);
        assert_eq!(s.iter().map(|s| s.days).collect::<Vec<_>>(), vec![3, 1, 2]);
        assert_eq!(longest_streak(&days, 8_000.0).unwrap().start, d0);
        assert_eq!(current_streak(&days, 8_000.0, d0.plus(8)), 2);
        assert_eq!(current_streak(&days, 8_000.0, d0.plus(9)), 0);
    }
}

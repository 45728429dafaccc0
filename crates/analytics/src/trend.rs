//! Trends of a daily series over the last 7 or 30 days, by the Theil–Sen estimator.
//!
//! The slope is the median of the slopes between every pair of points with different x
//! (Theil 1950, "A rank-invariant method of linear and polynomial regression analysis";
//! Sen 1968, "Estimates of the regression coefficient based on Kendall's tau", J Am Stat
//! Assoc 63:1379–1389); the intercept is the median of `y − slope · x`. Up to 29 % of
//! the points can be outliers without moving it far, which suits wearable data. The cost
//! is O(n² log n) in the number of points: meant for daily values, not raw samples.

use serde::{Deserialize, Serialize};

use crate::anomaly::clean_daily;
use crate::stats::{percentile, usable};
use crate::time::Day;

/// Theil–Sen slope and intercept of `(x, y)` points; `None` without two usable points
/// with different x.
pub fn theil_sen(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let p: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| usable(*x) && usable(*y))
        .collect();
    let mut slopes = Vec::with_capacity(p.len() * p.len().saturating_sub(1) / 2);
    for (i, a) in p.iter().enumerate() {
        for b in &p[i + 1..] {
            if a.0 != b.0 {
                let s = (b.1 - a.1) / (b.0 - a.0);
                if s.is_finite() {
                    slopes.push(s);
                }
            }
        }
    }
    slopes.sort_unstable_by(f64::total_cmp);
    let slope = percentile(&slopes, 0.5)?;
    let mut residuals: Vec<f64> = p
        .iter()
        .map(|(x, y)| y - slope * x)
        .filter(|r| r.is_finite())
        .collect();
    residuals.sort_unstable_by(f64::total_cmp);
    Some((slope, percentile(&residuals, 0.5)?))
}

/// Which way a series is heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendDirection {
    /// Slope above the tolerance.
    Rising,
    /// Slope below minus the tolerance.
    Falling,
    /// Slope within the tolerance.
    Flat,
}

/// The window a trend is taken over.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrendConfig {
    /// Days in the window, ending with the day the trend is taken on.
    pub window_days: u32,
    /// Fewest days with data in the window.
    pub min_points: usize,
    /// Slopes (units per day) of at most this magnitude count as flat.
    pub flat_tolerance_per_day: f64,
}

impl TrendConfig {
    /// The last 7 days, at least 4 of them with data.
    pub const WEEK: TrendConfig = TrendConfig {
        window_days: 7,
        min_points: 4,
        flat_tolerance_per_day: 0.0,
    };
    /// The last 30 days, at least 10 of them with data.
    pub const MONTH: TrendConfig = TrendConfig {
        window_days: 30,
        min_points: 10,
        flat_tolerance_per_day: 0.0,
    };
}

/// The trend of a daily series over a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// First day of the window.
    pub from: Day,
    /// Last day of the window.
    pub to: Day,
    /// Days with data in the window.
    pub points: usize,
    /// Theil–Sen slope, units per day.
    pub slope_per_day: f64,
    /// The fitted value on the last day of the window.
    pub fitted_last: f64,
    /// Sign of the slope, with the tolerance.
    pub direction: TrendDirection,
}

/// The trend of `daily` over the `config.window_days` ending with `to`; `None` with too
/// few days of data. Unusable values are dropped and repeated days averaged.
pub fn trend(daily: &[(Day, f64)], to: Day, config: &TrendConfig) -> Option<Trend> {
    let from = to.plus(1 - i64::from(config.window_days.max(1)));
    let points: Vec<(f64, f64)> = clean_daily(daily)
        .into_iter()
        .filter(|(d, _)| *d >= from && *d <= to)
        .map(|(d, v)| (d.days_since(to) as f64, v))
        .collect();
    if points.len() < config.min_points.max(2) {
        return None;
    }
    let (slope, intercept) = theil_sen(&points)?;
    let tolerance = if config.flat_tolerance_per_day.is_finite() {
        config.flat_tolerance_per_day.abs()
    } else {
        0.0
    };
    let direction = if slope > tolerance {
        TrendDirection::Rising
    } else if slope < -tolerance {
        TrendDirection::Falling
    } else {
        TrendDirection::Flat
    };
    Some(Trend {
        from,
        to,
        points: points.len(),
        slope_per_day: slope,
        fitted_last: intercept,
        direction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_resists_an_outlier() {
        let mut p: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 2.0 * i as f64 + 1.0)).collect();
        p[4].1 = 1000.0;
        let (slope, intercept) = theil_sen(&p).unwrap();
        assert!((slope - 2.0).abs() < 1e-12 && (intercept - 1.0).abs() < 1e-12);
        assert!(theil_sen(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
    }

    #[test]
    fn weekly_and_monthly_trends() {
        let d0 = Day::from_ymd(2024, 1, 1).unwrap();
        let daily: Vec<(Day, f64)> = (0..30)
            .map(|i| (d0.plus(i), 70.0 - 0.2 * i as f64))
            .collect();
        let w = trend(&daily, d0.plus(29), &TrendConfig::WEEK).unwrap();
        assert_eq!((w.points, w.direction), (7, TrendDirection::Falling));
        assert!((w.slope_per_day + 0.2).abs() < 1e-9);
        assert!((w.fitted_last - 64.2).abs() < 1e-9);
        let m = trend(&daily, d0.plus(29), &TrendConfig::MONTH).unwrap();
        assert_eq!(m.points, 30);
        assert!(trend(&daily[..3], d0.plus(2), &TrendConfig::WEEK).is_none());
        let flat = TrendConfig {
            flat_tolerance_per_day: 0.5,
            ..TrendConfig::WEEK
        };
        assert_eq!(
            trend(&daily, d0.plus(29), &flat).unwrap().direction,
            TrendDirection::Flat
        );
    }
}

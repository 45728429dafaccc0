//! Analysis of a patient's data: chart series downsampled for display, the summary of a
//! day (with the plain-language text and the facts it rests on), the profile analysis
//! uses, and alert rules and alerts. Every read is authorised and logged like the readings
//! route: a metric is read under the section it is in for the patient now.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use vitalis_access::{Action, Role};
use vitalis_analytics::{
    AnomalyConfig, ArtefactFilter, DailyConfig, Day, DayFacts, DesaturationConfig,
    HeartRateReserve, MetricAnomaly, RestingHrConfig, Sample, SleepConfig, StepBands,
    TemperatureConfig, TrendConfig, UtcOffset, daily_anomalies, daily_steps, daily_summaries,
    desaturations, describe_day, hrv_from_rr, lttb, mean_category, pair_readings,
    resting_heart_rate, sleep_by_day, sleep_episodes, temperature_deviations, trend,
};
use vitalis_model::{Metric, PatientId, Section, Timestamp, Value as Reading};
use vitalis_store::ReadingQuery;
use vitalis_store::analysis::{AlertKind, AlertRule, Profile, RollupBucket};

use crate::AppState;
use crate::accounts::now_ms;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::permit::{Permit, authorize, log_access};
use crate::routes::read::patient_of;

/// The section `metric` of `patient` is in now.
async fn section_of(
    state: &AppState,
    patient: &PatientId,
    metric: Metric,
) -> Result<Section, ApiError> {
    Ok(state
        .store
        .section_choices(patient)
        .await?
        .into_iter()
        .find(|(m, _)| *m == metric)
        .map(|(_, s)| s)
        .unwrap_or(metric.spec().default_section))
}

fn read_action(section: Section) -> Action {
    match section {
        Section::Open => Action::ReadOpen,
        Section::Protected => Action::ReadProtected,
    }
}

/// Authorises reading `metric` of `patient` (identified data only).
async fn metric_permit(
    state: &AppState,
    principal: &Principal,
    patient: &PatientId,
    metric: Metric,
) -> Result<(Action, Permit), ApiError> {
    let action = read_action(section_of(state, patient, metric).await?);
    let permit = authorize(state, principal, action, patient).await?;
    if permit.deidentified {
        return Err(ApiError::denied(
            "deidentified_only",
            "researchers receive de-identified data only",
        ));
    }
    if permit.metrics().is_some_and(|m| !m.contains(&metric)) {
        return Err(ApiError::denied(
            "no_consent",
            format!("the consent does not cover {}", metric.name()),
        ));
    }
    Ok((action, permit))
}

fn parse_metric(name: &str) -> Result<Metric, ApiError> {
    Metric::from_name(name).ok_or_else(|| {
        ApiError::field(
            "metric",
            "unknown_metric",
            format!("unknown metric {name:?}"),
        )
    })
}

/// All readings of `patient`'s `metric` in `[from, to]` as samples (scalars only).
async fn samples(
    state: &AppState,
    principal: &Principal,
    patient: &PatientId,
    metric: Metric,
    from: i64,
    to: i64,
) -> Result<Vec<Sample>, ApiError> {
    readings_of(
        state,
        principal,
        patient,
        metric,
        from,
        to,
        |t, value| match value {
            Reading::Scalar(v) => Some(Sample::new(t, v)),
            _ => None,
        },
    )
    .await
}

/// Sleep-stage readings of `patient` in `[from, to]`.
async fn stages(
    state: &AppState,
    principal: &Principal,
    patient: &PatientId,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, vitalis_model::SleepStage)>, ApiError> {
    readings_of(
        state,
        principal,
        patient,
        Metric::SleepStage,
        from,
        to,
        |t, value| match value {
            Reading::SleepStage(stage) => Some((t, stage)),
            _ => None,
        },
    )
    .await
}

/// Every reading of `patient`'s `metric` in `[from, to]`, paged through the store, kept
/// where `pick` (given its time in ms and value) returns something.
async fn readings_of<T>(
    state: &AppState,
    principal: &Principal,
    patient: &PatientId,
    metric: Metric,
    from: i64,
    to: i64,
    pick: impl Fn(i64, Reading) -> Option<T>,
) -> Result<Vec<T>, ApiError> {
    let ts = |t: i64, f: &'static str| {
        Timestamp::new(t).map_err(|e| ApiError::field(f, "invalid_parameter", e.message))
    };
    let mut query = ReadingQuery {
        patient: patient.clone(),
        metric: Some(metric),
        metrics: None,
        sections: None,
        from: ts(from.max(0), "from")?,
        to: ts(to, "to")?,
        after: None,
        limit: 10_000,
        keys: crate::sealing::reader_keys(state, principal).await?,
    };
    let mut out = Vec::new();
    loop {
        let page = state.store.readings(&query).await?;
        out.extend(
            page.readings
                .iter()
                .filter_map(|r| pick(r.t.millis(), r.value)),
        );
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(out),
        }
    }
}

/// Query of `GET /patients/{id}/series`.
#[derive(Debug, Deserialize)]
pub(crate) struct SeriesParams {
    metric: String,
    #[serde(default)]
    from: Option<i64>,
    #[serde(default)]
    to: Option<i64>,
    #[serde(default)]
    points: Option<usize>,
}

/// Widths of merged rollup buckets, in minutes.
const BUCKET_WIDTHS_MIN: [i64; 7] = [1, 5, 10, 15, 30, 60, 240];

/// Most points a chart may ask for.
const MAX_POINTS: usize = 10_000;

/// A metric over time, at most `points` points (LTTB, Steinarsson 2013). Wide ranges are
/// read from the per-minute rollups kept at ingest, merged by the database into buckets at
/// most half a point wide (each bucket's mean), so 30 days of 1 Hz readings cost a few
/// thousand rows, not 2.6 million.
pub(crate) async fn series(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(params): Query<SeriesParams>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    let metric = parse_metric(&params.metric)?;
    let (action, permit) = metric_permit(&state, &principal, &patient, metric).await?;
    let to = params.to.unwrap_or_else(now_ms);
    let from = params.from.unwrap_or(to - 86_400_000);
    if from > to {
        return Err(ApiError::field(
            "from",
            "invalid_parameter",
            "from must not be after to",
        ));
    }
    let points = params.points.unwrap_or(1000);
    if !(3..=MAX_POINTS).contains(&points) {
        return Err(ApiError::field(
            "points",
            "invalid_parameter",
            format!("points is 3 to {MAX_POINTS}"),
        ));
    }
    let per_point = (to - from) / points as i64;
    let (source, all): (&str, Vec<Sample>) = if per_point >= 60_000 {
        // Buckets at most half a point wide, so LTTB still has shape to keep.
        let width = BUCKET_WIDTHS_MIN
            .iter()
            .rev()
            .map(|m| m * 60_000)
            .find(|w| *w <= per_point / 2)
            .unwrap_or(60_000);
        let buckets = state
            .store
            .rollups_grouped(&patient, metric, from, to, width)
            .await?;
        (
            "rollup_means",
            buckets
                .iter()
                .map(|b| Sample::new(b.bucket + width / 2, b.mean()))
                .collect(),
        )
    } else {
        (
            "readings",
            samples(&state, &principal, &patient, metric, from, to).await?,
        )
    };
    let shown = lttb(&all, points);
    log_access(
        &state,
        &principal,
        &patient,
        action,
        &permit,
        format!(
            "series {} {from}..{to}: {} points",
            metric.name(),
            shown.len()
        ),
    )
    .await?;
    let data: Vec<[f64; 2]> = shown.iter().map(|s| [s.t as f64, s.value]).collect();
    Ok(Json(json!({
        "metric": metric,
        "unit": metric.spec().unit,
        "source": source,
        "source_points": all.len(),
        "points": data,
    })))
}

/// Query of `GET /patients/{id}/summary`.
#[derive(Debug, Deserialize)]
pub(crate) struct SummaryParams {
    /// The local day, `YYYY-MM-DD` (default: today).
    #[serde(default)]
    day: Option<String>,
    /// The patient's offset from UTC in minutes (default 0).
    #[serde(default)]
    utc_offset_minutes: Option<i32>,
    /// The step goal for streaks (default 8,000).
    #[serde(default)]
    step_goal: Option<f64>,
}

fn parse_day(text: &str) -> Option<Day> {
    let mut parts = text.splitn(3, '-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.parse().ok()?;
    Day::from_ymd(y, m, d)
}

/// Daily values of a metric from the minute rollups: totals for counts, means otherwise.
fn daily_values(buckets: &[RollupBucket], metric: Metric, offset: UtcOffset) -> Vec<(Day, f64)> {
    let mut days: BTreeMap<Day, RollupBucket> = BTreeMap::new();
    for b in buckets {
        days.entry(Day::containing(b.bucket, offset))
            .and_modify(|d| d.merge(b))
            .or_insert(*b);
    }
    days.into_iter()
        .map(|(day, b)| {
            (
                day,
                if metric == Metric::Steps {
                    b.sum
                } else {
                    b.mean()
                },
            )
        })
        .collect()
}

/// The analyses of one day, each with its method, and the day in plain language.
pub(crate) async fn summary(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(params): Query<SummaryParams>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    let offset = UtcOffset::from_minutes(params.utc_offset_minutes.unwrap_or(0))
        .map_err(|e| ApiError::field("utc_offset_minutes", "invalid_parameter", e.to_string()))?;
    let day = match &params.day {
        Some(text) => parse_day(text)
            .ok_or_else(|| ApiError::field("day", "invalid_parameter", "a day is YYYY-MM-DD"))?,
        None => Day::containing(now_ms(), offset),
    };
    let (start, end) = (day.start_ms(offset), day.start_ms(offset) + 86_400_000 - 1);
    let profile = state.store.profile(&patient).await?;

    // Each metric is read only if the caller may read it; the rest are left out.
    let mut day_samples: BTreeMap<Metric, Vec<Sample>> = BTreeMap::new();
    let mut history: BTreeMap<Metric, Vec<(Day, f64)>> = BTreeMap::new();
    let mut left_out = Vec::new();
    for metric in Metric::all() {
        match metric_permit(&state, &principal, &patient, metric).await {
            Ok((action, permit)) => {
                let s = samples(&state, &principal, &patient, metric, start, end).await?;
                let past = state
                    .store
                    .rollups(&patient, metric, start - 30 * 86_400_000, end)
                    .await?;
                if !s.is_empty() || !past.is_empty() {
                    log_access(
                        &state,
                        &principal,
                        &patient,
                        action,
                        &permit,
                        format!("summary of {} on {day}", metric.name()),
                    )
                    .await?;
                }
                history.insert(metric, daily_values(&past, metric, offset));
                day_samples.insert(metric, s);
            }
            Err(_) => left_out.push(metric.name()),
        }
    }
    if day_samples.is_empty() {
        return Err(ApiError::denied(
            "not_permitted",
            "no metric of this patient may be read",
        ));
    }
    let get = |m: Metric| day_samples.get(&m).map(Vec::as_slice).unwrap_or(&[]);

    let mut metrics = serde_json::Map::new();
    for (metric, s) in &day_samples {
        if s.is_empty() {
            continue;
        }
        let interval = median_gap(s).clamp(1_000, 3_600_000);
        let config = DailyConfig::new(offset, interval).map_err(|e| {
            ApiError::field("utc_offset_minutes", "invalid_parameter", e.to_string())
        })?;
        if let Some(d) = daily_summaries(s, &config)
            .days
            .into_iter()
            .find(|d| d.day == day)
        {
            metrics.insert(metric.name().to_owned(), json!(d));
        }
    }

    let mut facts = DayFacts::new(day);
    let steps = daily_steps(get(Metric::Steps), offset)
        .into_iter()
        .find(|d| d.day == day);
    facts.steps = steps.as_ref().map(|d| d.steps);
    facts.step_goal = Some(params.step_goal.unwrap_or(8_000.0));
    let resting = resting_heart_rate(get(Metric::HeartRate), None, &RestingHrConfig::default());
    facts.resting_hr_bpm = resting.as_ref().map(|r| r.bpm);
    let rr: Vec<f64> = get(Metric::RrInterval).iter().map(|s| s.value).collect();
    let hrv = hrv_from_rr(&rr, &ArtefactFilter::STANDARD);
    facts.rmssd_ms = hrv.as_ref().and_then(|h| h.rmssd_ms);
    let spo2 = (!get(Metric::Spo2).is_empty())
        .then(|| desaturations(get(Metric::Spo2), &DesaturationConfig::default()));
    facts.odi = spo2.as_ref().and_then(|r| r.odi);
    let bp = pair_readings(
        get(Metric::BloodPressureSystolic),
        get(Metric::BloodPressureDiastolic),
    );
    facts.blood_pressure = bp.last().copied();
    let temperature_history: Vec<Sample> = history
        .get(&Metric::BodyTemperature)
        .map(|days| {
            days.iter()
                .map(|(d, v)| Sample::new(d.start_ms(offset) + 43_200_000, *v))
                .collect()
        })
        .unwrap_or_default();
    let deviation = temperature_deviations(
        &temperature_history,
        &TemperatureConfig {
            offset,
            ..TemperatureConfig::default()
        },
    )
    .into_iter()
    .find(|t| t.day == day);
    facts.temperature_deviation_c = deviation.as_ref().and_then(|t| t.deviation);
    let mut trends = serde_json::Map::new();
    for (metric, daily) in &history {
        for anomaly in daily_anomalies(daily, &AnomalyConfig::default()) {
            if anomaly.day == day {
                facts.anomalies.push(MetricAnomaly {
                    metric: *metric,
                    anomaly,
                });
            }
        }
        let week = trend(daily, day, &TrendConfig::WEEK);
        let month = trend(daily, day, &TrendConfig::MONTH);
        if week.is_some() || month.is_some() {
            trends.insert(
                metric.name().to_owned(),
                json!({ "week": week, "month": month }),
            );
        }
    }
    // Sleep ending on the day: read from noon the day before.
    let sleep = if day_samples.contains_key(&Metric::SleepStage) {
        let night = stages(&state, &principal, &patient, start - 12 * 3_600_000, end).await?;
        let episodes = sleep_episodes(&night, &SleepConfig::default());
        sleep_by_day(&episodes, offset)
            .into_iter()
            .find(|s| s.day == day)
    } else {
        None
    };
    facts.sleep = sleep;
    let resting_for_zones = profile.resting_hr.or(facts.resting_hr_bpm);
    let zones = match (profile.birth_year, resting_for_zones) {
        (Some(year), Some(rest)) => HeartRateReserve::from_profile(year, rest, day)
            .ok()
            .map(|r| r.zones()),
        _ => None,
    };
    let narrative = describe_day(&facts);
    Ok(Json(json!({
        "patient": patient,
        "day": day.to_string(),
        "utc_offset_minutes": params.utc_offset_minutes.unwrap_or(0),
        "metrics": metrics,
        "steps": steps.map(|s| json!({ "total": s.steps, "class": StepBands::VITALIS.classify(s.steps).map(|c| c.label()) })),
        "resting_heart_rate": resting,
        "hrv": hrv,
        "heart_rate_zones": zones,
        "sleep": sleep.map(|s| json!({
            "episodes": s.episodes,
            "asleep_ms": s.asleep_ms(),
            "efficiency": s.efficiency(),
            "stages": s.stages,
        })),
        "spo2": spo2.map(|r| json!({ "events": r.events.len(), "odi": r.odi })),
        "blood_pressure": mean_category(&bp).map(|(s, d, c)| json!({ "systolic": s, "diastolic": d, "category": c.label() })),
        "temperature": deviation,
        "anomalies": facts.anomalies,
        "trends": trends,
        "text": narrative.text,
        "facts": narrative.facts,
        "left_out": left_out,
    })))
}

fn median_gap(s: &[Sample]) -> i64 {
    let mut gaps: Vec<i64> = s
        .windows(2)
        .map(|w| (w[1].t - w[0].t).abs())
        .filter(|g| *g > 0)
        .collect();
    if gaps.is_empty() {
        return 60_000;
    }
    gaps.sort_unstable();
    gaps[gaps.len() / 2]
}

/// The profile analysis uses (birth year, sex, resting heart rate).
pub(crate) async fn get_profile(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Profile>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageSettings, &patient).await?;
    Ok(Json(state.store.profile(&patient).await?))
}

/// Replaces the profile.
pub(crate) async fn put_profile(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(profile): Json<Profile>,
) -> Result<Json<Profile>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageSettings, &patient).await?;
    principal.require_scope("write")?;
    let this_year = 1970 + now_ms() / 31_556_952_000;
    if profile
        .birth_year
        .is_some_and(|y| i64::from(y) < 1900 || i64::from(y) > this_year)
    {
        return Err(ApiError::field(
            "birth_year",
            "invalid_parameter",
            "a birth year from 1900 to this year",
        ));
    }
    if profile
        .sex
        .as_deref()
        .is_some_and(|s| !["female", "male", "other"].contains(&s))
    {
        return Err(ApiError::field(
            "sex",
            "invalid_parameter",
            "female, male or other",
        ));
    }
    if profile
        .resting_hr
        .is_some_and(|r| !(25.0..=150.0).contains(&r))
    {
        return Err(ApiError::field(
            "resting_hr",
            "invalid_parameter",
            "a resting heart rate of 25 to 150 /min",
        ));
    }
    state.store.set_profile(&patient, &profile).await?;
    Ok(Json(profile))
}

/// Who may set a patient's alert rules: the patient, or a hospital with write consent.
async fn may_set_alerts(
    state: &AppState,
    principal: &Principal,
    patient: &PatientId,
) -> Result<(), ApiError> {
    principal.require_scope("write")?;
    if principal.role == Role::Patient {
        authorize(state, principal, Action::ManageSettings, patient)
            .await
            .map(|_| ())
    } else {
        authorize(state, principal, Action::WriteClinical, patient)
            .await
            .map(|_| ())
    }
}

/// `POST /patients/{id}/alert-rules` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRule {
    kind: String,
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    threshold: Option<f64>,
    #[serde(default)]
    minutes: Option<u32>,
    #[serde(default)]
    webhook: Option<String>,
}

pub(crate) async fn create_rule(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<NewRule>,
) -> Result<(StatusCode, Json<AlertRule>), ApiError> {
    let patient = patient_of(&id)?;
    may_set_alerts(&state, &principal, &patient).await?;
    let kind = AlertKind::from_name(&body.kind).ok_or_else(|| {
        ApiError::field(
            "kind",
            "invalid_parameter",
            "kind is above, below, offline or anomaly",
        )
    })?;
    let (metric, threshold, minutes) = match kind {
        AlertKind::Anomaly => (
            Some(parse_metric(body.metric.as_deref().unwrap_or(""))?),
            None,
            None,
        ),
        AlertKind::Offline => {
            let minutes = body
                .minutes
                .filter(|m| (1..=10_080).contains(m))
                .ok_or_else(|| {
                    ApiError::field(
                        "minutes",
                        "invalid_parameter",
                        "minutes without an upload: 1 to 10080",
                    )
                })?;
            (None, None, Some(minutes))
        }
        AlertKind::Above | AlertKind::Below => {
            let metric = parse_metric(body.metric.as_deref().unwrap_or(""))?;
            let spec = metric.spec();
            let threshold = body
                .threshold
                .filter(|t| t.is_finite() && *t >= spec.min && *t <= spec.max)
                .ok_or_else(|| {
                    ApiError::field(
                        "threshold",
                        "invalid_parameter",
                        format!(
                            "a threshold within {}..={} {}",
                            spec.min, spec.max, spec.unit
                        ),
                    )
                })?;
            (Some(metric), Some(threshold), None)
        }
    };
    if let Some(url) = &body.webhook
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(ApiError::field(
            "webhook",
            "invalid_parameter",
            "a webhook is an http(s) URL",
        ));
    }
    let rule = AlertRule {
        id: format!("ar{}", uuid_like()),
        patient,
        kind,
        metric,
        threshold,
        minutes,
        webhook: body.webhook,
        created_by: principal.account()?.id.clone(),
        created_at: now_ms(),
    };
    state.store.put_alert_rule(&rule).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

fn uuid_like() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(crate) async fn list_rules(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageSettings, &patient).await?;
    Ok(Json(
        json!({ "rules": state.store.alert_rules(&patient).await? }),
    ))
}

pub(crate) async fn delete_rule(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, rule)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let patient = patient_of(&id)?;
    may_set_alerts(&state, &principal, &patient).await?;
    if state
        .store
        .delete_alert_rule(&patient, &rule, now_ms())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// The patient's alert history.
pub(crate) async fn list_alerts(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageSettings, &patient).await?;
    Ok(Json(
        json!({ "alerts": state.store.alerts(&patient, 500).await? }),
    ))
}

/// Acknowledges an alert.
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, alert)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let patient = patient_of(&id)?;
    authorize(&state, &principal, Action::ManageSettings, &patient).await?;
    principal.require_scope("write")?;
    if state
        .store
        .acknowledge_alert(&patient, &alert, now_ms())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

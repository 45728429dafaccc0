//! `GET /api/v1/patients/{id}/live`: Server-Sent Events of the patient's new readings.
//!
//! Each committed upload becomes one `readings` event whose data is
//! `{"device": …, "readings": [{"metric", "t", "value", "unit", "section"}]}`. A client too
//! slow to keep up gets a `lagged` event with the number of uploads it missed (the history
//! is in the read API). Alerts of the patient's rules arrive on the same stream as
//! `alert` events whose data is the stored alert.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Serialize;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use vitalis_ingest::LiveBatch;
use vitalis_model::{DeviceId, Section};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::read::ReadingView;

#[derive(Serialize)]
struct LiveReading<'a> {
    #[serde(flatten)]
    reading: ReadingView<'a>,
    section: Section,
}

#[derive(Serialize)]
struct LiveEvent<'a> {
    device: &'a DeviceId,
    readings: Vec<LiveReading<'a>>,
}

fn event_of(batch: &LiveBatch) -> Event {
    let readings = batch
        .readings
        .iter()
        .map(|(section, r)| LiveReading {
            reading: ReadingView {
                metric: r.metric(),
                t: r.t().millis(),
                value: r.value(),
                unit: r.metric().spec().unit,
                device: None,
                record: None,
            },
            section: *section,
        })
        .collect();
    let data = LiveEvent {
        device: &batch.device,
        readings,
    };
    Event::default()
        .event("readings")
        .json_data(data)
        .unwrap_or_else(|_| Event::default().comment("unencodable"))
}

pub(crate) async fn stream(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Path(id) = path?;
    let me = crate::routes::read::patient_of(&id)?;
    // The live stream carries both sections unfiltered: the patient's own view only.
    if principal.role != vitalis_access::Role::Patient || principal.patient.as_ref() != Some(&me) {
        return Err(ApiError::denied(
            "not_own_data",
            "the live stream is the patient's own view",
        ));
    }
    let permit = crate::permit::authorize(
        &state,
        &principal,
        vitalis_access::Action::ReadProtected,
        &me,
    )
    .await?;
    crate::permit::log_access(
        &state,
        &principal,
        &me,
        vitalis_access::Action::ReadProtected,
        &permit,
        "live stream opened".to_owned(),
    )
    .await?;
    let alerts_for = me.clone();
    let events =
        BroadcastStream::new(state.pipeline.subscribe()).filter_map(move |item| match item {
            Ok(batch) if batch.patient == me => Some(Ok(event_of(&batch))),
            Ok(_) => None,
            Err(BroadcastStreamRecvError::Lagged(missed)) => Some(Ok(Event::default()
                .event("lagged")
                .data(missed.to_string()))),
        });
    let alerts: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        match &state.alerter {
            Some(alerter) => {
                Box::pin(
                    BroadcastStream::new(alerter.subscribe()).filter_map(move |item| match item {
                        Ok(alert) if alert.patient == alerts_for => Some(Ok(Event::default()
                            .event("alert")
                            .json_data(alert.as_ref())
                            .unwrap_or_else(|_| Event::default().comment("unencodable")))),
                        _ => None,
                    }),
                )
            }
            None => Box::pin(futures::stream::empty()),
        };
    Ok(Sse::new(events.merge(alerts))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

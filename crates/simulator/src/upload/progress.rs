//! A running progress line on standard output.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{MissedTickBehavior, interval};

use super::counters::Counters;
use super::device::stopped;

/// The shortest reporting period; shorter ones are raised to it.
const MIN_PERIOD: Duration = Duration::from_millis(100);

/// Prints `simulate: 12 devices · 10,240 readings generated · 10,200 sent · 10,200
/// acknowledged · 0 rejected · 3 retries` every `every` until `stop` holds `true`, then
/// once more with the final figures.
///
/// On a terminal the line is rewritten in place; otherwise one line is printed per
/// period. Signal `stop` after [`super::run`] returns so the last line is complete.
pub async fn report_progress(
    counters: Arc<Counters>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = interval(every.max(MIN_PERIOD));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticks.tick().await; // The first tick is immediate; there is nothing to show yet.
    let in_place = std::io::stdout().is_terminal();
    loop {
        let last = tokio::select! {
            _ = ticks.tick() => false,
            () = stopped(&mut stop) => true,
        };
        print_line(
            &format!("simulate: {}", counters.snapshot()),
            in_place,
            last,
        );
        if last {
            return;
        }
    }
}

fn print_line(line: &str, in_place: bool, last: bool) {
    let mut out = std::io::stdout().lock();
    // A progress line that cannot be printed is not worth failing the run for.
    let _ = if in_place {
        // Carriage return and "erase line", so a shorter line leaves no residue.
        write!(out, "\r\x1b[2K{line}{}", if last { "\n" } else { "" })
    } else {
        writeln!(out, "{line}")
    };
    let _ = out.flush();
}

//! Who used the cores during a run: this process (load generator and, for the embedded
//! targets, the node), anvil, and everything else on the machine. A run during which
//! other processes were busy is not comparable with one during which they were not, so
//! every result says so (from `/proc`; Linux's 100 clock ticks a second).

use std::time::Instant;

/// Clock ticks a second of the `/proc` CPU counters (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU counters at one instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuSample {
    at: Instant,
    machine: u64,
    own: u64,
    child: u64,
}

/// Average cores used over an interval.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuUse {
    /// This process.
    pub(crate) own: f64,
    /// The child process measured (anvil), if any.
    pub(crate) child: f64,
    /// Everything else.
    pub(crate) other: f64,
}

/// Busy ticks of all cores together (`/proc/stat`: user, nice, system, irq, softirq, steal).
fn machine_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let busy = |i: usize| fields.get(i).copied().unwrap_or(0);
    Some(busy(0) + busy(1) + busy(2) + busy(5) + busy(6) + busy(7))
}

/// User and system ticks of a process (`/proc/PID/stat` fields 14 and 15).
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

impl CpuSample {
    /// Reads the counters now; `child` is a process to account for apart.
    pub(crate) fn now(child: Option<u32>) -> CpuSample {
        CpuSample {
            at: Instant::now(),
            machine: machine_ticks().unwrap_or(0),
            own: process_ticks(std::process::id()).unwrap_or(0),
            child: child.and_then(process_ticks).unwrap_or(0),
        }
    }

    /// Average cores used from `self` to `later`.
    pub(crate) fn until(&self, later: &CpuSample) -> CpuUse {
        let seconds = later.at.duration_since(self.at).as_secs_f64().max(1e-3);
        let cores = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / seconds;
        let own = later.own.saturating_sub(self.own);
        let child = later.child.saturating_sub(self.child);
        let machine = later.machine.saturating_sub(self.machine);
        CpuUse {
            own: cores(own),
            child: cores(child),
            other: cores(machine.saturating_sub(own + child)),
        }
    }
}

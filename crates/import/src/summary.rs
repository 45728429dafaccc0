//! Counting what an import took and skipped, and the [`Importer`] trait every format's
//! stream implements.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::Result;
use crate::item::{Item, Skip, SkipReason};

/// How many skipped values of each reason a summary keeps as examples.
pub const EXAMPLES_PER_REASON: usize = 3;

/// Readings taken and values skipped so far, per reason, with the first few examples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    taken: u64,
    skipped: BTreeMap<SkipReason, SkipTally>,
}

/// The skipped values of one reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipTally {
    /// How many.
    pub count: u64,
    /// The first [`EXAMPLES_PER_REASON`] of them.
    pub examples: Vec<Skip>,
}

impl Summary {
    /// Counts one item.
    pub fn record(&mut self, item: &Item) {
        match item {
            Item::Reading(_) => self.taken += 1,
            Item::Skipped(skip) => {
                let tally = self.skipped.entry(skip.reason).or_default();
                tally.count += 1;
                if tally.examples.len() < EXAMPLES_PER_REASON {
                    tally.examples.push(skip.clone());
                }
            }
        }
    }

    /// Readings taken.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// Values skipped for `reason`.
    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skipped.get(&reason).map_or(0, |t| t.count)
    }

    /// Values skipped for any reason.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().map(|t| t.count).sum()
    }

    /// The tally of `reason`, if anything was skipped for it.
    pub fn tally(&self, reason: SkipReason) -> Option<&SkipTally> {
        self.skipped.get(&reason)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} taken, {} skipped", self.taken, self.skipped_total())?;
        for (reason, tally) in &self.skipped {
            write!(f, "\n  {reason}: {}", tally.count)?;
            for example in &tally.examples {
                write!(f, "\n    e.g. {}: {}", example.at, example.detail)?;
            }
        }
        Ok(())
    }
}

/// A stream of import items that keeps its own [`Summary`].
///
/// The stream yields `Ok` items until the input ends; if the input cannot be read to its
/// end, the last item is the `Err` saying where it stopped, and the stream then ends.
pub trait Importer: Iterator<Item = Result<Item>> {
    /// What has been taken and skipped so far.
    fn summary(&self) -> &Summary;
}

/// Keeps a stream's summary and ends it after its first error.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    summary: Summary,
    done: bool,
}

impl Tracker {
    pub(crate) fn done(&self) -> bool {
        self.done
    }

    pub(crate) fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Passes `next` through, counting it; after `None` or an error, the stream is over.
    pub(crate) fn track(&mut self, next: Option<Result<Item>>) -> Option<Result<Item>> {
        match &next {
            Some(Ok(item)) => self.summary.record(item),
            Some(Err(_)) | None => self.done = true,
        }
        next
    }
}

/// Implements `Iterator` and [`Importer`] for a stream type with a `tracker: Tracker`
/// field and a `fn next_item(&mut self) -> Option<Result<Item>>` method.
macro_rules! importer {
    ($ty:ident $(<$($gen:ident : $bound:path),+>)?) => {
        impl$(<$($gen: $bound),+>)? Iterator for $ty$(<$($gen),+>)? {
            type Item = $crate::error::Result<$crate::item::Item>;

            fn next(&mut self) -> Option<Self::Item> {
                if self.tracker.done() {
                    return None;
                }
                let next = self.next_item();
                self.tracker.track(next)
            }
        }

        impl$(<$($gen: $bound),+>)? $crate::summary::Importer for $ty$(<$($gen),+>)? {
            fn summary(&self) -> &$crate::summary::Summary {
                self.tracker.summary()
            }
        }
    };
}
pub(crate) use importer;

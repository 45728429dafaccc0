//! The two sections every record belongs to (DESIGN.md §1).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which section a record belongs to.
///
/// `Protected` records are to be encrypted at rest (the sealing step arrives with the
/// sealed-records work; until then they are stored plain and access-controlled like open
/// ones). `Open` records are stored plain and access-controlled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Vital signs, sleep, R-R intervals, clinical results.
    Protected,
    /// Activity and location, unless the patient moves them to protected.
    Open,
}

impl Section {
    /// Stable wire name.
    pub fn name(self) -> &'static str {
        match self {
            Section::Protected => "protected",
            Section::Open => "open",
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<Section> {
        match name {
            "protected" => Some(Section::Protected),
            "open" => Some(Section::Open),
            _ => None,
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

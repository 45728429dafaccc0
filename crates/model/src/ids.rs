//! Identifiers of patients, devices and records: short opaque strings, checked on
//! construction so they are safe in URLs, logs and file names.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An identifier was empty, too long, or used characters outside `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id {value:?}: use 1 to 64 of A-Z, a-z, 0-9, '_' and '-'")]
pub struct InvalidId {
    /// Which kind of id.
    pub kind: &'static str,
    /// The refused text.
    pub value: String,
}

fn check_id(kind: &'static str, value: &str) -> Result<(), InvalidId> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(InvalidId {
            kind,
            value: value.to_owned(),
        })
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps an id.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                check_id($kind, &value)?;
                Ok($name(value))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, InvalidId> {
                $name::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A patient's pseudonymous id.
    PatientId,
    "patient"
);
id_type!(
    /// A device's id (a watch, phone app or gateway bound to one patient).
    DeviceId,
    "device"
);
id_type!(
    /// A record's id.
    RecordId,
    "record"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(PatientId::new("p-0189ab_C").is_ok());
        assert!(PatientId::new("").is_err());
        assert!(DeviceId::new("a/b").is_err());
        assert!(RecordId::new("x".repeat(65)).is_err());
        assert!(serde_json::from_str::<DeviceId>("\"../etc\"").is_err());
    }
}

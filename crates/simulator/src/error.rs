//! Why a simulation could not run.

/// Why [`crate::upload::run`] could not run. Failed uploads are not errors: they are
/// retried or counted (see [`crate::upload::Counters`]).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The server base URL does not give a valid endpoint URL.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidServer {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A device token cannot be sent in an HTTP header (not visible ASCII).
    #[error("the token of device {device} is not valid in an HTTP header")]
    InvalidToken {
        /// Index of the device in the list passed to `run`.
        device: usize,
    },
    /// The upload interval is zero.
    #[error("the upload interval must be longer than zero")]
    ZeroInterval,
    /// The batch size limit is zero.
    #[error("the largest batch must hold at least one reading")]
    ZeroBatch,
    /// No devices to simulate.
    #[error("no devices to simulate")]
    NoDevices,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// A device task panicked or was cancelled.
    #[error("a device task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// Result of the simulator's fallible operations.
pub type Result<T> = std::result::Result<T, SimError>;

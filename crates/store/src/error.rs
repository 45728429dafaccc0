//! Store errors.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed an operation.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL names a backend this build does not support.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// A referenced patient does not exist.
    #[error("unknown patient {0}")]
    UnknownPatient(String),
    /// The store was created with another supervisor key than the one given.
    #[error(
        "this store's records are committed under another supervisor key ({stored}); refusing to mix keys"
    )]
    KeyMismatch {
        /// The key the store was created with (hex).
        stored: String,
    },
    /// A unique value is taken already (the name says which, e.g. `email`).
    #[error("{0} is already taken")]
    Conflict(String),
    /// The request cannot be stored as it is.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A protected record is sealed and the reader holds no key that opens it.
    #[error("record {record} is sealed and the reader's keys do not open it")]
    Sealed {
        /// The record.
        record: String,
    },
    /// Stored data could not be read back (a bug or outside tampering).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

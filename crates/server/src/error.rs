//! [`ApiError`]: every refusal the API gives, as a status and a stable JSON body
//! `{"error": {"code", "message", "field", "index"}}`. Internal details are logged once
//! and never sent.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vitalis_ingest::IngestError;
use vitalis_store::StoreError;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The upload was refused or could not be stored.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// No bearer token, or one that matches nobody.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// Authenticated, but not allowed to see this.
    #[error("this token may not access that resource")]
    Forbidden,
    /// No such route or resource.
    #[error("not found")]
    NotFound,
    /// The route exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request body exceeds the limit.
    #[error("the request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A query parameter is invalid.
    #[error("{message}")]
    BadParameter {
        /// Stable code.
        code: &'static str,
        /// The parameter.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The store failed; details are logged, not sent.
    #[error("internal error")]
    Store(#[from] StoreError),
    /// Any other refusal with its own status and stable code (denied by the permission
    /// matrix, a bad sign-in, a conflict, too many attempts, a bad request field).
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: StatusCode,
        /// Stable code.
        code: &'static str,
        /// What is wrong, for people.
        message: String,
        /// The request field at fault, if one is.
        field: Option<&'static str>,
    },
}

impl ApiError {
    /// A refusal with `status` and `code`.
    pub fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Refused {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A 400 about one request field.
    pub fn field(field: &'static str, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Refused {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
            field: Some(field),
        }
    }

    /// A 403 with a stable code.
    pub fn denied(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::refused(StatusCode::FORBIDDEN, code, message)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
    field: Option<String>,
    index: Option<usize>,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Ingest(IngestError::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Ingest(IngestError::BatchTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Ingest(IngestError::MalformedJson { .. }) => StatusCode::BAD_REQUEST,
            ApiError::Ingest(IngestError::InvalidIdempotencyKey) => StatusCode::BAD_REQUEST,
            ApiError::Ingest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::Store(StoreError::Sealed { .. }) => StatusCode::FORBIDDEN,
            ApiError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Refused { status, .. } => *status,
        }
    }

    fn detail(&self) -> Detail<'_> {
        let (code, field, index) = match self {
            ApiError::Ingest(e) => (e.code(), e.field(), e.index()),
            ApiError::Unauthorized => ("unauthorized", Some("Authorization".into()), None),
            ApiError::Forbidden => ("forbidden", None, None),
            ApiError::NotFound => ("not_found", None, None),
            ApiError::MethodNotAllowed => ("method_not_allowed", None, None),
            ApiError::BodyTooLarge { .. } => ("body_too_large", None, None),
            ApiError::BadParameter { code, field, .. } => (*code, Some((*field).to_owned()), None),
            ApiError::Store(StoreError::Sealed { .. }) => ("sealed", None, None),
            ApiError::Store(_) => ("unavailable", None, None),
            ApiError::Refused { code, field, .. } => (*code, field.map(str::to_owned), None),
        };
        let message = match self {
            ApiError::Ingest(e) => e.message(),
            ApiError::Store(StoreError::Sealed { record }) => format!(
                "record {record} is sealed, and this caller holds no key that opens it \
                 (sign in again, or ask the patient for consent)"
            ),
            other => other.to_string(),
        };
        Detail {
            code,
            message,
            field,
            index,
        }
    }
}

// axum's own rejections answer in plain text; these keep every refusal in the JSON shape.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadParameter {
            code: "invalid_parameter",
            field: "id",
            message: rejection.body_text(),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadParameter {
            code: "invalid_parameter",
            field: "query",
            message: rejection.body_text(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Store(err) = &self
            && !matches!(err, StoreError::Sealed { .. })
        {
            tracing::error!(error = %err, "store failure while serving a request");
        }
        let status = self.status();
        let mut response = (
            status,
            Json(Body {
                error: self.detail(),
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            tracing::info!(
                status = status.as_u16(),
                code = self.detail().code,
                "refused"
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

//! The failure of a control-plane or signaling-API operation: an AWS exception and its message.

use kvs_proto::api::ErrorCode;

/// An operation's failure: the AWS exception and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Which exception.
    pub code: ErrorCode,
    /// Its message.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(
            ErrorCode::ResourceNotFound,
            format!("The requested channel is not found or not active: {what}"),
        )
    }
}

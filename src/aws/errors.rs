//! AWS error codes, where callers branch on them.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The AWS error code of a failed call, if the service sent one.
pub fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// Whether the call failed because the resource does not exist.
pub fn is_not_found<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    code(err).is_some_and(|c| c.contains("NotFound") || c == "NoSuchEntity" || c == "ResourceNotFoundException")
}

/// `Code: message` of a failed call, for people.
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> String {
    match err {
        SdkError::ServiceError(e) => {
            let e = e.err();
            match (e.code(), e.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            // The innermost cause says what happened ("Connection refused");
            // the layers above it only repeat where.
            let mut cause: &dyn std::error::Error = err;
            while let Some(next) = cause.source() {
                cause = next;
            }
            let kind = if matches!(err, SdkError::TimeoutError(_)) {
                "timed out"
            } else {
                "could not reach AWS"
            };
            format!("{kind}: {cause}")
        }
        other => aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
    }
}

/// A failed AWS call: the operation, AWS's error code and message.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.message)
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    pub fn is_not_found(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.contains("NotFound") || c == "NoSuchEntity" || c == "ResourceNotFoundException")
    }
}

/// Whether an error anywhere in the chain is this AWS error code.
pub fn has_code(err: &anyhow::Error, code: &str) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<AwsError>()
            .is_some_and(|a| a.code.as_deref() == Some(code))
    })
}

/// Whether an error anywhere in the chain says "not found".
pub fn is_not_found_error(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<AwsError>().is_some_and(|a| a.is_not_found()))
}

/// Converts SDK results into errors that name the operation and AWS's code.
pub trait AwsResultExt<T> {
    fn aws(self, operation: &str) -> anyhow::Result<T>;
    /// As [`AwsResultExt::aws`], naming the resource the call was about.
    fn aws_on(self, operation: &str, resource: &str) -> anyhow::Result<T>;
}

impl<T, E, R> AwsResultExt<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn aws(self, operation: &str) -> anyhow::Result<T> {
        self.map_err(|e| {
            anyhow::Error::new(AwsError {
                operation: operation.to_string(),
                code: code(&e).map(str::to_string),
                message: describe(&e),
            })
        })
    }

    fn aws_on(self, operation: &str, resource: &str) -> anyhow::Result<T> {
        self.aws(&format!("{operation} on {resource}"))
    }
}

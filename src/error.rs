//! AWS errors as values the rest of the program can classify: the error
//! code AWS sent (e.g. `DependencyViolation`) and its message.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone)]
pub struct AwsError {
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(c) => write!(f, "{c}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for AwsError {}

/// Converts an SDK error, keeping AWS's error code.
pub fn aws<E>(e: SdkError<E, HttpResponse>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = e.code().map(str::to_string);
    let message = match (&e, e.message()) {
        (SdkError::ServiceError(_), Some(m)) => m.to_string(),
        // An answer that is not an AWS error document (a proxy, a crashed
        // emulator): say what came back, briefly.
        (SdkError::ServiceError(se), None) => {
            let raw = se.raw();
            let body = String::from_utf8_lossy(raw.body().bytes().unwrap_or_default());
            let body: String = body.chars().take(200).collect();
            format!("HTTP {} with no AWS error code: {}", raw.status().as_u16(), body.trim())
        }
        // Dispatch, timeout and response errors: the chain of causes, each
        // once, without the Debug dump `DisplayErrorContext` appends.
        _ => causes(&e),
    };
    anyhow::Error::new(AwsError { code, message })
}

/// An error's Display and its sources' (`a: b: c`), a repeated text once.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// The AWS error code anywhere in the chain of `e`.
pub fn code(e: &anyhow::Error) -> Option<&str> {
    e.chain().find_map(|c| c.downcast_ref::<AwsError>()).and_then(|a| a.code.as_deref())
}

pub fn has_code(e: &anyhow::Error, codes: &[&str]) -> bool {
    code(e).is_some_and(|c| codes.contains(&c))
}

/// "Not found" in any of the services of the stack.
pub fn is_not_found(e: &anyhow::Error) -> bool {
    code(e).is_some_and(|c| {
        c.ends_with(".NotFound")
            || c.ends_with("NotFound")
            || matches!(
                c,
                "ResourceNotFoundException"
                    | "ResourceNotFound"
                    | "NoSuchEntity"
                    | "NoSuchBucket"
                    | "NotFoundException"
                    | "FileSystemNotFound"
                    | "MountTargetNotFound"
            )
    })
}

/// A create refused because the name it gives is taken, in any service of
/// the stack: IAM `EntityAlreadyExists`, KMS `AlreadyExistsException`, S3
/// `BucketAlreadyOwnedByYou`, EC2 `InvalidGroup.Duplicate`, SageMaker
/// `ResourceInUse` "Resource Already Exists", Network Firewall
/// `InvalidRequestException` "... already exists".
pub fn is_already_exists(e: &anyhow::Error) -> bool {
    match code(e) {
        Some(
            "EntityAlreadyExists" | "AlreadyExistsException" | "BucketAlreadyOwnedByYou" | "InvalidGroup.Duplicate",
        ) => true,
        Some("ResourceInUse" | "InvalidRequestException") => format!("{e:#}").to_lowercase().contains("already exists"),
        _ => false,
    }
}

/// A read's answer where "not found" is `None`: the one adapter finders and
/// describes use (ResourceNotFound, NoSuchEntity, `*.NotFound`: `is_not_found`).
pub fn found<T>(r: anyhow::Result<T>) -> anyhow::Result<Option<T>> {
    match r {
        Err(e) if is_not_found(&e) => Ok(None),
        r => r.map(Some),
    }
}

/// Deleting what is already gone succeeds: teardown treats gone as done.
pub fn gone_ok<T>(r: anyhow::Result<T>) -> anyhow::Result<()> {
    match r {
        Err(e) if is_not_found(&e) => Ok(()),
        r => r.map(|_| ()),
    }
}

/// Exit codes.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
/// The state is locked by another run (or a run that is gone: `force-unlock`).
pub const EXIT_LOCKED: i32 = 3;
pub const EXIT_INTERRUPTED: i32 = 130;

/// An error with its exit code.
#[derive(Debug)]
pub struct Exit(pub i32, pub String);

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.1)
    }
}
impl std::error::Error for Exit {}

/// The exit code for an error: its `Exit` code, else a failure.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    e.downcast_ref::<Exit>().map(|x| x.0).unwrap_or(EXIT_FAILED)
}

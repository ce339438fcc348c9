//! Named classifiers of transient AWS faults, each with its documented bound.
//! Throttling and 5xx are retried by the SDK itself (standard retry mode,
//! configured in `aws.rs`); these cover what the SDK does not know is
//! transient.

use std::time::Duration;

use crate::error::{code, has_code};

/// Eventual consistency right after a create: EC2 may not yet know an id it
/// just returned ("eventual consistency", EC2 API reference: up to a few
/// minutes in rare cases). Real-world time, scaled.
pub const CONSISTENCY_BOUND: Duration = Duration::from_secs(5 * 60);

/// A new IAM role cannot be assumed by a service for 10-30 s (IAM user guide,
/// "Changes that I make are not always immediately visible").
pub const IAM_PROPAGATION_BOUND: Duration = Duration::from_secs(2 * 60);

/// S3 bucket changes propagate within this: terraform-provider-aws retries
/// each bucket sub-resource call on NoSuchBucket for `bucketPropagationTimeout`
/// = 2 minutes (internal/service/s3/bucket.go, citing the S3 user guide's
/// consistency model), and `resourceBucketCreate` retries CreateBucket on
/// OperationAborted (a name whose deletion is still in progress).
pub const BUCKET_PROPAGATION_BOUND: Duration = Duration::from_secs(2 * 60);

/// How long after a client sent a request AWS may still act on it: the
/// SDK's per-attempt timeout (`aws.rs`). A create whose client died in
/// flight has landed, or never will, once this has passed. Real-world
/// time, scaled.
pub const IN_FLIGHT_BOUND: Duration = Duration::from_secs(60);

pub fn is_eventual_consistency(e: &anyhow::Error) -> bool {
    has_code(
        e,
        &[
            "InvalidVpcID.NotFound",
            "InvalidSubnetID.NotFound",
            "InvalidGroup.NotFound",
            "InvalidRouteTableID.NotFound",
            "InvalidInternetGatewayID.NotFound",
            "InvalidAllocationID.NotFound",
            "InvalidNatGatewayID.NotFound",
            "InvalidVpcEndpointId.NotFound",
            "KMSInvalidStateException",
            "NotFoundException",
        ],
    )
}

/// Throttled: AWS refused the request before acting on it, so sending it
/// again is safe. The SDK retries these itself (standard mode, 10
/// attempts, `aws.rs`), but a bucket several stacks share can stay empty
/// longer than those attempts last: five stacks at once create 55 VPC
/// endpoints against EC2's endpoint bucket (EC2 developer guide, "Request
/// throttling": RequestLimitExceeded). The calls of such buckets retry
/// these for longer (`CONSISTENCY_BOUND`). Codes: EC2's
/// RequestLimitExceeded; Throttling / ThrottlingException elsewhere.
pub fn is_throttling(e: &anyhow::Error) -> bool {
    has_code(e, &["RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException"])
}

/// Sent again past the SDK's attempts by the calls of the shared EC2
/// buckets, which are idempotent (a ClientToken, or a delete of what may be
/// gone already): throttled, or an AWS-side fault. The SDK's own retries
/// draw on a retry quota (the standard mode's token bucket) that many
/// throttled answers drain; once it is empty, the SDK stops retrying even
/// an InternalError (measured: five concurrent stacks under `--realistic
/// --throttle`, scale 0.05, an `up` failed on CreateVpcEndpoint's
/// InternalError). EC2's server errors: InternalError, Unavailable
/// ("Error codes for the Amazon EC2 API").
pub fn is_throttling_or_fault(e: &anyhow::Error) -> bool {
    is_throttling(e) || has_code(e, &["InternalError", "InternalFailure", "Unavailable", "ServiceUnavailable"])
}

/// S3 does not know a bucket it just created yet (its settings answer
/// NoSuchBucket for a moment: `BUCKET_PROPAGATION_BOUND`).
pub fn is_new_bucket_unknown(e: &anyhow::Error) -> bool {
    has_code(e, &["NoSuchBucket"])
}

/// CreateBucket of a name whose deletion is still in progress: "A conflicting
/// conditional operation is currently in progress against this resource. Try
/// again." (S3 API reference, "Error responses": OperationAborted, 409).
pub fn is_bucket_name_in_flux(e: &anyhow::Error) -> bool {
    has_code(e, &["OperationAborted"])
}

/// CreateFlowLogs before its delivery role has propagated: InvalidParameter
/// "Unable to assume given IAM role, or role does not exist"; terraform-provider-aws
/// retries exactly this for `iamPropagationTimeout` (internal/service/ec2/vpc_flow_log.go,
/// resourceLogFlowCreate: RetryWhenAWSErrMessageContains(errCodeInvalidParameter,
/// "Unable to assume given IAM role")).
pub fn is_flow_logs_role_propagation(e: &anyhow::Error) -> bool {
    has_code(e, &["InvalidParameter"]) && format!("{e:#}").contains("Unable to assume given IAM role")
}

/// SageMaker refuses a role it cannot yet assume with a ValidationException
/// naming the role; IAM refuses a policy ARN it does not yet know.
pub fn is_iam_propagation(e: &anyhow::Error) -> bool {
    match code(e) {
        Some("ValidationException") => {
            let s = format!("{e:#}");
            s.contains("assume") || s.contains("role")
        }
        Some("NoSuchEntity") => true,
        _ => false,
    }
}

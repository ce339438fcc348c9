//! The one place SDK clients are built: the standard credential and region
//! chain, an optional endpoint override (emulators: S3 then uses path-style
//! addressing), and a retry policy whose backoff is scaled like every other
//! wait (`PROVISION_TIME_SCALE`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::credential_feature::AwsCredentialFeature;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;

use crate::pace::{PacedClient, Pacer};
use crate::wait::scaled;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

#[derive(Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub nfw: aws_sdk_networkfirewall::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub iam: aws_sdk_iam::Client,
    pub efs: aws_sdk_efs::Client,
    pub sts: aws_sdk_sts::Client,
    pub quotas: aws_sdk_servicequotas::Client,
    /// The Price List Query API (`pricing_client`).
    pub pricing: aws_sdk_pricing::Client,
    /// Systems Manager, for AWS's public parameters of regions and services (`ssm_client`).
    pub ssm: aws_sdk_ssm::Client,
    /// Paces the EC2 client's requests of the actions EC2 throttled (`pace`).
    pub pacer: Arc<Pacer>,
}

/// Loads the shared SDK config. The region is whatever the chain says when
/// `--region` is not given (None if nothing does).
pub async fn load(opts: &ConnOptions) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            // Throttling and 5xx: the SDK's standard mode, with more attempts
            // than its default 3 because EC2's endpoint bucket refills slowly.
            RetryConfig::standard()
                .with_max_attempts(10)
                .with_initial_backoff(scaled(Duration::from_secs(1)))
                .with_max_backoff(scaled(Duration::from_secs(20))),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(crate::retry::IN_FLIGHT_BOUND)
                .build(),
        );
    if let Some(r) = &opts.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(u) = &opts.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let sdk = loader.load().await;
    // The chain's provider, watched: which of its sources answered is said by `credential_source`.
    match sdk.credentials_provider() {
        Some(inner) => {
            let watched = Watched { inner, profile: opts.profile.clone() };
            sdk.into_builder().credentials_provider(SharedCredentialsProvider::new(watched)).build()
        }
        None => sdk,
    }
}

/// Which source of the SDK's credential chain gave the credentials of each
/// `--profile` (None: none given), as the chain marks them
/// (`AwsCredentialFeature`, which aws-config puts on the credentials each of
/// its providers returns: environment variables, a profile, SSO, web
/// identity, the container or instance role).
static SOURCES: std::sync::Mutex<Vec<(Option<String>, Vec<AwsCredentialFeature>)>> = std::sync::Mutex::new(Vec::new());

/// The credentials provider of a connection, recording the source of what it gives.
#[derive(Debug)]
struct Watched {
    inner: SharedCredentialsProvider,
    profile: Option<String>,
}

impl ProvideCredentials for Watched {
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            let creds = self.inner.provide_credentials().await?;
            let features = creds.get_property::<Vec<AwsCredentialFeature>>().cloned().unwrap_or_default();
            let mut sources = SOURCES.lock().unwrap();
            sources.retain(|(p, _)| *p != self.profile);
            sources.push((self.profile.clone(), features));
            Ok(creds)
        })
    }
}

/// Where the credentials of `profile` (`--profile`; None: none given) came
/// from, once a call has used them: `profile dev`, `SSO (profile dev)`, `the
/// environment (AWS_ACCESS_KEY_ID)`, ... `ambient_profile` is the profile the
/// chain reads without `--profile` (`AWS_PROFILE`, else `default`).
pub fn credential_source(profile: Option<&str>, ambient_profile: &str) -> Option<String> {
    use AwsCredentialFeature as F;
    let sources = SOURCES.lock().unwrap();
    let (_, features) = sources.iter().find(|(p, _)| p.as_deref() == profile)?;
    let name = profile.unwrap_or(ambient_profile);
    let has = |f: &F| features.contains(f);
    Some(if has(&F::CredentialsEnvVars) {
        "the environment (AWS_ACCESS_KEY_ID)".to_string()
    } else if has(&F::CredentialsProfileSso) || has(&F::CredentialsSso) {
        format!("SSO (profile {name})")
    } else if has(&F::CredentialsEnvVarsStsWebIdToken) {
        "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)".to_string()
    } else if has(&F::CredentialsProfileSourceProfile) || has(&F::CredentialsStsAssumeRole) {
        format!("profile {name} (an assumed role)")
    } else if has(&F::CredentialsProfileProcess) {
        format!("profile {name} (credential_process)")
    } else if has(&F::CredentialsProfile)
        || has(&F::CredentialsProfileNamedProvider)
        || has(&F::CredentialsProfileStsWebIdToken)
    {
        format!("profile {name}")
    } else if has(&F::CredentialsHttp) {
        "the container's credentials endpoint".to_string()
    } else if has(&F::CredentialsImds) {
        "the instance's role (IMDS)".to_string()
    } else {
        "the SDK's default chain".to_string()
    })
}

/// An S3 client; an endpoint override means an emulator or a proxy: buckets by path.
pub fn s3_client(cfg: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(cfg).force_path_style(cfg.endpoint_url().is_some()).build(),
    )
}

/// The Price List Query API's client: its endpoint is in us-east-1 (it
/// answers for every region's prices; AWS Billing user guide, "Using the AWS
/// Price List Query API"), and a price that does not answer at once is taken
/// from the shipped table, so two attempts are enough.
pub fn pricing_client(cfg: &aws_config::SdkConfig) -> aws_sdk_pricing::Client {
    aws_sdk_pricing::Client::from_conf(
        aws_sdk_pricing::config::Builder::from(cfg)
            .region(aws_sdk_pricing::config::Region::new("us-east-1"))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(scaled(Duration::from_secs(1)))
                    .with_max_backoff(scaled(Duration::from_secs(5))),
            )
            .build(),
    )
}

/// The regions that answer queries of `/aws/service/global-infrastructure`:
/// "Currently, the path /aws/service/global-infrastructure is supported for
/// queries in the following AWS Regions only" (AWS Systems Manager user
/// guide, "Calling public parameters for AWS services, Regions, endpoints,
/// Availability Zones, local zones, and Wavelength Zones in Parameter Store",
/// <https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters-global-infrastructure.html>,
/// read 2026-12-05); from another commercial region "you can specify a
/// supported Region in your query".
pub const GLOBAL_INFRASTRUCTURE_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-east-1",
    "ap-south-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "sa-east-1",
];

/// The region that answers the global-infrastructure parameters for `region`:
/// itself where it is one of `GLOBAL_INFRASTRUCTURE_REGIONS`, else us-east-1
/// in the commercial partition (the parameters describe every region, whichever
/// answers), else (China, GovCloud: another partition, its own endpoints) itself.
pub fn global_infrastructure_region(region: &str) -> &str {
    if GLOBAL_INFRASTRUCTURE_REGIONS.contains(&region) || region.starts_with("cn-") || region.starts_with("us-gov-") {
        region
    } else {
        "us-east-1"
    }
}

/// Systems Manager's client, in the region that answers the public parameters
/// of regions and services (`global_infrastructure_region`). The pre-flight
/// goes on without the answer when there is none, so three attempts are enough.
pub fn ssm_client(cfg: &aws_config::SdkConfig) -> aws_sdk_ssm::Client {
    let region = cfg.region().map(|r| global_infrastructure_region(r.as_ref()).to_string());
    aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::config::Builder::from(cfg)
            .region(region.map(aws_sdk_ssm::config::Region::new))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(scaled(Duration::from_secs(1)))
                    .with_max_backoff(scaled(Duration::from_secs(5))),
            )
            .build(),
    )
}

/// The EC2 client, its requests paced by `pacer` over the configured HTTP
/// client, or the SDK's default one (the same the client would pick alone:
/// `default_http_client_plugin_v2` of the behaviour version in use).
fn paced_ec2_client(cfg: &aws_config::SdkConfig, pacer: Arc<Pacer>) -> aws_sdk_ec2::Client {
    let base = cfg.http_client().or_else(|| {
        let version = cfg.behavior_version().unwrap_or_else(BehaviorVersion::latest);
        aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(version)?
            .runtime_components(&RuntimeComponentsBuilder::new("provision"))
            .http_client()
    });
    let mut builder = aws_sdk_ec2::config::Builder::from(cfg);
    if let Some(base) = base {
        builder = builder.http_client(PacedClient::new(base, pacer));
    }
    aws_sdk_ec2::Client::from_conf(builder.build())
}

impl Clients {
    pub fn new(cfg: &aws_config::SdkConfig) -> Clients {
        let pacer = Arc::new(Pacer::default());
        Clients {
            ec2: paced_ec2_client(cfg, pacer.clone()),
            nfw: aws_sdk_networkfirewall::Client::new(cfg),
            sagemaker: aws_sdk_sagemaker::Client::new(cfg),
            s3: s3_client(cfg),
            kms: aws_sdk_kms::Client::new(cfg),
            logs: aws_sdk_cloudwatchlogs::Client::new(cfg),
            iam: aws_sdk_iam::Client::new(cfg),
            efs: aws_sdk_efs::Client::new(cfg),
            sts: aws_sdk_sts::Client::new(cfg),
            quotas: aws_sdk_servicequotas::Client::new(cfg),
            pricing: pricing_client(cfg),
            ssm: ssm_client(cfg),
            pacer,
        }
    }

    /// The account the credentials belong to.
    pub async fn account(&self) -> Result<String> {
        Ok(self.identity().await?.0)
    }

    /// The account and the caller's ARN (STS GetCallerIdentity).
    pub async fn identity(&self) -> Result<(String, String)> {
        let who = match self.sts.get_caller_identity().send().await {
            Ok(w) => w,
            Err(e) if is_credentials_error(&e) => return Err(anyhow::anyhow!(no_credentials(&crate::error::aws(e)))),
            Err(e) => {
                return Err(crate::error::aws(e))
                    .context("asking STS who the credentials belong to (GetCallerIdentity)");
            }
        };
        let account = who.account.context("STS GetCallerIdentity returned no account")?;
        Ok((account, who.arn.unwrap_or_default()))
    }
}

/// The request never left because no credentials provider of the chain gave
/// any (aws-config's `CredentialsError`, surfaced as a dispatch failure).
fn is_credentials_error<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> bool
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.to_string().contains("loading credentials") || err.to_string().contains("no credentials") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// One paragraph: what was tried and how to fix it.
fn no_credentials(cause: &anyhow::Error) -> String {
    format!(
        "no AWS credentials: the SDK's chain found none (tried the environment's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
         the profile in AWS_PROFILE or --profile from ~/.aws/config and ~/.aws/credentials, SSO, web identity, and the \
         ECS/EC2 instance role). Fix: `export AWS_PROFILE=<name>` (run `aws sso login --profile <name>` first for SSO), \
         or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; against the local emulator, pass \
         --endpoint-url http://127.0.0.1:4566 with AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test (README, Quick start). \
         RUST_LOG=aws_config=debug shows each provider's answer. Last cause: {cause:#}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_infrastructure_parameters_are_asked_where_they_answer() {
        assert_eq!(global_infrastructure_region("sa-east-1"), "sa-east-1");
        assert_eq!(global_infrastructure_region("eu-north-1"), "eu-north-1");
        // Commercial regions outside the documented list ask us-east-1 (their parameters are the same there).
        assert_eq!(global_infrastructure_region("ap-southeast-7"), "us-east-1");
        assert_eq!(global_infrastructure_region("ca-west-1"), "us-east-1");
        // Another partition: its own endpoints.
        assert_eq!(global_infrastructure_region("cn-north-1"), "cn-north-1");
        assert_eq!(global_infrastructure_region("us-gov-west-1"), "us-gov-west-1");
        assert_eq!(GLOBAL_INFRASTRUCTURE_REGIONS.len(), 17);
    }
}

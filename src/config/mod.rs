//! Parameters of the stack: defaults, the TOML config file, command-line
//! overrides, validation and the names derived from them. Pure: no AWS calls.
//!
//! Raw input (`RawParams`, every field optional: one declaration that is
//! the flag, the config file's key and the recorded key) is resolved once
//! into `Settings`, which the rest of the program trusts. Every rule that
//! fails is reported, not only the first one. Only `commands::resolve`
//! reads the config file (`tests/layers.rs`).
//!
//! - `mod.rs`: the raw and resolved parameters and the names derived from them;
//! - `validate.rs`: the rules (`Settings::resolve`);
//! - `layers.rs`: which source wins (recorded, config file, flags).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// Every stack parameter, declared once: the same field is the command-line
/// flag (clap), the config file's key (TOML) and the key the state records
/// (`Settings::as_map`, read back by `from_recorded`). `None` means "not
/// given here"; `layer` merges the three sources (flags over file over
/// record) and `Settings::resolve` turns the result into settings once.
///
/// Adding a parameter: a field here (its flag and doc), its rule and
/// default in `validate.rs`, its `Settings` field and what `Settings::recorded`
/// records of it (the compiler asks for both).
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize, clap::Args)]
#[serde(deny_unknown_fields)]
// This documentation is for the code, not the command's help.
#[command(about = None, long_about = None)]
pub struct RawParams {
    /// Stack name: the state file, the provision:stack tag and derived names [default: sagemaker-studio-anfw].
    #[arg(long, global = true, allow_hyphen_values = true)]
    pub project: Option<String>,
    /// SageMaker Studio domain name [default: sagemaker-anfw-domain-{region}; with another --project, {project}-domain-{region}].
    #[arg(long, global = true, allow_hyphen_values = true)]
    pub domain_name: Option<String>,
    /// The user profile (or the first of --users) [default: anfw-user-profile-{region}].
    #[arg(long, global = true, allow_hyphen_values = true)]
    pub user_profile_name: Option<String>,
    /// The VPC's CIDR, /16 to /28 [default: 10.2.0.0/16].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "CIDR")]
    pub vpc_cidr: Option<String>,
    /// The first zone's firewall subnet, inside the VPC [default: 10.2.1.0/24].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "CIDR")]
    pub firewall_subnet_cidr: Option<String>,
    /// The first zone's NAT gateway subnet, inside the VPC [default: 10.2.2.0/24].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "CIDR")]
    pub nat_subnet_cidr: Option<String>,
    /// The first zone's SageMaker Studio subnet, inside the VPC [default: 10.2.3.0/24].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "CIDR")]
    pub sagemaker_subnet_cidr: Option<String>,
    /// Comma-separated domains or .suffixes the firewall lets through, never one that admits all of AWS
    /// [default: .kaggle.com,pypi.org,files.pythonhosted.org,conda.anaconda.org].
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "DOMAINS")]
    pub allowed_domains: Option<Vec<String>>,
    /// The availability zone of a one-zone stack (the first of --availability-zones) [default: {region}a].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "AZ")]
    pub availability_zone: Option<String>,
    /// AWS region [default: the config file's region, else AWS_REGION, else the AWS config file's].
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Comma-separated user profile names, each with its own app (replaces --user-profile-name).
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "NAMES")]
    pub users: Option<Vec<String>>,
    /// Comma-separated zones the stack spans (the first is --availability-zone's).
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "AZS")]
    pub availability_zones: Option<Vec<String>>,
    /// One firewall subnet CIDR per zone [default: carved from the first].
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "CIDRS")]
    pub firewall_subnet_cidrs: Option<Vec<String>>,
    /// One NAT subnet CIDR per zone [default: carved from the first].
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "CIDRS")]
    pub nat_subnet_cidrs: Option<Vec<String>>,
    /// One SageMaker subnet CIDR per zone [default: carved from the first].
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "CIDRS")]
    pub sagemaker_subnet_cidrs: Option<Vec<String>>,
    /// Minutes of idleness before SageMaker stops a JupyterLab app, 60 to 525600 [default: 60].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "MINUTES")]
    pub idle_timeout_minutes: Option<i64>,
    /// Size of each user's private space (EBS), 5 to 16384 GiB [default: 5].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "GIB")]
    pub space_storage_gib: Option<i64>,
    /// Instance type of each user's JupyterLab app [default: ml.t3.medium].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "TYPE")]
    pub app_instance_type: Option<String>,
    /// The SageMaker image (or image version) ARN every JupyterLab app runs, in the stack's region [default: the region's SageMaker Distribution image, GPU flavour on GPU instance types].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "ARN")]
    pub app_image: Option<String>,
    /// Refuse to run unless the credentials belong to this account (also `expect_account` in the config).
    #[arg(long, global = true, value_name = "ACCOUNT_ID")]
    pub expect_account: Option<String>,
    /// VPC flow logs and the firewall's alert and flow logs (`--logging=false` or `--no-logging` turns them off; `logging = false` in the config) [default: on].
    #[arg(long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub logging: Option<bool>,
    /// Days CloudWatch Logs keeps the stack's logs: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 [default: 365].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "DAYS")]
    pub log_retention_days: Option<i64>,
    /// Training, processing and tuning jobs and models must run with network isolation: the execution role denies them without it (`--network-isolation=false` or `network_isolation = false` turns it off again) [default: off, since many jobs need the VPC's endpoints].
    #[arg(long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub network_isolation: Option<bool>,
}

impl RawParams {
    /// Reads a TOML config file; unknown keys and wrong types are errors that
    /// name the file and the line.
    pub fn from_file(path: &Path) -> Result<RawParams, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            // Name the line and show it: it holds the parameter at fault.
            let at = e
                .span()
                .map(|s| {
                    let n = text[..s.start].matches('\n').count();
                    let src = text.lines().nth(n).unwrap_or_default().trim();
                    format!(" line {} ({src})", n + 1)
                })
                .unwrap_or_default();
            // An unquoted text value (`vpc_cidr = 10.2.0.0/16`) is a TOML
            // syntax error whose message names no type: say what is expected.
            let hint = e
                .span()
                .and_then(|s| text.lines().nth(text[..s.start].matches('\n').count()))
                .and_then(|l| l.split_once('='))
                .map(|(k, v)| (k.trim(), v.trim()))
                .filter(|(_, v)| !v.is_empty() && !v.starts_with(['"', '\'', '[']) && v.parse::<f64>().is_err())
                .filter(|(_, v)| !matches!(*v, "true" | "false"))
                .map(|(k, v)| format!("; {k} is text, which TOML quotes: {k} = \"{v}\""))
                .unwrap_or_default();
            format!("config file {}{at}: {}{hint}", path.display(), e.message().trim())
        })
    }

    /// Fields set in `over` replace those in `self` (one rule for every
    /// field: through the serialized form, so no field is listed here).
    pub fn overlay(self, over: RawParams) -> RawParams {
        let fields = |p: RawParams| match serde_json::to_value(p) {
            Ok(serde_json::Value::Object(m)) => m.into_iter().filter(|(_, v)| !v.is_null()),
            _ => unreachable!("RawParams serializes to an object"),
        };
        let merged: serde_json::Map<String, serde_json::Value> = fields(self).chain(fields(over)).collect();
        serde_json::from_value(serde_json::Value::Object(merged)).expect("fields of RawParams read back")
    }
}

/// Validated parameters.
#[derive(Debug, Clone)]
pub struct Settings {
    pub project: String,
    pub region: String,
    pub domain_name: String,
    pub user_profile_name: String,
    pub vpc_cidr: Ipv4Net,
    pub firewall_subnet_cidr: Ipv4Net,
    pub nat_subnet_cidr: Ipv4Net,
    pub sagemaker_subnet_cidr: Ipv4Net,
    pub allowed_domains: Vec<String>,
    pub availability_zone: String,
    /// All user profiles; `users[0] == user_profile_name`.
    pub users: Vec<String>,
    /// Every zone with its three subnets; `zones[0]` is `availability_zone`
    /// with the single-zone CIDRs above.
    pub zones: Vec<Zone>,
    /// JupyterLab idle shutdown (`JupyterLabAppSettings.AppLifecycleManagement.IdleSettings`).
    pub idle_timeout_minutes: i32,
    /// Each private space's EBS volume (`EbsStorageSettings.EbsVolumeSizeInGb`).
    pub space_storage_gib: i32,
    /// Each JupyterLab app's `ResourceSpec.InstanceType`.
    pub app_instance_type: String,
    /// `app_image` as given (checked against the region); None: the
    /// region's SageMaker Distribution image (`jupyter_image`).
    pub app_image: Option<AppImage>,
    /// The only account this run may act in (`--expect-account`).
    pub expect_account: Option<String>,
    /// VPC flow logs and the firewall's alert and flow logs, to CloudWatch Logs.
    pub logging: bool,
    /// The log groups' `retentionInDays`.
    pub log_retention_days: i32,
    /// The execution role denies jobs and models without network isolation.
    pub network_isolation: bool,
    /// `--any-region`: a region AWS says lacks Network Firewall or SageMaker
    /// is a pre-flight warning, not a problem. A guard of the run, not recorded.
    pub any_region: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub az: String,
    pub firewall: Ipv4Net,
    pub nat: Ipv4Net,
    pub sagemaker: Ipv4Net,
}

/// Most zones one stack spans.
pub const MAX_ZONES: usize = 6;

/// The CIDR of zone `i` when not given: zone 0's CIDR moved up by `i` × 16
/// blocks of its own size (10.2.1.0/24 → 10.2.17.0/24 → 10.2.33.0/24), so
/// each kind of subnet keeps its place in every zone's range.
pub fn carve(first: Ipv4Net, i: usize) -> Option<Ipv4Net> {
    let size = 1u64 << (32 - first.prefix_len());
    let start = u64::from(u32::from(first.network())) + (i as u64) * 16 * size;
    let start = u32::try_from(start).ok()?;
    Ipv4Net::new(std::net::Ipv4Addr::from(start), first.prefix_len()).ok()
}

/// All the rules the input broke.
#[derive(Debug)]
pub struct InvalidInput(pub Vec<String>);

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid input:")?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidInput {}

pub const DEFAULT_PROJECT: &str = "sagemaker-studio-anfw";

/// What today's Studio needs from the internet that no endpoint of the
/// stack serves, by name (issue 30: no wildcard that admits all of AWS;
/// every AWS service the stack uses is reached through its VPC endpoint,
/// `graph::INTERFACE_ENDPOINTS` and `vpce.s3`). The user's own domains come
/// on top (`--allowed-domains`, `provision firewall allow`).
pub const DEFAULT_ALLOWED_DOMAINS: &[&str] = &[
    // The original CloudFormation sample's allow-list kept its `.kaggle.com` (spec: the
    // `allowed_domains` parameter, "the original's list").
    ".kaggle.com",
    // `pip install` in JupyterLab: the Python Package Index (pypi.org/simple, the PEP 503 "Simple
    // Repository API" pip reads by default) and files.pythonhosted.org, the host every file link of
    // that index points to (pip downloads the distributions from there).
    "pypi.org",
    "files.pythonhosted.org",
    // `conda`/`micromamba install`: the SageMaker Distribution image JupyterLab runs
    // (`config/app_image.rs`) installs from the conda-forge channel (aws/sagemaker-distribution,
    // its Dockerfiles: `micromamba install -c conda-forge`), served by conda.anaconda.org.
    "conda.anaconda.org",
];

/// Suffixes that admit all of AWS: every service endpoint of every region,
/// so any account's bucket in another region, which the S3 gateway
/// endpoint's policy never sees (`.amazonaws.com`, `.amazonaws.com.cn` in
/// the China regions, `.api.aws` for the dual-stack endpoints: AWS General
/// Reference, "AWS service endpoints"), and AWS's consoles and sign-in
/// (`.aws.amazon.com`, `.amazon.com`). Refused as `allowed_domains` given
/// and by `provision firewall allow` (`validate::aws_wide_errors`).
pub const AWS_WIDE_SUFFIXES: &[&str] =
    &[".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".aws.amazon.com", ".amazon.com"];

/// The previous version's default (`.kaggle.com,.amazonaws.com`): a stack
/// that recorded it unchanged takes today's default at its next `up`
/// (`layer`), which `plan` shows as an in-place change of the allow-list.
pub const OLD_DEFAULT_ALLOWED_DOMAINS: &[&str] = &[".kaggle.com", ".amazonaws.com"];

/// Defaults of today's Studio (spec: SageMaker Studio).
pub const DEFAULT_IDLE_TIMEOUT_MINUTES: i64 = 60;
pub const DEFAULT_SPACE_STORAGE_GIB: i64 = 5;
pub const DEFAULT_APP_INSTANCE_TYPE: &str = "ml.t3.medium";

/// Days the stack's log groups keep their logs unless told.
pub const DEFAULT_LOG_RETENTION_DAYS: i64 = 365;

/// The values CloudWatch Logs accepts for a log group's retention
/// (CloudWatch Logs API reference, PutRetentionPolicy, `retentionInDays`:
/// "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365,
/// 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653").
pub const LOG_RETENTION_DAYS: &[i64] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// User profiles one stack may carry (each adds a profile, a space and an app).
pub const MAX_USERS: usize = 100;

pub mod app_image;
mod layers;
mod validate;

pub use app_image::AppImage;

pub use layers::layer;
pub use validate::{aws_wide_errors, domain_errors};

impl Settings {
    /// The stack's name: its state file and `provision:stack` tag.
    pub fn stack(&self) -> &str {
        &self.project
    }

    pub fn bucket_name(&self, account: &str, which: &str) -> String {
        format!("{}-{account}-{}-{which}", self.project, self.region)
    }

    pub fn role_name(&self) -> String {
        format!("{}-{}-sagemaker-execution-role", self.project, self.region)
    }

    /// A user's private space: `{user}-space` (the 57-character limit on
    /// user names keeps it within SageMaker's 63).
    pub fn space_name(user: &str) -> String {
        format!("{user}-space")
    }

    /// A log group of the stack: `/provision/{project}/{which}`.
    pub fn log_group_name(&self, which: &str) -> String {
        format!("/provision/{}/{which}", self.project)
    }

    /// The role VPC flow logs deliver with.
    pub fn flow_logs_role_name(&self) -> String {
        format!("{}-{}-flow-logs-role", self.project, self.region)
    }

    pub fn policy_name(&self) -> String {
        format!("{}-{}-sagemaker-execution-policy", self.project, self.region)
    }

    /// The image every JupyterLab app runs (`ResourceSpec` of CreateApp, the
    /// space's and the domain's JupyterLab `DefaultResourceSpec`): `app_image`,
    /// else the region's SageMaker Distribution image for `app_instance_type`.
    /// Err: the region is not in AWS's table (the message says what to do).
    pub fn jupyter_image(&self) -> Result<AppImage, String> {
        if let Some(pinned) = &self.app_image {
            return Ok(pinned.clone());
        }
        match app_image::distribution_image(&self.region, &self.app_instance_type) {
            Some(image) => Ok(AppImage { image, version: None }),
            None => Err(format!(
                "region: {} has no SageMaker Distribution image in provision's table (from {}; it covers {}); JupyterLab apps need an image: give app_image (--app-image ARN), an image of {}",
                self.region,
                app_image::TABLE_SOURCE,
                app_image::DISTRIBUTION_ACCOUNTS.iter().map(|(r, _)| *r).collect::<Vec<_>>().join(", "),
                self.region
            )),
        }
    }

    /// These settings grown by what `other` has beyond them: its users and
    /// zones that these lack (after these ones, so the first of each keeps
    /// the spec's step ids), and logging if either has it. What `down`
    /// removes after a day-two `up` stopped half-way: the stack may still
    /// hold the old parameters' zones and users, or already the new ones.
    pub fn union(&self, other: &Settings) -> Settings {
        let mut out = self.clone();
        for u in &other.users {
            if !out.users.contains(u) {
                out.users.push(u.clone());
            }
        }
        for z in &other.zones {
            if !out.zones.iter().any(|x| x.az == z.az) {
                out.zones.push(z.clone());
            }
        }
        out.logging |= other.logging;
        out
    }

    /// The parameters as the state records them (and `plan` shows them):
    /// the resolved values under their declared keys, so that a bare re-run
    /// reads them back (`RawParams::from_recorded`). A struct literal: a new
    /// parameter does not compile until it says what is recorded.
    pub fn recorded(&self) -> RawParams {
        let zones = |f: fn(&Zone) -> String| (self.zones.len() > 1).then(|| self.zones.iter().map(f).collect());
        let several = self.users.len() > 1;
        RawParams {
            project: Some(self.project.clone()),
            region: Some(self.region.clone()),
            domain_name: Some(self.domain_name.clone()),
            user_profile_name: (!several).then(|| self.user_profile_name.clone()),
            vpc_cidr: Some(self.vpc_cidr.to_string()),
            firewall_subnet_cidr: Some(self.firewall_subnet_cidr.to_string()),
            nat_subnet_cidr: Some(self.nat_subnet_cidr.to_string()),
            sagemaker_subnet_cidr: Some(self.sagemaker_subnet_cidr.to_string()),
            allowed_domains: Some(self.allowed_domains.clone()),
            availability_zone: Some(self.availability_zone.clone()),
            users: several.then(|| self.users.clone()),
            availability_zones: zones(|z| z.az.clone()),
            firewall_subnet_cidrs: zones(|z| z.firewall.to_string()),
            nat_subnet_cidrs: zones(|z| z.nat.to_string()),
            sagemaker_subnet_cidrs: zones(|z| z.sagemaker.to_string()),
            idle_timeout_minutes: Some(self.idle_timeout_minutes.into()),
            space_storage_gib: Some(self.space_storage_gib.into()),
            app_instance_type: Some(self.app_instance_type.clone()),
            app_image: self.app_image.as_ref().map(|pinned| pinned.shown().to_string()),
            // A guard of the run, not a fact of the stack.
            expect_account: None,
            logging: Some(self.logging),
            log_retention_days: Some(self.log_retention_days.into()),
            network_isolation: Some(self.network_isolation),
        }
    }

    /// The recorded parameters as a map, for the state file and `plan`.
    pub fn as_map(&self) -> BTreeMap<String, serde_json::Value> {
        match serde_json::to_value(self.recorded()) {
            Ok(serde_json::Value::Object(m)) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
            _ => unreachable!("RawParams serializes to an object"),
        }
    }
}

#[cfg(test)]
mod tests;

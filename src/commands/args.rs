//! The command line's types, all in one place: flags are parsed into these,
//! then resolved once into `Settings` (`config`), which the rest trusts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::RawParams;

#[derive(Parser, Debug)]
#[command(
    name = "provision",
    version,
    about = "Builds (and removes) a locked-down SageMaker Studio in a private VPC by direct AWS API calls",
    after_help = "Examples:\n  provision up\n  provision --region eu-west-1 up --vpc-cidr 10.9.0.0/16\n  provision outputs --json\n  provision down --purge-efs"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// AWS region (default: the AWS config chain).
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Named profile from the AWS config files.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator); S3 then uses path-style addressing.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Where the state is: a file (default: state/<project>.json) or s3://BUCKET/KEY (a KEY ending in / is a prefix: KEY<project>.json).
    #[arg(long, global = true, env = "PROVISION_STATE", value_name = "FILE|s3://BUCKET/KEY")]
    pub state: Option<String>,
    /// Named profile for the state bucket's calls, when its account differs from the stack's (default: --profile).
    #[arg(long, global = true, value_name = "PROFILE")]
    pub state_profile: Option<String>,
    /// Region of the state bucket, when it differs from the stack's (default: --region).
    #[arg(long, global = true, value_name = "REGION")]
    pub state_region: Option<String>,
    /// TOML file with parameters (keys as in the spec: vpc_cidr = "10.2.0.0/16", ...).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How many steps may run at once.
    #[arg(long, global = true, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// Plain line-per-event output even on a terminal (the default when stderr is not one).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Allow a region outside the Network Firewall list of the spec.
    #[arg(long, global = true)]
    pub any_region: bool,
    /// Refuse to run unless the credentials belong to this account (also `expect_account` in the config).
    #[arg(long, global = true, value_name = "ACCOUNT_ID")]
    pub expect_account: Option<String>,
    #[command(flatten)]
    pub params: ParamFlags,
}

/// One flag per stack parameter; each overrides the config file.
#[derive(Args, Debug, Clone, Default)]
pub struct ParamFlags {
    /// Stack name: the state file, the provision:stack tag and derived names [default: sagemaker-studio-anfw].
    #[arg(long, global = true, allow_hyphen_values = true)]
    pub project: Option<String>,
    /// SageMaker Studio domain name [default: sagemaker-anfw-domain-{region}].
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
    /// Comma-separated domains or .suffixes the firewall lets through [default: .kaggle.com,.amazonaws.com].
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "DOMAINS")]
    pub allowed_domains: Option<Vec<String>>,
    /// The availability zone of a one-zone stack (the first of --availability-zones) [default: {region}a].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "AZ")]
    pub availability_zone: Option<String>,
    /// Comma-separated zones the stack spans (the first is --availability-zone's).
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "AZS")]
    pub availability_zones: Option<Vec<String>>,
    /// One firewall subnet CIDR per zone (default: carved from the first).
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "CIDRS")]
    pub firewall_subnet_cidrs: Option<Vec<String>>,
    /// One NAT subnet CIDR per zone (default: carved from the first).
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "CIDRS")]
    pub nat_subnet_cidrs: Option<Vec<String>>,
    /// One SageMaker subnet CIDR per zone (default: carved from the first).
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "CIDRS")]
    pub sagemaker_subnet_cidrs: Option<Vec<String>>,
    /// Comma-separated user profile names, each with its own app (replaces --user-profile-name).
    #[arg(long, global = true, allow_hyphen_values = true, value_delimiter = ',', value_name = "NAMES")]
    pub users: Option<Vec<String>>,
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
    /// No VPC flow logs and no firewall alert/flow logs (`logging = false` in the config) [default: logging on].
    #[arg(long, global = true)]
    pub no_logging: bool,
    /// Days CloudWatch Logs keeps the stack's logs: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 [default: 365].
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "DAYS")]
    pub log_retention_days: Option<i64>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the stack, or resume where a failed or killed run stopped.
    #[command(
        after_help = "Examples:\n  provision up\n  provision --region eu-west-1 up --availability-zones eu-west-1a,eu-west-1b"
    )]
    Up {
        /// Pre-flight: an overlap of vpc_cidr with a VPC of the region is an error, not a warning.
        #[arg(long)]
        strict: bool,
        /// Take over the stack's resources found by their tags when the state does not record them (a lost state file).
        #[arg(long)]
        adopt: bool,
        /// One JSON object per line on stdout for every step transition, then a summary (schema in README.md, "Progress events").
        #[arg(long)]
        json: bool,
    },
    /// Remove the stack in reverse dependency order.
    #[command(
        after_help = "Without --purge-efs the EFS with the users' home directories, what it needs (its mount\ntargets, NFS security groups, SageMaker subnet, VPC) and non-empty buckets stay, recorded as\nretained. It says what it will delete and keep, then asks (type 'yes'); --yes skips the question,\nand is required when stdin is not a terminal.\n\nExamples:\n  provision down\n  provision down --purge-efs --delete-data --yes"
    )]
    Down {
        /// Also remove SageMaker's EFS (user home directories), its mount targets and NFS security groups.
        #[arg(long)]
        purge_efs: bool,
        /// Also empty and remove non-empty buckets (and the key that encrypts them).
        #[arg(long)]
        delete_data: bool,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// One JSON object per line on stdout for every step transition, then a summary (schema in README.md, "Progress events").
        #[arg(long)]
        json: bool,
    },
    /// Show what `up` (or, with --destroy, `down`) would do, step by step; changes nothing.
    #[command(
        after_help = "Examples:\n  provision plan\n  provision plan --destroy --purge-efs\n  provision plan --json"
    )]
    Plan {
        /// Plan `down` instead of `up`.
        #[arg(long)]
        destroy: bool,
        /// With --destroy: plan `down --purge-efs`.
        #[arg(long, requires = "destroy")]
        purge_efs: bool,
        /// With --destroy: plan `down --delete-data`.
        #[arg(long, requires = "destroy")]
        delete_data: bool,
        /// Pre-flight: an overlap of vpc_cidr with a VPC of the region is an error.
        #[arg(long)]
        strict: bool,
        #[arg(long)]
        json: bool,
    },
    /// Compare the recorded resources with what exists now (present, missing, changed, retained).
    #[command(after_help = "Exit code 1 when something is missing or drifted.\n\nExample:\n  provision status --json")]
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print a presigned URL that opens Studio for a user profile (never stored).
    #[command(
        after_help = "Examples:\n  provision studio-url\n  provision studio-url --user alice --space --expires 120"
    )]
    StudioUrl {
        /// User profile (default: the stack's user_profile_name).
        #[arg(long)]
        user: Option<String>,
        /// Land in the user's JupyterLab space instead of the Studio portal.
        #[arg(long)]
        space: bool,
        /// Seconds the URL stays valid (5 to 300 for the URL itself; AWS's rule).
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(i32).range(5..=300))]
        expires: i32,
    },
    /// Start a user's JupyterLab app again in their space (after `stop` or idle shutdown).
    #[command(after_help = "Examples:\n  provision start\n  provision start --user alice")]
    Start {
        /// User profile (default: the stack's user_profile_name).
        #[arg(long)]
        user: Option<String>,
    },
    /// Stop a user's JupyterLab app (its space and EBS volume stay; `up` leaves it stopped).
    #[command(after_help = "Examples:\n  provision stop\n  provision stop --user alice")]
    Stop {
        /// User profile (default: the stack's user_profile_name).
        #[arg(long)]
        user: Option<String>,
    },
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  provision completions bash > /etc/bash_completion.d/provision")]
    Completions { shell: clap_complete::Shell },
    /// Check every security control of the live stack (one line per control, with evidence).
    #[command(after_help = "Exit code 1 when a control fails.\n\nExample:\n  provision verify --json")]
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Let Studio read JumpStart content (objects tagged SageMaker=true) through the S3 endpoint, or stop it.
    #[command(after_help = "Examples:\n  provision jumpstart enable\n  provision jumpstart status")]
    Jumpstart {
        #[command(subcommand)]
        action: OnOff,
    },
    /// Show or edit the firewall's domain allow-list.
    #[command(
        after_help = "allow/remove change the live rule group and the recorded allowed_domains, so a bare\n`provision up` keeps the edit; an explicit --allowed-domains or config value wins over it,\nand `provision status` shows any difference.\n\nExamples:\n  provision firewall list\n  provision firewall allow pypi.org .pythonhosted.org\n  provision firewall remove .kaggle.com"
    )]
    Firewall {
        #[command(subcommand)]
        action: FirewallAction,
    },
    /// Write a state file from what AWS holds for the stack (found by its tags); changes nothing in AWS.
    #[command(
        after_help = "For a lost state file: the record back before deciding (`provision status` then shows\nwhat is there; `provision up` resumes; `provision down` removes it). Refuses to overwrite a\nstate file that exists.\n\nExample:\n  provision --project my-stack import"
    )]
    Import,
    /// Print the least-privilege IAM policy an operator needs to run provision.
    #[command(
        after_help = "With --state s3://BUCKET/KEY the policy also grants the state's object and lock calls,\nscoped to that key.\n\nExamples:\n  provision iam-policy > operator-policy.json\n  provision --state s3://team-state/sagemaker-studio-anfw.json iam-policy"
    )]
    IamPolicy,
    /// Remove the lock a killed run left on the state (the id its refusal names).
    #[command(
        after_help = "Only the lock with this id is removed; another id is refused. Make sure the run that\nheld it is gone (the refusal says when its process is no longer running or it stopped\nrenewing the lock).\n\nExample:\n  provision --state s3://team-state/sagemaker-studio-anfw.json force-unlock 6f1c2d0e-..."
    )]
    ForceUnlock {
        /// The lock's id, as the refusal of a run names it.
        lock_id: String,
    },
    /// Keep the state in S3 for a team: make the bucket, move a state there and back.
    #[command(
        after_help = "Examples:\n  provision state init s3://team-state\n  provision --state s3://team-state/ state push\n  provision --state s3://team-state/ state pull state/copy.json"
    )]
    State {
        #[command(subcommand)]
        action: StateAction,
    },
    /// Print the stack's outputs (the original CloudFormation output keys).
    #[command(after_help = "Examples:\n  provision outputs --json\n  provision outputs SageMakerStudioDomainId")]
    Outputs {
        #[arg(long)]
        json: bool,
        /// Print only this key's raw value.
        key: Option<String>,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum StateAction {
    /// Create the state bucket (versioning, SSE-KMS, Block Public Access, TLS-only policy); idempotent.
    Init {
        /// s3://BUCKET or s3://BUCKET/PREFIX/ (the prefix only shapes the --state it suggests).
        #[arg(value_name = "s3://BUCKET[/PREFIX]")]
        location: String,
    },
    /// Copy a local state file into the state --state names (refusing to replace a different one); the file is then moved aside.
    Push {
        /// The local state (default: state/<project>.json).
        file: Option<PathBuf>,
        /// Replace a different state already there (it stays as a previous version).
        #[arg(long)]
        force: bool,
    },
    /// Copy the state --state names into a local file (refusing to replace a different one), or to stdout with -.
    Pull {
        /// The local file (default: state/<project>.json), or - for stdout.
        file: Option<PathBuf>,
        /// Replace a different local file (it stays as <file>.bak).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug, Clone, Copy)]
pub enum OnOff {
    /// Add the JumpStart statement to the S3 endpoint policy (recorded; `up` keeps it).
    Enable,
    /// Remove it again.
    Disable,
    /// Say whether it is enabled (recorded) and on the live endpoint policy.
    Status,
}

#[derive(Subcommand, Debug, Clone)]
pub enum FirewallAction {
    /// Print the domains the firewall lets through.
    List,
    /// Add domains (or .suffixes) to the allow-list.
    Allow {
        #[arg(required = true)]
        domains: Vec<String>,
    },
    /// Remove domains from the allow-list (the last one cannot be removed).
    Remove {
        #[arg(required = true)]
        domains: Vec<String>,
    },
}

impl Command {
    /// The command as its lock names it (`up`, `firewall allow`).
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Up { .. } => "up",
            Command::Down { .. } => "down",
            Command::Plan { .. } => "plan",
            Command::Status { .. } => "status",
            Command::StudioUrl { .. } => "studio-url",
            Command::Start { .. } => "start",
            Command::Stop { .. } => "stop",
            Command::Completions { .. } => "completions",
            Command::Verify { .. } => "verify",
            Command::Jumpstart { action: OnOff::Enable } => "jumpstart enable",
            Command::Jumpstart { action: OnOff::Disable } => "jumpstart disable",
            Command::Jumpstart { action: OnOff::Status } => "jumpstart status",
            Command::Firewall { action: FirewallAction::List } => "firewall list",
            Command::Firewall { action: FirewallAction::Allow { .. } } => "firewall allow",
            Command::Firewall { action: FirewallAction::Remove { .. } } => "firewall remove",
            Command::IamPolicy => "iam-policy",
            Command::Import => "import",
            Command::Outputs { .. } => "outputs",
            Command::ForceUnlock { .. } => "force-unlock",
            Command::State { action: StateAction::Init { .. } } => "state init",
            Command::State { action: StateAction::Push { .. } } => "state push",
            Command::State { action: StateAction::Pull { .. } } => "state pull",
        }
    }
}

impl ParamFlags {
    pub fn to_raw(&self) -> RawParams {
        RawParams {
            project: self.project.clone(),
            domain_name: self.domain_name.clone(),
            user_profile_name: self.user_profile_name.clone(),
            vpc_cidr: self.vpc_cidr.clone(),
            firewall_subnet_cidr: self.firewall_subnet_cidr.clone(),
            nat_subnet_cidr: self.nat_subnet_cidr.clone(),
            sagemaker_subnet_cidr: self.sagemaker_subnet_cidr.clone(),
            allowed_domains: self.allowed_domains.clone(),
            availability_zone: self.availability_zone.clone(),
            region: None,
            users: self.users.clone(),
            availability_zones: self.availability_zones.clone(),
            firewall_subnet_cidrs: self.firewall_subnet_cidrs.clone(),
            nat_subnet_cidrs: self.nat_subnet_cidrs.clone(),
            sagemaker_subnet_cidrs: self.sagemaker_subnet_cidrs.clone(),
            idle_timeout_minutes: self.idle_timeout_minutes,
            space_storage_gib: self.space_storage_gib,
            app_instance_type: self.app_instance_type.clone(),
            app_image: self.app_image.clone(),
            expect_account: None,
            logging: self.no_logging.then_some(false),
            log_retention_days: self.log_retention_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_parameter_flag_says_what_it_is() {
        let cmd = super::Cli::command();
        let up = cmd.find_subcommand("up").unwrap();
        for name in [
            "project",
            "domain-name",
            "user-profile-name",
            "vpc-cidr",
            "firewall-subnet-cidr",
            "nat-subnet-cidr",
            "sagemaker-subnet-cidr",
            "allowed-domains",
            "availability-zone",
            "idle-timeout-minutes",
            "space-storage-gib",
            "app-instance-type",
            "app-image",
            "no-logging",
            "log-retention-days",
        ] {
            let arg = cmd.get_arguments().chain(up.get_arguments()).find(|a| a.get_long() == Some(name)).unwrap();
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(help.contains("[default: "), "--{name} shows its default: '{help}'");
        }
    }

    #[test]
    fn every_command_has_help_with_an_example() {
        let cmd = super::Cli::command();
        cmd.clone().debug_assert();
        for sub in cmd.get_subcommands() {
            let after = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(sub.get_about().is_some(), "{} has no description", sub.get_name());
            assert!(after.contains("Example"), "{} --help has no example", sub.get_name());
        }
    }
}

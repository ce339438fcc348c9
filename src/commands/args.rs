//! The command line's types: flags are parsed into these (the stack's
//! parameters are `config::RawParams`, flattened in), then resolved once
//! (`resolve.rs`) into settings the rest trusts.

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
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Named profile from the AWS config files.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator); S3 then uses path-style addressing.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", hide_env_values = true)]
    pub endpoint_url: Option<String>,
    /// Where the state is: a file (default: state/<project>.json) or s3://BUCKET/KEY (a KEY ending in / is a prefix: KEY<project>.json).
    #[arg(long, global = true, env = "PROVISION_STATE", hide_env_values = true, value_name = "FILE|s3://BUCKET/KEY")]
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
    /// Go on in a region AWS says lacks Network Firewall or SageMaker (pre-flight warns instead of stopping), or whose code is not of the area-direction-N form.
    #[arg(long, global = true)]
    pub any_region: bool,
    /// `AWS_REGION`, apart from --region: it ranks below an explicit config file's region
    /// (`resolve::Invocation::region`). Read from the environment only.
    #[arg(long = "aws-region-from-env", global = true, env = "AWS_REGION", hide = true, hide_env_values = true)]
    pub ambient_region: Option<String>,
    /// `AWS_PROFILE`: the profile the SDK's chain reads without --profile, named by the
    /// line saying where the credentials came from (`connect::session`). Read from the environment only.
    #[arg(long = "aws-profile-from-env", global = true, env = "AWS_PROFILE", hide = true, hide_env_values = true)]
    pub ambient_profile: Option<String>,
    // The stack's parameters (--region, --vpc-cidr, ...), declared once in `config::RawParams`.
    #[command(flatten, next_help_heading = "Stack parameters")]
    pub params: RawParams,
    /// No VPC flow logs and no firewall logs: `--logging=false` [default: logging on].
    #[arg(long = "no-logging", global = true, conflicts_with = "logging", help_heading = "Stack parameters")]
    pub no_logging: bool,
}

impl Global {
    /// The stack's parameters as given on the command line: `--no-logging`
    /// folded into `logging` (its other spelling, `--logging=false`).
    pub fn fold_switches(&mut self) {
        if self.no_logging {
            self.params.logging = Some(false);
        }
    }
}

/// The usage `provision cost` cannot know (`cost::Assumptions`: the defaults and why).
#[derive(Args, Debug, Clone)]
pub struct CostAssumptions {
    /// Hours a user's JupyterLab app runs a month [default: 176: 8 hours on 22 working days, idle shutdown on].
    #[arg(long, allow_hyphen_values = true, value_name = "HOURS")]
    pub app_hours: Option<f64>,
    /// GB each user moves to and from the internet a month, through NAT gateway and firewall [default: 5].
    #[arg(long, allow_hyphen_values = true, value_name = "GB")]
    pub internet_gb: Option<f64>,
    /// GB each user moves through the interface endpoints a month [default: 10].
    #[arg(long, allow_hyphen_values = true, value_name = "GB")]
    pub endpoint_gb: Option<f64>,
    /// GB held in the two buckets [default: 10].
    #[arg(long, allow_hyphen_values = true, value_name = "GB")]
    pub bucket_gb: Option<f64>,
    /// GB on the home EFS [default: 1].
    #[arg(long, allow_hyphen_values = true, value_name = "GB")]
    pub efs_gb: Option<f64>,
    /// GB of logs a month, with logging on [default: 5].
    #[arg(long, allow_hyphen_values = true, value_name = "GB")]
    pub log_gb: Option<f64>,
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
        /// Confirm what a change of the parameters deletes with its data (a removed user's space, the logs) or stops (apps, to remove a zone); required when stdin is not a terminal.
        #[arg(long)]
        yes: bool,
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
        /// The plan as a JSON array on stdout: each step's action, id, detail and changed properties.
        #[arg(long)]
        json: bool,
    },
    /// The monthly cost of the stack the parameters describe (built or not; no state needed).
    #[command(
        after_help = "Prices: the AWS Price List Query API (pricing:GetProducts) when it answers, else the table shipped with provision; the output says which.\nThe NAT gateway's hours and GB are waived one for one beside the Network Firewall endpoints (AWS pricing).\n\nExamples:\n  provision cost\n  provision cost --zones 3 --users alice,bob --json\n  provision cost --app-hours 0   # idle"
    )]
    Cost {
        /// The cost as one JSON object on stdout: monthly_usd, items, prices (source, date) and assumptions.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        assume: CostAssumptions,
    },
    /// Compare the recorded resources with what exists now (present, missing, changed, retained).
    #[command(after_help = "Exit code 1 when something is missing or drifted.\n\nExample:\n  provision status --json")]
    Status {
        /// The report as a JSON array on stdout: each resource's state, id and detail.
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
    Completions {
        /// The shell the script is for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff, from the same definitions as --help): provision(1), or a command's.
    #[command(
        after_help = "Examples:\n  provision man | man -l -\n  provision man up | man -l -\n  provision man > /usr/local/share/man/man1/provision.1"
    )]
    Man {
        /// A command's page, provision-COMMAND(1) (default: provision(1), which lists every command).
        command: Option<String>,
    },
    /// Check every security control of the live stack (one line per control, with evidence).
    #[command(after_help = "Exit code 1 when a control fails.\n\nExample:\n  provision verify --json")]
    Verify {
        /// The controls as JSON on stdout: each control's name, result and detail.
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
        after_help = "For a lost state file: the record back before deciding (`provision status` then shows\nwhat is there; `provision up` resumes; `provision down` removes it). Refuses to overwrite a\nstate file that exists. It prints how many steps it found; --verbose lists each with its id.\n\nExample:\n  provision --project my-stack import"
    )]
    Import {
        /// List every step found with its resource's id, one a line (`provision status` shows them too).
        #[arg(long)]
        verbose: bool,
    },
    /// Print the least-privilege IAM policy an operator needs to run provision.
    #[command(
        after_help = "With --state s3://BUCKET/KEY the policy also grants the state's object and lock calls,\nscoped to that key.\n\nExamples:\n  provision iam-policy > operator-policy.json\n  provision iam-policy --explain\n  provision --state s3://team-state/sagemaker-studio-anfw.json iam-policy"
    )]
    IamPolicy {
        /// Instead of the policy, say for each action it grants which calls need it, and when.
        #[arg(long)]
        explain: bool,
    },
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
        /// Every output as one JSON object on stdout (with KEY: that output as JSON).
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
        /// Domains (`example.com`) or suffixes (`.example.com`: the domain and its subdomains).
        #[arg(required = true)]
        domains: Vec<String>,
    },
    /// Remove domains from the allow-list (the last one cannot be removed).
    Remove {
        /// Domains or suffixes, as the allow-list holds them.
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
            Command::Cost { .. } => "cost",
            Command::StudioUrl { .. } => "studio-url",
            Command::Start { .. } => "start",
            Command::Stop { .. } => "stop",
            Command::Completions { .. } => "completions",
            Command::Man { .. } => "man",
            Command::Verify { .. } => "verify",
            Command::Jumpstart { action: OnOff::Enable } => "jumpstart enable",
            Command::Jumpstart { action: OnOff::Disable } => "jumpstart disable",
            Command::Jumpstart { action: OnOff::Status } => "jumpstart status",
            Command::Firewall { action: FirewallAction::List } => "firewall list",
            Command::Firewall { action: FirewallAction::Allow { .. } } => "firewall allow",
            Command::Firewall { action: FirewallAction::Remove { .. } } => "firewall remove",
            Command::IamPolicy { .. } => "iam-policy",
            Command::Import { .. } => "import",
            Command::Outputs { .. } => "outputs",
            Command::ForceUnlock { .. } => "force-unlock",
            Command::State { action: StateAction::Init { .. } } => "state init",
            Command::State { action: StateAction::Push { .. } } => "state push",
            Command::State { action: StateAction::Pull { .. } } => "state pull",
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
            "logging",
            "no-logging",
            "log-retention-days",
            "network-isolation",
        ] {
            let arg = cmd.get_arguments().chain(up.get_arguments()).find(|a| a.get_long() == Some(name)).unwrap();
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(help.contains("[default: "), "--{name} shows its default: '{help}'");
        }
    }

    /// The parameters' flags parse into the one declaration (`config::RawParams`):
    /// `--no-logging` is `logging = false`, an absent flag is `None`.
    #[test]
    fn parameter_flags_are_the_declared_parameters() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            let mut cli = super::Cli::parse_from(args);
            cli.global.fold_switches();
            cli
        };
        let cli = parse(&["provision", "--no-logging", "--region", "eu-west-1", "status"]);
        assert_eq!(cli.global.params.logging, Some(false));
        assert_eq!(parse(&["provision", "up", "--logging=false"]).global.params.logging, Some(false));
        assert_eq!(parse(&["provision", "up", "--logging"]).global.params.logging, Some(true));
        assert!(super::Cli::try_parse_from(["provision", "up", "--logging", "--no-logging"]).is_err());
        assert_eq!(cli.global.params.region.as_deref(), Some("eu-west-1"));
        let cli = super::Cli::parse_from(["provision", "status", "--users", "a,b", "--expect-account", "123456789012"]);
        assert_eq!(cli.global.params.logging, None);
        assert_eq!(cli.global.params.users, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(cli.global.params.expect_account.as_deref(), Some("123456789012"));
        assert_eq!(cli.global.params.network_isolation, None);
        let cli = super::Cli::parse_from(["provision", "up", "--network-isolation"]);
        assert_eq!(cli.global.params.network_isolation, Some(true));
        let cli = super::Cli::parse_from(["provision", "up", "--network-isolation=false"]);
        assert_eq!(cli.global.params.network_isolation, Some(false));
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

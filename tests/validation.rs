//! Bad input is refused before any AWS call: exit code 2, a message naming
//! the parameter (and value), no call in the emulator's log, no state file.

mod common;

use common::*;

/// (args, what the message must contain)
const CASES: &[(&[&str], &str)] = &[
    (&["--vpc-cidr", "10.0.0.0/8"], "vpc_cidr: '10.0.0.0/8' has prefix /8, AWS allows /16 to /28"),
    (&["--vpc-cidr", "10.2.0.0/29"], "vpc_cidr: '10.2.0.0/29' has prefix /29"),
    (&["--vpc-cidr", "not-a-cidr"], "vpc_cidr: 'not-a-cidr' is not an IPv4 CIDR"),
    (&["--vpc-cidr", "10.2.0.1/16"], "vpc_cidr: '10.2.0.1/16' has host bits set"),
    (&["--vpc-cidr", "300.1.1.0/24"], "vpc_cidr: '300.1.1.0/24' is not an IPv4 CIDR"),
    (
        &["--firewall-subnet-cidr", "10.3.1.0/24"],
        "firewall_subnet_cidr: '10.3.1.0/24' is not inside vpc_cidr '10.2.0.0/16'",
    ),
    (&["--nat-subnet-cidr", "10.2.1.0/24"], "nat_subnet_cidr: '10.2.1.0/24' overlaps firewall_subnet_cidr"),
    (&["--sagemaker-subnet-cidr", "10.2.0.0/16"], "sagemaker_subnet_cidr: '10.2.0.0/16' overlaps"),
    (&["--sagemaker-subnet-cidr", "10.2.3.0/30"], "sagemaker_subnet_cidr: '10.2.3.0/30' has prefix /30"),
    (&["--project", "Bad_Name"], "project: 'Bad_Name' must start with a lowercase letter"),
    (&["--project", "1abc"], "project: '1abc' must start with a lowercase letter"),
    (&["--project", "abc-"], "project: 'abc-' must not end with '-'"),
    (&["--project", "a--b"], "project: 'a--b' must not end with '-' or contain '--'"),
    (&["--project", "abcdefghijklmnopqrstuvwxyz-abcd"], "S3 allows at most 63"),
    (&["--project", ""], "project: '' must start with a lowercase letter"),
    (&["--domain-name=-bad"], "domain_name: '-bad' does not match SageMaker's name rule"),
    (&["--domain-name", "a_b"], "domain_name: 'a_b' does not match"),
    (&["--domain-name", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"], "domain_name: 'aaaa"),
    (&["--user-profile-name", "bad name"], "user_profile_name: 'bad name' does not match"),
    (&["--allowed-domains", ""], "allowed_domains: '' is not a domain name"),
    (&["--allowed-domains", "localhost"], "allowed_domains: 'localhost' is not a domain name"),
    (&["--allowed-domains", "exa mple.com"], "allowed_domains: 'exa mple.com'"),
    (&["--allowed-domains", "*.example.com"], "allowed_domains: '*.example.com'"),
    (&["--allowed-domains", ".kaggle.com,.-bad.com"], "allowed_domains: '.-bad.com'"),
    (
        &["--allowed-domains", ".kaggle.com,.amazonaws.com"],
        "allowed_domains: '.amazonaws.com' admits every AWS endpoint",
    ),
    // Offline only the shape: whether a region offers the services is the pre-flight's
    // question to AWS (tests/preflight.rs, the_region_s_services_are_asked_of_aws).
    (&["--region", "moon-1"], "region: 'moon-1' is not a region name"),
    (&["--region", "us_east_1"], "region: 'us_east_1' is not a region name"),
    (&["--region", "US-EAST-1"], "region: 'US-EAST-1' is not a region name"),
    (&["--availability-zone", "us-west-2a"], "availability_zone: 'us-west-2a' is not a zone of region 'us-east-1'"),
    (&["--availability-zone", "us-east-1"], "availability_zone: 'us-east-1' is not a zone"),
    (
        &["--log-retention-days", "2"],
        "log_retention_days: 2 is not a retention CloudWatch Logs accepts (one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)",
    ),
    (&["--log-retention-days", "0"], "log_retention_days: 0 is not a retention CloudWatch Logs accepts"),
    (&["--app-image", "my-image"], "app_image: 'my-image' is not a SageMaker image ARN"),
    (
        &["--app-image", "arn:aws:sagemaker:us-west-2:542918446943:image/sagemaker-distribution-cpu"],
        "app_image: 'arn:aws:sagemaker:us-west-2:542918446943:image/sagemaker-distribution-cpu' is an image of region us-west-2; the stack's apps run in us-east-1",
    ),
    (
        &["--app-image", "arn:aws:sagemaker:us-east-1:885854791233:image-version/sagemaker-distribution-cpu/latest"],
        "names 'image-version/sagemaker-distribution-cpu/latest', not image/NAME or image-version/NAME/VERSION",
    ),
    (&["--app-image", "arn:aws-cn:sagemaker:us-east-1:123456789012:image/x"], "is in partition 'aws-cn'"),
    (&["--app-image", "arn:aws:ecr:us-east-1:123456789012:repository/x"], "is not a SageMaker image ARN"),
    (&["--parallelism", "0"], "--parallelism"),
    (&["--parallelism", "1000"], "--parallelism"),
];

/// (config file body, what the message must contain)
const CONFIG_CASES: &[(&str, &str)] = &[
    ("vpc_cidrr = \"10.0.0.0/16\"\n", "line 1 (vpc_cidrr = \"10.0.0.0/16\"): unknown field `vpc_cidrr`"),
    ("project = \"ok\"\nvpc_cidr = 5\n", "line 2"),
    ("allowed_domains = \".kaggle.com\"\n", "allowed_domains"),
    ("project = \"unterminated\n", "line 1"),
    ("vpc_cidr = \"10.0.0.0/8\"\n", "vpc_cidr: '10.0.0.0/8' has prefix /8"),
    ("allowed_domains = []\n", "allowed_domains: the list is empty"),
    (
        "allowed_domains = [\"pypi.org\", \".aws.amazon.com\"]\n",
        "allowed_domains: '.aws.amazon.com' admits every AWS endpoint",
    ),
    ("log_retention_days = 366\n", "log_retention_days: 366 is not a retention CloudWatch Logs accepts"),
    ("logging = \"no\"\n", "line 1 (logging = \"no\")"),
    ("vpc_cidr = 10.2.0.0/16\n", "line 1 (vpc_cidr = 10.2.0.0/16)"),
    ("vpc_cidr = 10.2.0.0/16\n", "vpc_cidr is text, which TOML quotes: vpc_cidr = \"10.2.0.0/16\""),
    (
        "app_image = \"arn:aws:sagemaker:us-east-1:12:image/x\"\n",
        "app_image: 'arn:aws:sagemaker:us-east-1:12:image/x' has account '12', not 12 digits",
    ),
];

fn run(emu: &Emulator, args: &[&str]) -> (Option<i32>, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "").unwrap();
    let mut full = vec!["up"];
    full.extend_from_slice(args);
    let o = provision(emu, dir.path(), &full);
    (o.status.code(), text(&o), dir.path().join("state").exists())
}

#[test]
fn every_rule_refuses_before_any_aws_call() {
    let emu = Emulator::start("0", &[]);
    let mut n = 0;
    for (args, want) in CASES {
        emu.clear_calls();
        let (code, t, state) = run(&emu, args);
        assert_eq!(code, Some(2), "{args:?}: {t}");
        assert!(t.contains(want), "{args:?}: expected {want:?} in:\n{t}");
        assert!(emu.calls().is_empty(), "{args:?}: AWS calls made: {:?}", emu.calls());
        assert!(!state, "{args:?}: a state directory appeared");
        n += 1;
    }
    for (body, want) in CONFIG_CASES {
        emu.clear_calls();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, body).unwrap();
        let o = provision(&emu, dir.path(), &["up", "--config", "bad.toml"]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{body:?}: {t}");
        assert!(t.contains(want), "{body:?}: expected {want:?} in:\n{t}");
        assert!(t.contains("bad.toml") || want.contains(':'), "{body:?}: names the file: {t}");
        assert!(emu.calls().is_empty(), "{body:?}: AWS calls made");
        assert!(!dir.path().join("state").exists());
        n += 1;
    }
    assert!(n >= 30, "{n} bad inputs");
}

#[test]
fn all_broken_rules_are_reported_in_one_run() {
    let emu = Emulator::start("0", &[]);
    let (code, t, _) = run(
        &emu,
        &[
            "--vpc-cidr",
            "10.0.0.0/8",
            "--project",
            "X",
            "--allowed-domains",
            "localhost",
            "--availability-zone",
            "eu-west-1a",
        ],
    );
    assert_eq!(code, Some(2), "{t}");
    for p in ["vpc_cidr:", "project:", "allowed_domains:", "availability_zone:"] {
        assert!(t.contains(p), "{p} missing from: {t}");
    }
    assert!(emu.calls().is_empty());
}

#[test]
fn a_missing_config_file_is_named() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    let o = provision(&emu, dir.path(), &["up", "--config", "nope.toml"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("config file nope.toml"), "{t}");
    let o = provision(&emu, dir.path(), &["plan", "--purge-efs"]);
    assert_eq!(o.status.code(), Some(2), "conflicting flags: {}", text(&o));
    assert!(text(&o).contains("--destroy"), "{}", text(&o));
    assert!(emu.calls().is_empty());
}

/// An explicit config file's region wins over `AWS_REGION`, and the run says which source
/// set it; without a region in the file (or `--region`), `AWS_REGION` is the region.
#[test]
fn a_config_files_region_wins_over_aws_region() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    let plan = |file: &str| {
        std::fs::write(dir.path().join("c.toml"), file).unwrap();
        let o = Run::new(&emu, dir.path())
            .with_root_keys()
            .without_region()
            .env("AWS_REGION", "moon-1")
            .args(["--config", "c.toml", "plan"])
            .output();
        (o.status.code(), text(&o))
    };
    let (code, t) = plan("region = \"us-east-1\"\n");
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("region us-east-1 from the config file c.toml, not AWS_REGION=moon-1"), "{t}");
    let (code, t) = plan("");
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("region: 'moon-1' is not a region name"), "{t}");
    assert!(!t.contains("from the config file"), "{t}");
}

//! Pre-flight (issue 16): each problem planted in the emulator makes `up`
//! exit 2 naming it, with no mutating call and no state file; `plan` shows
//! the result first. Destructive commands confirm: `down` without `--yes`
//! and without a terminal is refused; on a terminal it asks.

mod common;

use common::*;
use serde_json::json;

const SCALE: &str = "0";

/// `up` with `args` is refused by pre-flight naming `expect`: exit 2, no
/// mutating call, no state file.
fn refused(emu: &Emulator, args: &[&str], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    emu.clear_calls();
    let o = provision(emu, dir.path(), args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("pre-flight found") && t.contains(expect), "names {expect}: {t}");
    assert!(t.contains("nothing was created"), "{t}");
    let mutating = emu.mutating_calls();
    assert!(mutating.is_empty(), "pre-flight made mutating calls: {mutating:?}");
    assert!(!dir.path().join("state").exists(), "no state file: {t}");
}

#[test]
fn each_account_problem_is_found_before_anything_is_created() {
    let emu = Emulator::start(SCALE, &[]);
    // A zone that does not exist.
    refused(&emu, &["up", "--availability-zone", "us-east-1z"], "'us-east-1z' is not an available zone of us-east-1");

    let sdk = rt();
    let (ec2, sm) = sdk.block_on(async {
        let c = emu.sdk().await;
        (aws_sdk_ec2::Client::new(&c), aws_sdk_sagemaker::Client::new(&c))
    });
    // Elastic IPs at the quota (5, the documented default: Service Quotas has no EC2 answer here).
    let eips: Vec<String> = sdk.block_on(async {
        let mut ids = Vec::new();
        for _ in 0..5 {
            let a = ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send().await.unwrap();
            ids.push(a.allocation_id().unwrap().to_string());
        }
        ids
    });
    refused(&emu, &["up"], "quota: EC2-VPC Elastic IPs: 5 in use + 1 this stack adds > 5");
    // What pre-flight guards against is real: the emulator refuses the 6th address as AWS does.
    let sixth = sdk.block_on(ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send());
    let code = sixth.map(|_| String::new()).unwrap_err().into_service_error().meta().code().map(str::to_string);
    assert_eq!(code.as_deref(), Some("AddressLimitExceeded"));
    // A raised quota (Service Quotas answers it) is what pre-flight then counts against.
    emu.control_post("quotas", json!({"L-0263D0A3": 6}));
    let dir = tempfile::tempdir().unwrap();
    let plan = provision(&emu, dir.path(), &["plan"]);
    assert!(plan.status.success() && !text(&plan).contains("quota:"), "{}", text(&plan));
    assert!(text(&plan).contains("0 problems"), "{}", text(&plan));
    emu.control_post("quotas", json!({"L-0263D0A3": 5}));
    sdk.block_on(async {
        for id in &eips {
            ec2.release_address().allocation_id(id).send().await.unwrap();
        }
    });

    // A VPC whose CIDR overlaps: a warning, an error with --strict.
    let vpc = sdk.block_on(async {
        let v = ec2.create_vpc().cidr_block("10.2.0.0/20").send().await.unwrap();
        v.vpc().unwrap().vpc_id().unwrap().to_string()
    });
    refused(&emu, &["up", "--strict"], &format!("vpc_cidr: 10.2.0.0/16 overlaps {vpc} (10.2.0.0/20)"));
    let dir = tempfile::tempdir().unwrap();
    let plan = provision(&emu, dir.path(), &["plan"]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(
        String::from_utf8_lossy(&plan.stderr).starts_with("pre-flight:") && text(&plan).contains("warning: vpc_cidr"),
        "plan shows the pre-flight result first: {}",
        text(&plan)
    );
    sdk.block_on(async { ec2.delete_vpc().vpc_id(&vpc).send().await.unwrap() });

    // A SageMaker domain of the same name, not this stack's (no tags).
    let domain = sdk.block_on(async {
        let v = ec2.create_vpc().cidr_block("10.9.0.0/16").send().await.unwrap();
        let vpc = v.vpc().unwrap().vpc_id().unwrap().to_string();
        let s = ec2.create_subnet().vpc_id(&vpc).cidr_block("10.9.1.0/24").send().await.unwrap();
        let subnet = s.subnet().unwrap().subnet_id().unwrap().to_string();
        let d = sm
            .create_domain()
            .domain_name("sagemaker-anfw-domain-us-east-1")
            .auth_mode(aws_sdk_sagemaker::types::AuthMode::Iam)
            .vpc_id(&vpc)
            .subnet_ids(&subnet)
            .default_user_settings(
                aws_sdk_sagemaker::types::UserSettings::builder()
                    .execution_role("arn:aws:iam::123456789012:role/someone-else")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        d.domain_arn().unwrap().rsplit('/').next().unwrap().to_string()
    });
    refused(&emu, &["up"], &format!("taken by SageMaker domain {domain}"));
    refused(&emu, &["up"], "choose another with --domain-name");
    // Another name passes pre-flight and builds the stack.
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up", "--domain-name", "mine"]);
    let st = state_json(dir.path());
    assert_eq!(st["steps"]["sm.domain"]["status"], "ready");

    // A second state file for the same stack: every name is this stack's
    // but not recorded there, so `up` is refused before any create.
    refused(&emu, &["up", "--domain-name", "mine"], "another state file manages this stack");
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--yes"]);
}

#[test]
fn expect_account_refuses_another_account() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    emu.clear_calls();
    let o = provision(&emu, dir.path(), &["up", "--expect-account", "999999999999"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("expect_account: the credentials belong to account 123456789012"), "{}", text(&o));
    assert!(emu.calls().iter().all(|c| !is_mutating(c)));
    assert!(!dir.path().join("state").exists());
    let o = provision(&emu, dir.path(), &["plan", "--expect-account", "123456789012"]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn values_starting_with_a_dash_are_named_not_misparsed() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let o = provision(&emu, dir.path(), &["up", "--user-profile-name", "-starts-with-dash"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("user_profile_name: '-starts-with-dash'"), "{}", text(&o));
}

fn on_terminal(emu: &Emulator, dir: &std::path::Path, args: &str, input: &str) -> (Option<i32>, String) {
    on_terminal_at(emu, dir, "0", args, input)
}

#[test]
fn down_asks_on_a_terminal_and_refuses_without_one() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let bucket = step_id(&state_json(d), "bucket.data");
    let before = rt().block_on(inventory(&emu));

    // No terminal, no --yes: refused, nothing deleted.
    let o = provision(&emu, d, &["down", "--purge-efs"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("will delete") && text(&o).contains("--yes"), "{}", text(&o));
    assert_eq!(rt().block_on(inventory(&emu)), before);

    // A terminal, answered "no": cancelled, nothing deleted.
    let (code, screen) = on_terminal(&emu, d, "down --purge-efs", "no\n");
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains("Only 'yes' is accepted") && screen.contains("cancelled"), "{screen}");
    assert_eq!(rt().block_on(inventory(&emu)), before);
    // Ctrl-D (end of input) cancels too, and the refusal starts a line of its own.
    let (code, screen) = on_terminal(&emu, d, "down --purge-efs", "\u{4}");
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains("cancelled"), "{screen}");
    assert!(screen.lines().all(|l| !(l.contains("Only 'yes' is accepted") && l.contains("cancelled"))), "{screen}");
    assert_eq!(rt().block_on(inventory(&emu)), before);

    // --delete-data asks again, naming the bucket and its objects.
    rt().block_on(async {
        let s3 = emu.s3().await;
        s3.delete_bucket_policy().bucket(&bucket).send().await.unwrap();
        s3.put_object().bucket(&bucket).key("a.csv").body(b"x".to_vec().into()).send().await.unwrap();
    });
    let (code, screen) = on_terminal(&emu, d, "down --purge-efs --delete-data", "yes\nno\n");
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains(&format!("{bucket} (1 objects)")), "{screen}");

    // Both answered yes: the stack is gone.
    let (code, screen) = on_terminal(&emu, d, "down --purge-efs --delete-data", "yes\nyes\n");
    assert_eq!(code, Some(0), "{screen}");
    assert!(rt().block_on(inventory(&emu)).is_empty());
}

/// Issue 33: JupyterLab apps need an image, and the image's ARN differs per
/// region (`src/config/app_image.rs`). A region the table of SageMaker
/// Distribution images does not cover is refused by pre-flight, naming the
/// region and `app_image`, before anything is created; with `app_image`
/// the problem is gone.
#[test]
fn a_region_without_a_known_jupyterlab_image_needs_app_image() {
    let emu = Emulator::start(SCALE, &[]);
    let run = |args: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        emu.clear_calls();
        // output(): stdin is null.
        let o =
            Run::new(&emu, dir.path()).region("ap-southeast-4").scale(SCALE).arg("--any-region").args(args).output();
        let mutating = emu.mutating_calls();
        (o.status.code(), text(&o), dir.path().join("state").exists(), mutating)
    };
    let (code, t, state, mutating) = run(&["up"]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("pre-flight found") && t.contains("nothing was created"), "{t}");
    assert!(t.contains("region: ap-southeast-4 has no SageMaker Distribution image"), "names the region: {t}");
    assert!(t.contains("give app_image (--app-image ARN)"), "says what to do: {t}");
    assert!(mutating.is_empty(), "{mutating:?}");
    assert!(!state, "no state file: {t}");
    let pinned = "arn:aws:sagemaker:ap-southeast-4:123456789012:image/team-image";
    let (_, t, _, mutating) = run(&["plan", "--app-image", pinned]);
    assert!(t.contains("pre-flight"), "{t}");
    assert!(!t.contains("SageMaker Distribution image"), "a pinned image needs no table: {t}");
    assert!(mutating.is_empty(), "{mutating:?}");
}

/// A state directory this run cannot write (immutable here, `chattr +i`, as
/// root ignores permission bits; else mode 0555) is refused before the
/// pre-flight and any AWS change: exit 2, naming the directory.
#[test]
fn a_read_only_state_directory_is_refused_before_anything() {
    use std::os::unix::fs::PermissionsExt;
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let immutable =
        std::process::Command::new("chattr").arg("+i").arg(&state).output().is_ok_and(|o| o.status.success());
    if !immutable {
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let undo = || {
        if immutable {
            std::process::Command::new("chattr").arg("-i").arg(&state).status().unwrap();
        }
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    if std::fs::write(state.join("probe"), "").is_ok() {
        undo();
        eprintln!("skipped: this user can write a read-only directory here");
        return;
    }
    emu.clear_calls();
    let o = provision(&emu, dir.path(), &["up"]);
    undo();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("state file state/sagemaker-studio-anfw.json cannot be written (state: "), "{t}");
    assert!(t.contains("--state FILE") && !t.contains("pre-flight"), "refused before the pre-flight: {t}");
    assert!(emu.mutating_calls().is_empty(), "{:?}", emu.mutating_calls());
}

/// Whether the region offers Network Firewall and SageMaker is asked of AWS
/// (Systems Manager's public parameters of regions and services), not of a
/// list: a region the parameters say lacks Network Firewall stops `up` with
/// exit 2 naming the region and the service, before any mutating call, and
/// `--any-region` turns it into a warning; a region outside the original
/// sample's eight that offers both passes.
#[test]
fn the_region_s_services_are_asked_of_aws() {
    let emu = Emulator::start(SCALE, &[]);
    let run = |region: &str, args: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        emu.clear_calls();
        let o = Run::new(&emu, dir.path()).region(region).scale(SCALE).args(args).output();
        let state = dir.path().join("state").exists();
        (o.status.code(), text(&o), state)
    };
    // sa-east-1 and ca-central-1 were refused offline before; AWS says both offer both services.
    for region in ["sa-east-1", "ca-central-1"] {
        let (code, t, _) = run(region, &["plan"]);
        assert_eq!(code, Some(0), "{t}");
        assert!(t.contains(&format!("region {region}")) && t.contains("0 problems"), "{t}");
        assert!(!t.contains("does not offer"), "{t}");
        let asked: Vec<_> = emu.call_log().into_iter().filter(|c| c["operation"] == "ssm:GetParameter").collect();
        assert_eq!(asked.len(), 2, "one GetParameter per service: {asked:?}");
        assert!(asked.iter().all(|c| c["region"] == region), "asked in the region, which answers the path: {asked:?}");
    }

    // A region outside the documented seventeen that answer the path is asked of us-east-1.
    let (_, t, _) = run("ap-southeast-7", &["plan"]);
    assert!(t.contains("region ap-southeast-7") && !t.contains("does not offer"), "{t}");
    let asked: Vec<_> = emu.call_log().into_iter().filter(|c| c["operation"] == "ssm:GetParameter").collect();
    assert!(asked.len() == 2 && asked.iter().all(|c| c["region"] == "us-east-1"), "{asked:?}");

    // The parameters say ca-central-1 lacks Network Firewall.
    emu.control_post(
        "force-state",
        json!({"kind": "region_service", "region": "ca-central-1", "service": "network-firewall", "offered": false}),
    );
    let (code, t, state) = run("ca-central-1", &["up"]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("pre-flight found 1 problem; nothing was created"), "{t}");
    assert!(
        t.contains("region: ca-central-1 does not offer AWS Network Firewall, which the stack needs")
            && t.contains("/aws/service/global-infrastructure/regions/ca-central-1/services/network-firewall")
            && t.contains("pass --any-region"),
        "names the region, the service and the way out: {t}"
    );
    assert!(!t.contains("Amazon SageMaker"), "SageMaker is offered there: {t}");
    assert!(emu.mutating_calls().is_empty(), "{:?}", emu.mutating_calls());
    assert!(!state, "no state file: {t}");
    // --any-region: said, not stopping.
    let (code, t, _) = run("ca-central-1", &["plan", "--any-region"]);
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("warning: region: ca-central-1 does not offer AWS Network Firewall"), "{t}");
    assert!(t.contains("going on: --any-region") && t.contains("0 problems"), "{t}");
}

/// The parameters cannot be read (the operator's policy lacks
/// ssm:GetParameter, or Systems Manager does not answer): a warning, and
/// the pre-flight goes on without the check.
#[test]
fn unreadable_region_parameters_are_a_warning_not_a_stop() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    emu.control_post(
        "faults",
        json!({"operation": "ssm:GetParameter", "count": 100, "error_code": "AccessDeniedException", "status": 400,
               "message": "User is not authorized to perform: ssm:GetParameter"}),
    );
    let o = provision(&emu, dir.path(), &["plan"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("warning: region: whether us-east-1 offers AWS Network Firewall could not be read")
            && t.contains("AccessDeniedException")
            && t.contains("going on without that check"),
        "{t}"
    );
    assert!(t.contains("0 problems"), "{t}");
}

/// Before anything changes, `up` says on one line which account it runs in,
/// as whom, and which source of the SDK's chain gave the credentials: the
/// environment's keys, or a profile (`--profile`, or `AWS_PROFILE`).
#[test]
fn up_names_the_credentials_and_the_account_before_any_change() {
    let emu = Emulator::start(SCALE, &[]);
    let identity = |t: &str| t.lines().find(|l| l.starts_with("pre-flight: account")).map(str::to_string);
    let dir = tempfile::tempdir().unwrap();
    let o = provision(&emu, dir.path(), &["plan"]);
    let line = identity(&text(&o)).unwrap_or_else(|| panic!("{}", text(&o)));
    assert!(
        line.starts_with("pre-flight: account 123456789012 as arn:aws:iam::123456789012:user/")
            && line.contains("(credentials: the environment (AWS_ACCESS_KEY_ID)), region us-east-1"),
        "{line}"
    );

    // A profile of the AWS config files, by --profile and by AWS_PROFILE.
    let aws = tempfile::tempdir().unwrap();
    let creds = aws.path().join("credentials");
    std::fs::write(&creds, "[dev]\naws_access_key_id = test\naws_secret_access_key = test\n").unwrap();
    let config = aws.path().join("config");
    std::fs::write(&config, "").unwrap();
    let with_profile = |dir: &std::path::Path| {
        Run::new(&emu, dir)
            .with_root_keys()
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
            .env("AWS_CONFIG_FILE", &config)
    };
    let dir = tempfile::tempdir().unwrap();
    emu.clear_calls();
    let o = with_profile(dir.path()).args(["--profile", "dev", "up"]).output();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let line = identity(&t).unwrap_or_else(|| panic!("{t}"));
    assert!(line.contains("(credentials: profile dev), region us-east-1"), "{line}");
    let first_step = t.find("] ").unwrap_or(t.len());
    assert!(t.find("pre-flight: account").unwrap() < first_step, "said before the first step: {t}");
    let dir = tempfile::tempdir().unwrap();
    let o = with_profile(dir.path()).env("AWS_PROFILE", "dev").args(["plan"]).output();
    let line = identity(&text(&o)).unwrap_or_else(|| panic!("{}", text(&o)));
    assert!(line.contains("(credentials: profile dev), region us-east-1"), "{line}");
}

//! The state in S3 for teams and CI (issue 15), against the emulator:
//! `state init` makes the bucket as a state bucket should be (and is a no-op
//! the second time, and refuses a bucket that is not ours); `up`, `status`
//! and `down --purge-efs` run on `--state s3://…` with no local file and one
//! bucket version per state write; two `up` runs at once: one proceeds, the
//! other is refused at once naming the holder; a run killed holding the
//! lock leaves a lock `force-unlock` removes (only with its id); a first
//! Ctrl-C and a failure release the lock; a state changed in S3 under a run
//! stops it without losing either version.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const BUCKET: &str = "team-state";
const KEY: &str = "sagemaker-studio-anfw.json";

fn state_url() -> String {
    format!("s3://{BUCKET}/")
}

/// The real binary against the emulator with the state in S3; every state
/// write is logged (`provision::state=debug`: "state written: ... version V").
/// As the operator (`Run::new`: `iam-policy`'s documents, the state's statements
/// included), but `state init`: the state bucket's administrator makes the bucket,
/// which the operator policy does not grant (`operations::StateOn::Init`), so it
/// runs with the root keys.
fn cmd(emu: &Emulator, dir: &Path, args: &[&str]) -> Run {
    let run = Run::new(emu, dir)
        .args(args)
        .env("PROVISION_STATE", state_url())
        .env("USER", "alice")
        .env("RUST_LOG", "warn,provision::state=debug");
    if args.starts_with(&["state", "init"]) { run.with_root_keys() } else { run }
}

fn run(emu: &Emulator, dir: &Path, args: &[&str]) -> Output {
    cmd(emu, dir, args).output()
}

fn run_ok(emu: &Emulator, dir: &Path, args: &[&str]) -> String {
    cmd(emu, dir, args).ok()
}

fn spawn(emu: &Emulator, dir: &Path, args: &[&str]) -> Child {
    cmd(emu, dir, args).spawn()
}

/// Version ids of the state writes a run logged.
fn written_versions(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.contains("state written: ") && l.contains(&format!("{BUCKET}/{KEY} ")))
        .map(|l| l.split(" version ").nth(1).unwrap().split(' ').next().unwrap().to_string())
        .collect()
}

/// The bucket's versions of `key` (exactly that key), newest first.
async fn versions(emu: &Emulator, key: &str) -> Vec<String> {
    let s3 = emu.s3().await;
    let out = s3.list_object_versions().bucket(BUCKET).prefix(key).send().await.unwrap();
    out.versions().iter().filter(|v| v.key() == Some(key)).map(|v| v.version_id().unwrap().to_string()).collect()
}

async fn get(emu: &Emulator, key: &str) -> Option<Vec<u8>> {
    let s3 = emu.s3().await;
    match s3.get_object().bucket(BUCKET).key(key).send().await {
        Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(_) => None,
    }
}

fn state_doc(emu: &Emulator) -> Option<Value> {
    rt().block_on(get(emu, KEY)).map(|b| serde_json::from_slice(&b).unwrap())
}

fn lock_doc(emu: &Emulator) -> Option<Value> {
    rt().block_on(get(emu, &format!("{KEY}.lock"))).map(|b| serde_json::from_slice(&b).unwrap())
}

fn init(emu: &Emulator, dir: &Path) {
    let out = run_ok(emu, dir, &["state", "init", &format!("s3://{BUCKET}")]);
    assert!(out.contains("is ready"), "{out}");
}

/// The stack's resources by kind (as `tests/resume.rs` expects them), the state bucket left out.
fn expected() -> BTreeMap<String, usize> {
    stack_counts(1, 1)
}

fn stack_inventory(emu: &Emulator) -> BTreeSet<String> {
    let mut inv = rt().block_on(inventory(emu));
    inv.remove(&format!("bucket {BUCKET}"));
    inv
}

fn counts(emu: &Emulator) -> BTreeMap<String, usize> {
    let mut c = count_kinds(&stack_inventory(emu));
    c.remove("eni");
    c
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(dir) {
        out.push(e.strip_prefix(dir).unwrap().display().to_string());
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn state_init_makes_a_state_bucket_once_and_refuses_one_that_is_not_ours() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    emu.clear_calls();
    let first = run_ok(&emu, d, &["state", "init", &format!("s3://{BUCKET}/envs")]);
    assert!(first.contains(&format!("created bucket {BUCKET}")), "{first}");
    assert!(first.contains("PROVISION_STATE=s3://team-state/envs/"), "{first}");
    assert!(emu.calls().iter().any(|c| c == "s3:PutBucketPolicy"), "{:?}", emu.calls());

    emu.clear_calls();
    let again = run_ok(&emu, d, &["state", "init", &format!("s3://{BUCKET}")]);
    assert!(again.contains("already as required: nothing changed"), "{again}");
    let calls = emu.calls();
    let changes: Vec<&String> =
        calls.iter().filter(|c| !["Get", "Head", "List"].iter().any(|p| c.starts_with(&format!("s3:{p}")))).collect();
    assert!(changes.is_empty(), "the second init changed something: {calls:?}");

    // The settings, through the SDK.
    rt().block_on(async {
        use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryption};
        let s3 = emu.s3().await;
        let v = s3.get_bucket_versioning().bucket(BUCKET).send().await.unwrap();
        assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
        let enc = s3.get_bucket_encryption().bucket(BUCKET).send().await.unwrap();
        let rules = enc.server_side_encryption_configuration().unwrap().rules();
        assert_eq!(rules.len(), 1);
        let by_default = rules[0].apply_server_side_encryption_by_default().unwrap();
        assert_eq!(by_default.sse_algorithm(), &ServerSideEncryption::AwsKms, "SSE-KMS");
        let pab = s3.get_public_access_block().bucket(BUCKET).send().await.unwrap();
        let pab = pab.public_access_block_configuration().unwrap();
        assert_eq!(
            (
                pab.block_public_acls(),
                pab.ignore_public_acls(),
                pab.block_public_policy(),
                pab.restrict_public_buckets()
            ),
            (Some(true), Some(true), Some(true), Some(true))
        );
        let policy: Value =
            serde_json::from_str(s3.get_bucket_policy().bucket(BUCKET).send().await.unwrap().policy().unwrap())
                .unwrap();
        let st = policy["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 1, "one statement, nothing else: {policy}");
        assert_eq!(st[0]["Effect"], "Deny");
        assert_eq!(st[0]["Principal"], "*");
        assert_eq!(st[0]["Action"], "s3:*");
        assert_eq!(st[0]["Resource"], json!([format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/*")]));
        assert_eq!(st[0]["Condition"], json!({"Bool": {"aws:SecureTransport": "false"}}));
        let tags = s3.get_bucket_tagging().bucket(BUCKET).send().await.unwrap();
        assert!(tags.tag_set().iter().any(|t| t.key() == "provision:state-bucket" && t.value() == "true"));
        // Nothing else: no lifecycle rules, no logging.
        assert!(s3.get_bucket_lifecycle_configuration().bucket(BUCKET).send().await.is_err());

        // A bucket of the same account made by someone else: refused, left as it was.
        s3.create_bucket().bucket("someone-elses").send().await.unwrap();
    });
    emu.clear_calls();
    let o = run(&emu, d, &["state", "init", "s3://someone-elses"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("bucket someone-elses exists without the tag") && t.contains("nothing was changed"), "{t}");
    let calls = emu.calls();
    assert!(!calls.iter().any(|c| c.starts_with("s3:Put") || c.starts_with("s3:Create")), "{calls:?}");
    let o = run(&emu, d, &["state", "init", "s3://Bad_Name"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(files_in(d).is_empty(), "nothing local: {:?}", files_in(d));
}

#[test]
fn up_status_down_on_an_s3_state_one_version_per_write_and_no_local_file() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(&emu, d);
    let up = run_ok(&emu, d, &["up"]);
    assert!(up.contains(&format!("state s3://{BUCKET}/{KEY}")) || up.contains(&format!("s3://{BUCKET}/{KEY}")), "{up}");
    let mut written = written_versions(&up);
    assert!(written.len() > 40, "a write per transition (grouped when simultaneous): {}", written.len());
    assert_eq!(counts(&emu), expected());
    let st = state_doc(&emu).unwrap();
    assert_eq!(st["stack"], "sagemaker-studio-anfw");
    assert_eq!(st["account"], "123456789012");
    assert!(lock_doc(&emu).is_none(), "the lock is released at the end of the run");

    let status = run_ok(&emu, d, &["status"]);
    assert!(status.contains("present"), "{status}");
    assert!(written_versions(&status).is_empty(), "status writes nothing");
    let out = run_ok(&emu, d, &["outputs", "VPCId"]);
    assert!(out.trim().ends_with(st["steps"]["vpc"]["id"].as_str().unwrap()), "{out}");
    let again = run_ok(&emu, d, &["up"]);
    assert!(again.contains("Nothing to do"), "{again}");
    written.extend(written_versions(&again));

    let down = run_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(down.contains("is gone"), "{down}");
    written.extend(written_versions(&down));
    assert!(stack_inventory(&emu).is_empty(), "left after down --purge-efs: {:?}", stack_inventory(&emu));

    // One bucket version per state write, each one a write of these runs.
    let mut listed = rt().block_on(versions(&emu, KEY));
    listed.sort();
    written.sort();
    assert_eq!(listed, written, "the bucket's versions are the state writes");
    assert!(files_in(d).is_empty(), "no local state file: {:?}", files_in(d));

    // The operator policy grants the state's calls on this key.
    let o = run(&emu, d, &["iam-policy"]);
    assert!(o.status.success(), "{}", text(&o));
    let docs: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let objects = docs
        .iter()
        .flat_map(|p| p["Statement"].as_array().unwrap().iter())
        .find(|s| s["Sid"] == "StateObjects")
        .unwrap()
        .clone();
    assert!(
        objects["Resource"].as_array().unwrap().contains(&json!(format!("arn:aws:s3:::{BUCKET}/{KEY}"))),
        "{objects}"
    );
}

#[test]
fn two_ups_at_once_one_proceeds_the_other_is_refused_naming_the_holder() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(&emu, d);
    let started = Instant::now();
    let a = spawn(&emu, d, &["up"]);
    let b = spawn(&emu, d, &["up"]);
    // While one holds the lock: a third run is refused before its pre-flight, within a second, and
    // read-only commands go on.
    let deadline = Instant::now() + Duration::from_secs(30);
    while lock_doc(&emu).is_none() {
        assert!(Instant::now() < deadline, "no run took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let t0 = Instant::now();
    let third = run(&emu, d, &["up"]);
    let took = t0.elapsed();
    let t = text(&third);
    if lock_doc(&emu).is_some() {
        assert_eq!(third.status.code(), Some(3), "{t}");
        assert!(t.contains("is locked by another provision run: `provision up` by alice"), "{t}");
        assert!(!t.contains("pre-flight:"), "refused before its pre-flight: {t}");
        assert!(took < Duration::from_secs(1), "refused within a second: {took:?}");
        for ro in [&["outputs", "--json"][..], &["plan"][..], &["status"][..]] {
            let o = run(&emu, d, ro);
            assert_ne!(o.status.code(), Some(3), "{ro:?} never takes or waits for the lock: {}", text(&o));
            assert!(!text(&o).contains("locked"), "{}", text(&o));
        }
    }
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let all = started.elapsed();
    let (won, lost) = match (a.status.code(), b.status.code()) {
        (Some(0), Some(3)) => (a, b),
        (Some(3), Some(0)) => (b, a),
        other => panic!("exactly one proceeds, one is refused: {other:?}\n{}\n---\n{}", text(&a), text(&b)),
    };
    let t = text(&lost);
    assert!(t.contains("is locked by another provision run: `provision up` by alice on "), "{t}");
    assert!(t.contains(" ago") && t.contains("lock id "), "names the holder and the lock's age: {t}");
    assert!(t.contains("provision force-unlock"), "{t}");
    assert!(text(&won).contains("Stack sagemaker-studio-anfw is up"), "{}", text(&won));
    println!("both runs done after {all:?}");
    assert_eq!(counts(&emu), expected(), "exactly the spec's count of every kind");
    assert!(lock_doc(&emu).is_none());
}

#[test]
fn a_killed_runs_lock_is_named_stale_and_force_unlock_frees_only_its_id_ctrl_c_releases() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(&emu, d);
    let wait_for_steps = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if state_doc(&emu).is_some_and(|s| s["steps"].as_object().is_some_and(|m| m.len() >= n)) {
                break;
            }
            assert!(Instant::now() < deadline, "the run never recorded {n} steps");
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    // A first Ctrl-C: the run stops and releases the lock.
    let child = spawn(&emu, d, &["up"]);
    wait_for_steps(3);
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(lock_doc(&emu).is_none(), "Ctrl-C released the lock: {:?}", lock_doc(&emu));

    // SIGKILL while holding the lock: the lock stays, and says whose it is.
    let mut child = spawn(&emu, d, &["up"]);
    wait_for_steps(10);
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let lock = lock_doc(&emu).expect("the killed run's lock stays");
    assert_eq!(lock["pid"], pid);
    assert_eq!(lock["command"], "provision up");
    assert_eq!(lock["user"], "alice");
    let id = lock["id"].as_str().unwrap().to_string();

    let o = run(&emu, d, &["up"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(
        t.contains("is locked by a run that is gone") && t.contains(&format!("process {pid} no longer runs")),
        "{t}"
    );
    assert!(t.contains(&format!("provision force-unlock {id}")), "names the lock id: {t}");

    let o = run(&emu, d, &["force-unlock", "00000000-0000-0000-0000-000000000000"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains(&format!("has id {id}")) && t.contains("nothing was removed"), "{t}");
    assert_eq!(lock_doc(&emu).unwrap()["id"], id.as_str(), "a wrong id removes nothing");

    let out = run_ok(&emu, d, &["force-unlock", &id]);
    assert!(out.contains(&format!("Removed the lock {id}")), "{out}");
    assert!(lock_doc(&emu).is_none());
    let o = run(&emu, d, &["force-unlock", &id]);
    assert_eq!(o.status.code(), Some(2), "not locked any more: {}", text(&o));

    run_ok(&emu, d, &["up"]);
    assert_eq!(counts(&emu), expected(), "up converges after the killed run");
    assert!(files_in(d).is_empty(), "no local state file: {:?}", files_in(d));
}

#[test]
fn a_state_changed_in_s3_under_a_run_stops_it_and_both_versions_are_kept() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(&emu, d);
    // CreateVpc is held 2 s, so the run is still going when the test changes the state.
    emu.control_post("faults", json!({"operation": "ec2:CreateVpc", "count": 1, "delay_s": 2}));
    let child = spawn(&emu, d, &["up"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut theirs = loop {
        if let Some(s) = state_doc(&emu)
            && s["steps"]["vpc"].is_object()
        {
            break s;
        }
        assert!(Instant::now() < deadline, "the run never recorded its VPC intent");
        std::thread::sleep(Duration::from_millis(5));
    };
    // A teammate's (or a script's) write, unconditional, between the run's read and its next write.
    theirs["params"]["note"] = json!("changed by a teammate");
    let their_bytes = serde_json::to_vec_pretty(&theirs).unwrap();
    rt().block_on(async {
        let s3 = emu.s3().await;
        s3.put_object().bucket(BUCKET).key(KEY).body(their_bytes.clone().into()).send().await.unwrap();
    });
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("was changed by someone else since this run read or wrote it"), "{t}");
    assert!(t.contains("412 PreconditionFailed") && t.contains("Nothing was overwritten"), "{t}");
    assert!(t.contains("because the state changed under this run"), "{t}");

    // Theirs stays current, never overwritten.
    assert_eq!(rt().block_on(get(&emu, KEY)).unwrap(), their_bytes);
    // Ours is kept beside it, and records what the run did: the VPC it created is in it, not lost.
    let aside = t
        .split("saved as s3://team-state/")
        .nth(1)
        .unwrap()
        .split(|c: char| c.is_whitespace() || c == ')')
        .next()
        .unwrap();
    let aside = aside.trim_end_matches('.');
    let ours: Value =
        serde_json::from_slice(&rt().block_on(get(&emu, aside)).expect("the run's version is kept")).unwrap();
    let vpc = ours["steps"]["vpc"]["id"].as_str().expect("the created VPC is recorded in the run's version");
    assert!(stack_inventory(&emu).contains(&format!("vpc {vpc}")), "the recorded VPC exists");
    assert!(ours["params"].get("note").is_none(), "the run's version is its own");
    // Every earlier version of the state is still there: the run's writes and theirs.
    let written = written_versions(&t);
    let listed = rt().block_on(versions(&emu, KEY));
    assert_eq!(listed.len(), written.len() + 1, "the run's writes and the teammate's: {listed:?} vs {written:?}");
    for v in &written {
        assert!(listed.contains(v), "version {v} kept");
    }
    assert!(lock_doc(&emu).is_none(), "a failed run releases the lock too");
    assert!(files_in(d).is_empty(), "no local state file: {:?}", files_in(d));
}

#[test]
fn writes_whose_answer_was_lost_are_recognised_when_the_sdk_retries_them() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(&emu, d);
    // A PutObject that takes effect while the client gets a 500: the SDK retries it, and the
    // retry's condition fails (412) on the write itself. First the lock's (the run's first put),
    // then, mid-run, whatever put comes next (a state write, most likely, or the lock's renewal).
    let lost_answer =
        json!({"operation": "s3:PutObject", "count": 1, "error_code": "InternalError", "status": 500, "apply": true});
    emu.control_post("faults", lost_answer.clone());
    emu.control_post("faults", json!({"operation": "ec2:CreateVpc", "count": 1, "delay_s": 2}));
    let child = spawn(&emu, d, &["up"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !state_doc(&emu).is_some_and(|s| s["steps"]["vpc"].is_object()) {
        assert!(Instant::now() < deadline, "the run never recorded its VPC intent");
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..3 {
        emu.control_post("faults", lost_answer.clone());
        while emu.control_get("faults")["faults"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["operation"] == "s3:PutObject"))
        {
            assert!(Instant::now() < deadline, "no PutObject after the fault");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let o = child.wait_with_output().unwrap();
    let up = text(&o);
    assert!(o.status.success(), "{up}");
    assert!(up.contains("answer lost, found in place"), "a state write was recognised: {up}");
    assert!(!up.contains("changed by someone else") && !up.contains("removed or replaced"), "{up}");
    assert_eq!(counts(&emu), expected());
    assert!(lock_doc(&emu).is_none(), "the lock, taken through a lost answer, is released");
}

/// Issue 27: the state bucket's region comes from one place for every
/// command. With the region only in the config file (no --region, no
/// AWS_REGION, no AWS config), `status`, `outputs`, `state pull` and
/// `force-unlock` all open the same state in S3 (before, `outputs` and
/// `state` knew only the flag's region and could not open it).
#[test]
fn with_the_region_only_in_the_config_file_every_command_opens_the_same_s3_state() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(&emu, d);
    let config = d.join("stack.toml");
    std::fs::write(&config, "region = \"us-east-1\"\n").unwrap();
    let at = format!("state s3://{BUCKET}/{KEY}");
    for args in [&["status"][..], &["outputs"], &["state", "pull", "-"], &["force-unlock", "some-id"]] {
        emu.clear_calls();
        let o = Command::new(env!("CARGO_BIN_EXE_provision"))
            .current_dir(d)
            .args(["--endpoint-url", &emu.url, "--config", config.to_str().unwrap()])
            .args(args)
            .env("PROVISION_STATE", state_url())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", d.join("none"))
            .env("AWS_SHARED_CREDENTIALS_FILE", d.join("none"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("PROVISION_TIME_SCALE", SCALE)
            .output()
            .unwrap();
        let t = text(&o);
        assert!(!o.status.success(), "{args:?}: there is no state yet:\n{t}");
        assert!(t.contains(&at) || t.contains(&format!("s3://{BUCKET}/{KEY}")), "{args:?} names {at}:\n{t}");
        assert!(!t.contains("region is unknown"), "{args:?} knows the bucket's region:\n{t}");
        let calls = emu.calls();
        assert!(calls.iter().any(|c| c.starts_with("s3:")), "{args:?} asked the bucket: {calls:?}");
    }
}

/// Issue 27: `up` reads the state once before the lock (the parameters it
/// records and the pre-flight's view share that read) and once under it.
/// On a second `up` the state exists (a read answers 200) and no lock does
/// (the lock's reads answer 404). Before, `up` read it four times.
#[test]
fn up_reads_the_state_once_before_the_lock_and_once_under_it() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(&emu, d);
    run_ok(&emu, d, &["up"]);
    emu.clear_calls();
    let again = run_ok(&emu, d, &["up"]);
    assert!(again.contains("Nothing to do"), "{again}");
    let calls = emu.control_get("calls")["calls"].as_array().unwrap().clone();
    let s3: Vec<String> = calls
        .iter()
        .filter(|c| c["operation"].as_str().unwrap_or_default().starts_with("s3:"))
        .map(|c| format!("{} {}", c["operation"].as_str().unwrap_or_default(), c["status"]))
        .collect();
    let reads = s3.iter().filter(|c| *c == "s3:GetObject 200").count();
    assert_eq!(reads, 2, "the state's reads (the lock's answer 404): {s3:?}");
}

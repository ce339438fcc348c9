//! Test harness: a real emulator process (emulator/run) on a free port, the
//! real `provision` binary, and SDK clients to check what exists afterwards.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Delays of the emulator and the tool's waits, as a fraction of real time.
pub const SCALE: &str = "0.005";

pub struct Emulator {
    pub url: String,
    child: Child,
    /// The operators made in this emulator (`Operators`), shared with every `Run` against it.
    operators: Operators,
}

/// The steps of a default stack (one zone, one user, logging on): the spec's 48, the 8 of logging,
/// and the log bucket and the three network ACLs of the lockdown. A kind added to the stack
/// changes this one number.
pub const STEPS: usize = 60;

/// The steps `status` shows present on a default stack: `STEPS` and the three SageMaker makes on
/// its own (the home EFS, its mount targets, the NFS security groups).
pub const PRESENT: usize = STEPS + 3;

/// The controls `verify` checks on a default stack: the 25 before the execution role's
/// guardrails, `iam.role_guardrails` and `iam.role_no_extra`, and the lockdown's twelve
/// (`buckets.access_logging`, `vpc.nacl_restricted`, `vpc.nacl_nat`, `vpc.nacl_firewall` and
/// `efs.backup` the last five).
pub const CONTROLS: usize = 39;

/// The access key id the harness's own calls are signed with: a root key (the emulator enforces
/// IAM only for IAM users' and assumed roles' keys, emulator/README.md "IAM"), left out of
/// `calls()`, so making an operator is not the tool's traffic.
pub const HARNESS_KEY: &str = "provision-test-harness";

/// The IAM path of the operators' users and policies: `inventory` leaves them out.
pub const OPERATOR_PATH: &str = "/provision-test-operator/";

/// The operators of one emulator: for each policy document `iam-policy` printed, the access key
/// of the user holding exactly it; and how many of the emulator's denials were already checked.
#[derive(Clone, Default)]
pub struct Operators(std::sync::Arc<std::sync::Mutex<OperatorState>>);

#[derive(Default)]
struct OperatorState {
    by_policy: std::collections::HashMap<String, (String, String)>,
    /// `iam-policy`'s answer by what it depends on (`Run::policy_inputs`).
    policies: std::collections::HashMap<String, serde_json::Value>,
    keys: BTreeSet<String>,
    denials_seen: usize,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the test binary's exit ends: the processes of shared emulators (`until_exit`), and
/// shared directories (`until_exit_dir`). Run by libc's exit, which both a normal end and
/// libtest's exit on a failure go through.
fn at_exit() -> &'static std::sync::Mutex<(Vec<u32>, Vec<PathBuf>)> {
    static AT_EXIT: std::sync::Mutex<(Vec<u32>, Vec<PathBuf>)> = std::sync::Mutex::new((Vec::new(), Vec::new()));
    static REGISTER: std::sync::Once = std::sync::Once::new();
    extern "C" fn end() {
        let (pids, dirs) = AT_EXIT.lock().map(|l| l.clone()).unwrap_or_default();
        for pid in pids {
            // SAFETY: kill(2) of a child process this binary started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        for d in dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
    // SAFETY: registers a function that captures nothing.
    REGISTER.call_once(|| assert_eq!(unsafe { libc::atexit(end) }, 0, "atexit"));
    &AT_EXIT
}

/// A directory kept for the rest of the test binary's life (shared by tests), removed when
/// it exits.
pub fn until_exit_dir(dir: tempfile::TempDir) -> &'static Path {
    let path = dir.keep();
    at_exit().lock().unwrap().1.push(path.clone());
    Box::leak(path.into_boxed_path())
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The seed of the emulator's `--realistic` draws: `PROVISION_TEST_SEED` if set, else
/// derived from the test's name (the thread libtest runs it on), so each test has its own
/// fixed seed and a failure replays with the same draws.
pub fn seed() -> u64 {
    seed_for(std::thread::current().name().unwrap_or("main"))
}

/// `PROVISION_TEST_SEED` if set, else derived from `name`.
pub fn seed_for(name: &str) -> u64 {
    if let Some(s) = std::env::var("PROVISION_TEST_SEED").ok().and_then(|s| s.trim().parse().ok()) {
        return s;
    }
    // FNV-1a: stable across runs and platforms (std's hasher is not).
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    hash % 1_000_000
}

impl Emulator {
    /// An emulator on a free port, always with `--realistic` (eventual consistency, IAM
    /// propagation, throttling, rare 5xx: emulator/README.md) seeded by `seed()`; the seed is
    /// printed, so a failing test's output says how to replay it.
    pub fn start(scale: &str, extra: &[&str]) -> Emulator {
        Emulator::start_as(std::thread::current().name().unwrap_or("?"), scale, extra)
    }

    /// `start` with the seed of `name` (`seed_for`), whichever test's thread starts it: for an
    /// emulator several tests share; the replay line names `name` as the filter.
    pub fn start_as(name: &str, scale: &str, extra: &[&str]) -> Emulator {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let seed = seed_for(name);
        let binary = env!("CARGO_CRATE_NAME");
        eprintln!(
            "emulator: --realistic --seed {seed} (replay: PROVISION_TEST_SEED={seed} cargo test --test {binary} {name})"
        );
        let mut child = Command::new(repo().join("emulator/run"))
            .args(["--port", &port.to_string(), "--scale", scale, "--realistic", "--seed", &seed.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting emulator/run");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("ready") => break,
                Some(Ok(_)) => continue,
                _ => panic!("emulator (--realistic --seed {seed}) exited before it was ready"),
            }
        }
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Emulator { url: format!("http://127.0.0.1:{port}"), child, operators: Operators::default() }
    }

    /// Kept for the rest of the test binary's life, for tests that share it: a static is never
    /// dropped, so the emulator's process is killed when the binary exits (`at_exit`),
    /// whether its tests passed or not.
    pub fn until_exit(self) -> &'static Emulator {
        at_exit().lock().unwrap().0.push(self.child.id());
        Box::leak(Box::new(self))
    }

    pub fn control_get(&self, path: &str) -> serde_json::Value {
        let body =
            ureq::get(&format!("{}/_emulator/{path}", self.url)).call().unwrap().into_body().read_to_string().unwrap();
        serde_json::from_str(&body).unwrap()
    }

    pub fn control_post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        if path == "reset" {
            // A reset removes every IAM user, and the emulator's denials: operators are made anew.
            *self.operators.0.lock().unwrap() = OperatorState::default();
        }
        let mut body = body;
        if path == "faults" && body.get("except_key").is_none() {
            // Faults are for the tool's calls, not the harness's making of an operator.
            body["except_key"] = serde_json::json!(HARNESS_KEY);
        }
        let resp = ureq::post(&format!("{}/_emulator/{path}", self.url))
            .header("content-type", "application/json")
            .send(body.to_string())
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&resp).unwrap_or(serde_json::Value::Null)
    }

    /// Every call since the log was last cleared (`/_emulator/calls`), but the harness's own
    /// (`HARNESS_KEY`: making operators).
    pub fn call_log(&self) -> Vec<serde_json::Value> {
        self.control_get("calls")["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["key"] != HARNESS_KEY)
            .cloned()
            .collect()
    }

    /// Operation names of every call since the log was last cleared (but the harness's own).
    pub fn calls(&self) -> Vec<String> {
        self.call_log().iter().map(|c| c["operation"].as_str().unwrap_or_default().to_string()).collect()
    }

    /// Every request the emulator refused to an IAM user or assumed role (`/_emulator/denials`).
    pub fn denials(&self) -> Vec<serde_json::Value> {
        self.control_get("denials")["denials"].as_array().cloned().unwrap_or_default()
    }

    /// A new IAM user holding exactly `policy` (a list of managed policy documents, as
    /// `iam-policy` prints), made with the root keys; its access key id and secret. `name`: the
    /// user's and its policies' name.
    pub fn user_with_policy(&self, name: &str, policy: &serde_json::Value) -> (String, String) {
        let (url, name, policy) = (self.url.clone(), name.to_string(), policy.to_string());
        // On a thread of its own: a test may call this from inside a runtime.
        std::thread::spawn(move || rt().block_on(make_user(&url, &name, &policy))).join().unwrap()
    }

    /// The calls since the log was last cleared that may change something (`is_mutating`).
    pub fn mutating_calls(&self) -> Vec<String> {
        mutating(&self.calls())
    }

    pub fn clear_calls(&self) {
        ureq::delete(&format!("{}/_emulator/calls", self.url)).call().unwrap();
    }

    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_sts::config::Credentials::new("test", "test", None, None, "tests"))
            .load()
            .await
    }

    /// The SDK with the harness's root key (`HARNESS_KEY`: its calls are not in `calls()`).
    pub async fn harness_sdk(&self) -> aws_config::SdkConfig {
        harness_sdk(&self.url).await
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let cfg = self.sdk().await;
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build())
    }
}

/// The one way the tests run the real binary: against the emulator by default (its
/// `--endpoint-url`, `--region us-east-1`, the emulator's test credentials, no
/// `AWS_PROFILE`, the tool's waits scaled by `SCALE`), each of which a test can change:
/// `.scale(..)`, `.region(..)`, `.env(..)`/`.env_remove(..)`/`.env_clear()`, extra `.arg(..)`s;
/// then `.output()`, `.ok()` (asserts success, returns all output), `.spawn()` (stdout
/// and stderr piped, or discarded after `.quiet()`: for kill tests), or `.on_terminal(..)`
/// (in a pseudo-terminal through script(1)). `Run::bare(dir)` is the binary alone: no
/// endpoint, region, credentials or scale.
#[derive(Clone)]
pub struct Run {
    dir: PathBuf,
    endpoint: Option<String>,
    region: Option<String>,
    args: Vec<String>,
    clear_env: bool,
    /// In order; `None` removes the variable.
    env: Vec<(String, Option<String>)>,
    quiet: bool,
    cols: Option<usize>,
    rows: Option<usize>,
    /// Run as the operator (`operator_env`): the emulator's operators, or None to run with the
    /// credentials of the builder's env (`with_root_keys`, or a test's own keys).
    operator: Option<Operators>,
    /// The operator's policy, instead of `provision iam-policy`'s (`with_policy`).
    policy: Option<serde_json::Value>,
}

impl Run {
    /// Against the emulator, as the operator: an IAM user holding exactly what `provision
    /// iam-policy` prints for the run's project, region and state (`operator_env`), so every
    /// AWS call the tool makes is authorised by the emulator's IAM enforcement as it would be
    /// on AWS. A request it refuses fails the run (`output`) naming the action and resource.
    pub fn new(emu: &Emulator, dir: &Path) -> Run {
        let mut r = Run { endpoint: Some(emu.url.clone()), region: Some("us-east-1".into()), ..Run::bare(dir) }
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE")
            .scale(SCALE);
        r.operator = Some(emu.operators.clone());
        r
    }

    /// With the emulator's root keys (`test`), not as the operator.
    pub fn with_root_keys(mut self) -> Run {
        self.operator = None;
        self
    }

    /// As a user holding `policy` (a list of managed policy documents, as `iam-policy` prints)
    /// instead of `iam-policy`'s; its denials are the test's to check (they do not fail the run).
    pub fn with_policy(mut self, policy: serde_json::Value) -> Run {
        self.policy = Some(policy);
        self
    }

    pub fn bare(dir: &Path) -> Run {
        Run {
            dir: dir.to_path_buf(),
            endpoint: None,
            region: None,
            args: Vec::new(),
            clear_env: false,
            env: Vec::new(),
            quiet: false,
            cols: None,
            rows: None,
            operator: None,
            policy: None,
        }
    }

    /// The tool's waits scaled by `scale` (the emulator's own `--scale`).
    pub fn scale(self, scale: &str) -> Run {
        self.env("PROVISION_TIME_SCALE", scale)
    }

    pub fn region(mut self, region: &str) -> Run {
        self.region = Some(region.into());
        self
    }

    /// No `--region`: the region comes from the config file or the environment.
    pub fn without_region(mut self) -> Run {
        self.region = None;
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Run {
        self.args.push(arg.into());
        self
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Run {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Run {
        if key.starts_with("AWS_ACCESS_KEY_ID") || key == "AWS_SESSION_TOKEN" {
            self.operator = None; // the test chose its credentials
        }
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), Some(value.as_ref().to_string_lossy().into_owned())));
        self
    }

    pub fn env_remove(mut self, key: &str) -> Run {
        if key == "AWS_ACCESS_KEY_ID" {
            self.operator = None; // the test chose its credentials
        }
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), None));
        self
    }

    /// No variable of the test's environment, only those set on the builder.
    pub fn env_clear(mut self) -> Run {
        self.clear_env = true;
        self
    }

    /// A spawned run's stdout and stderr go nowhere (nobody reads them).
    pub fn quiet(mut self) -> Run {
        self.quiet = true;
        self
    }

    /// On a terminal: `stty cols COLS` first.
    pub fn cols(mut self, cols: usize) -> Run {
        self.cols = Some(cols);
        self
    }

    /// On a terminal: `stty rows ROWS` first (40 unless told).
    pub fn rows(mut self, rows: usize) -> Run {
        self.rows = Some(rows);
        self
    }

    /// The binary's arguments: the endpoint and region first, then the test's.
    fn argv(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(e) = &self.endpoint {
            v.extend(["--endpoint-url".to_string(), e.clone()]);
        }
        if let Some(r) = &self.region {
            v.extend(["--region".to_string(), r.clone()]);
        }
        v.extend(self.args.iter().cloned());
        v
    }

    fn with_env(&self, mut c: Command) -> Command {
        c.current_dir(&self.dir);
        if self.clear_env {
            c.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some((id, secret)) = self.operator_keys() {
            c.env("AWS_ACCESS_KEY_ID", id).env("AWS_SECRET_ACCESS_KEY", secret).env_remove("AWS_SESSION_TOKEN");
        }
        c
    }

    /// The arguments of this run that decide the operator policy's scope (`operations::Scoping`
    /// and the state's location): region, project, config file, state.
    fn scope_args(&self) -> Vec<String> {
        const WITH_VALUE: &[&str] = &["--region", "--project", "--config", "--state", "--state-region"];
        let mut v = Vec::new();
        if let Some(e) = &self.endpoint {
            v.extend(["--endpoint-url".to_string(), e.clone()]);
        }
        if let Some(r) = &self.region {
            v.extend(["--region".to_string(), r.clone()]);
        }
        let mut args = self.args.iter();
        while let Some(a) = args.next() {
            if a == "--any-region" {
                v.push(a.clone());
            } else if WITH_VALUE.contains(&a.as_str()) {
                if let Some(value) = args.next() {
                    v.extend([a.clone(), value.clone()]);
                }
            } else if WITH_VALUE.iter().any(|f| a.starts_with(&format!("{f}="))) {
                v.push(a.clone());
            }
        }
        v
    }

    /// The operator's policy documents for this run: what `provision iam-policy` prints with the run's
    /// scope (`scope_args`), its environment and directory, asked with the harness's root key.
    /// When iam-policy refuses the arguments (a test of bad input), a policy that allows
    /// nothing: the run itself must then refuse them before any AWS call.
    fn operator_policy(&self) -> serde_json::Value {
        if let Some(p) = &self.policy {
            return p.clone();
        }
        let inputs = self.policy_inputs();
        if let Some(p) = self.operator.as_ref().and_then(|o| o.0.lock().unwrap().policies.get(&inputs).cloned()) {
            return p;
        }
        let mut probe = Run { args: self.scope_args(), endpoint: None, region: None, operator: None, ..self.clone() }
            .env("AWS_ACCESS_KEY_ID", HARNESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", "harness")
            .env_remove("RUST_LOG");
        probe.args.push("iam-policy".into());
        let o = probe.command().output().expect("running provision iam-policy");
        let p = match serde_json::from_slice::<serde_json::Value>(&o.stdout) {
            Ok(p) if o.status.success() => p,
            _ => serde_json::json!([{"Version": "2012-10-17", "Statement": [
                {"Sid": "Nothing", "Effect": "Deny", "Action": "*", "Resource": "*"}]}]),
        };
        if let Some(o) = &self.operator {
            o.0.lock().unwrap().policies.insert(inputs, p.clone());
        }
        p
    }

    /// Everything `iam-policy`'s answer depends on: the scope's arguments, the variables of the
    /// builder's environment that choose a state or region, the config file's text (the account
    /// is the emulator's). So a run's own timing does not include asking it again (only the
    /// first run of a scope pays for that).
    fn policy_inputs(&self) -> String {
        const SCOPE_VARS: &[&str] =
            &["PROVISION_STATE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"];
        let args = self.scope_args();
        let config = args
            .iter()
            .position(|a| a == "--config")
            .and_then(|i| args.get(i + 1))
            .map(|f| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default());
        let env: Vec<&(String, Option<String>)> =
            self.env.iter().filter(|(k, _)| SCOPE_VARS.contains(&k.as_str())).collect();
        format!("{args:?} {env:?} {config:?} {}", self.clear_env)
    }

    /// The access key of the user holding `operator_policy` (made once per policy and emulator),
    /// or None when this run is not the operator's.
    fn operator_keys(&self) -> Option<(String, String)> {
        let ops = self.operator.as_ref()?;
        let endpoint = self.endpoint.clone()?;
        let policy = self.operator_policy();
        let text = policy.to_string();
        let mut state = ops.0.lock().unwrap();
        if let Some(k) = state.by_policy.get(&text) {
            return Some(k.clone());
        }
        let name = format!("provision-operator-{}", state.by_policy.len() + 1);
        let keys = std::thread::spawn(move || rt().block_on(make_user(&endpoint, &name, &text))).join().unwrap();
        state.by_policy.insert(policy.to_string(), keys.clone());
        if self.policy.is_none() {
            state.keys.insert(keys.0.clone());
        }
        Some(keys)
    }

    /// Fails the test on any request the emulator refused to an operator (`operator_keys`) since
    /// the last check, naming the action and resource.
    fn check_denials(&self) {
        let (Some(ops), Some(endpoint)) = (&self.operator, &self.endpoint) else { return };
        let body = ureq::get(&format!("{endpoint}/_emulator/denials")).call().unwrap().into_body().read_to_string();
        let all: serde_json::Value = serde_json::from_str(&body.unwrap()).unwrap();
        let all = all["denials"].as_array().cloned().unwrap_or_default();
        let mut state = ops.0.lock().unwrap();
        let new: Vec<String> = all
            .iter()
            .skip(state.denials_seen)
            .filter(|d| d["key"].as_str().is_some_and(|k| state.keys.contains(k)))
            .map(|d| format!("{} (action {}, resource {})", d["message"], d["action"], d["resource"]))
            .collect();
        state.denials_seen = all.len();
        drop(state);
        assert!(new.is_empty(), "the operator (provision iam-policy's policy) was refused:\n{}", new.join("\n"));
    }

    /// The command, not yet started.
    pub fn command(&self) -> Command {
        let mut c = self.with_env(Command::new(env!("CARGO_BIN_EXE_provision")));
        c.args(self.argv());
        c
    }

    pub fn output(self) -> Output {
        let o = self.command().output().expect("running provision");
        self.check_denials();
        o
    }

    /// Runs and asserts success, printing all output on failure; returns all output.
    pub fn ok(self) -> String {
        let args = self.args.clone();
        let o = self.output();
        let t = text(&o);
        assert!(o.status.success(), "provision {args:?} failed ({:?}):\n{t}", o.status.code());
        t
    }

    pub fn spawn(self) -> Child {
        let out = || if self.quiet { Stdio::null() } else { Stdio::piped() };
        self.command().stdout(out()).stderr(out()).spawn().expect("starting provision")
    }

    /// Runs in a pseudo-terminal (script(1), `TERM=xterm`); with `input`, answers it once
    /// the question had time to come (the pty buffers it until read). Returns script's own
    /// output and what the terminal received.
    pub fn on_terminal(self, input: Option<&str>) -> (Output, String) {
        let log = self.dir.join("typescript");
        let mut line =
            self.cols.map(|c| format!("stty cols {c} rows {}; ", self.rows.unwrap_or(40))).unwrap_or_default();
        line.push_str(env!("CARGO_BIN_EXE_provision"));
        for a in self.argv() {
            line.push(' ');
            line.push_str(&a);
        }
        let mut c = self.with_env(Command::new("script"));
        c.args(["-qec", &line, log.to_str().unwrap()]).env("TERM", "xterm");
        let out = match input {
            None => c.output().unwrap(),
            Some(input) => {
                let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
                use std::io::Write;
                let mut stdin = child.stdin.take().unwrap();
                // The question comes after pre-reads; the pty buffers the answer until read.
                std::thread::sleep(std::time::Duration::from_millis(300));
                stdin.write_all(input.as_bytes()).unwrap();
                drop(stdin);
                child.wait_with_output().unwrap()
            }
        };
        let screen = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).to_string();
        self.check_denials();
        (out, screen)
    }

    /// On a terminal, as `on_terminal`, with a Ctrl-C typed once the terminal shows `when`
    /// (script(1) flushing what it records as it goes, `-f`): the run's first interrupt.
    pub fn on_terminal_interrupted(self, when: &str) -> (Output, String) {
        let log = self.dir.join("typescript");
        let mut line =
            self.cols.map(|c| format!("stty cols {c} rows {}; ", self.rows.unwrap_or(40))).unwrap_or_default();
        line.push_str(env!("CARGO_BIN_EXE_provision"));
        for a in self.argv() {
            line.push(' ');
            line.push_str(&a);
        }
        let mut c = self.with_env(Command::new("script"));
        c.args(["-qfec", &line, log.to_str().unwrap()]).env("TERM", "xterm");
        // What script(1) echoes is the typescript again: not read while waiting, so not kept (a
        // full pipe would stop the program).
        let mut child = c.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let shown = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).to_string();
            if shown.contains(when) {
                break;
            }
            let ended = child.try_wait().unwrap().is_some();
            assert!(!ended && std::time::Instant::now() < deadline, "the terminal never showed {when:?}:\n{shown}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"\x03").unwrap();
        stdin.flush().unwrap();
        let out = child.wait_with_output().unwrap();
        let screen = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).to_string();
        self.check_denials();
        (out, screen)
    }
}

/// The SDK against `url` with the harness's root key (`HARNESS_KEY`).
pub async fn harness_sdk(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(HARNESS_KEY, "harness", None, None, "harness"))
        .load()
        .await
}

/// Makes (with the root key) the IAM user `name` holding exactly the managed policies `policy`
/// (a JSON list of documents, as `iam-policy` prints; path `OPERATOR_PATH`), and an access key
/// of it: (id, secret).
async fn make_user(url: &str, name: &str, policy: &str) -> (String, String) {
    let iam = aws_sdk_iam::Client::new(&harness_sdk(url).await);
    iam.create_user().user_name(name).path(OPERATOR_PATH).send().await.expect("CreateUser");
    let docs: Vec<serde_json::Value> = serde_json::from_str(policy).expect("a list of policy documents");
    for (n, doc) in docs.iter().enumerate() {
        let arn = iam
            .create_policy()
            .policy_name(format!("{name}-{}", n + 1))
            .path(OPERATOR_PATH)
            .policy_document(doc.to_string())
            .send()
            .await
            .expect("CreatePolicy of the operator policy")
            .policy()
            .and_then(|p| p.arn().map(String::from))
            .unwrap();
        iam.attach_user_policy().user_name(name).policy_arn(arn).send().await.expect("AttachUserPolicy");
    }
    let k = iam.create_access_key().user_name(name).send().await.expect("CreateAccessKey");
    let k = k.access_key().unwrap();
    (k.access_key_id().to_string(), k.secret_access_key().to_string())
}

/// Runs the real binary in `dir` against the emulator.
pub fn provision(emu: &Emulator, dir: &Path, args: &[&str]) -> Output {
    Run::new(emu, dir).args(args).output()
}

/// Runs the real binary with its waits scaled by `scale` (the emulator's own `--scale`).
pub fn provision_at(emu: &Emulator, dir: &Path, scale: &str, args: &[&str]) -> Output {
    Run::new(emu, dir).scale(scale).args(args).output()
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs and asserts success, printing all output on failure.
pub fn provision_ok(emu: &Emulator, dir: &Path, args: &[&str]) -> String {
    Run::new(emu, dir).args(args).ok()
}

/// Whether an emulator call (`service:Operation`) may change something: anything but a
/// Describe, List, Get or Head.
pub fn is_mutating(call: &str) -> bool {
    let op = call.split(':').nth(1).unwrap_or_default();
    !["Describe", "List", "Get", "Head"].iter().any(|p| op.starts_with(p))
}

/// The calls of `calls` that may change something (`is_mutating`).
pub fn mutating(calls: &[String]) -> Vec<String> {
    calls.iter().filter(|c| is_mutating(c)).cloned().collect()
}

/// A runtime for the SDK's calls in a synchronous test.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// The JSON array in a command's output (`plan --json`, `status --json`): from its first
/// `[` to its last `]`.
pub fn json_array(t: &str) -> Vec<serde_json::Value> {
    let start = t.find('[').expect("json array");
    let end = t.rfind(']').expect("json array");
    serde_json::from_str::<serde_json::Value>(&t[start..=end]).unwrap().as_array().unwrap().clone()
}

pub fn state_json(dir: &Path) -> serde_json::Value {
    let p = dir.join("state/sagemaker-studio-anfw.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

pub fn step_id(state: &serde_json::Value, step: &str) -> String {
    state["steps"][step]["id"].as_str().unwrap_or_else(|| panic!("no id for {step}")).to_string()
}

/// The spec's count of each kind (as `inventory` names them, ENIs left out: they are SageMaker's
/// and the endpoints' own) for `zones` zones and
/// `users` users: per zone a SageMaker, a NAT and a firewall subnet with a route table
/// each, an EIP, a NAT gateway, a firewall endpoint and a mount target; one IGW edge
/// route table; per user a profile, a private space and its JupyterLab app.
pub fn stack_counts(zones: usize, users: usize) -> std::collections::BTreeMap<String, usize> {
    [
        ("vpc", 1),
        ("subnet", 3 * zones),
        ("sg", 5), // sg.sagemaker, sg.vpce, SageMaker's two NFS groups, the VPC's default group
        ("eip", zones),
        ("nat", zones),
        ("igw", 1),
        ("rtb", 3 * zones + 1),
        ("vpce", 11 + zones), // 10 interface, the S3 gateway, one firewall endpoint per zone
        ("firewall", 1),
        ("firewall-policy", 1),
        ("rule-group", 1),
        ("bucket", 3),  // data, models, and the access-log bucket (issue 30)
        ("nacl", 3),    // the SageMaker, NAT and firewall subnets' network ACLs (issue 30)
        ("kms-key", 3), // kms.s3, kms.ebs, kms.logs
        ("alias", 3),
        ("role", 2), // the execution role, the flow logs role
        ("policy", 1),
        ("log-group", 3),
        ("flow-log", 1),
        ("firewall-logging", 2), // ALERT and FLOW
        ("domain", 1),
        ("user-profile", users),
        ("space", users),
        ("app", users),
        ("efs", 1),
        ("mount_target_subnet", zones),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// How many resources of each kind (the first word of `inventory`'s entries).
pub fn count_kinds(inv: &BTreeSet<String>) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for e in inv {
        *m.entry(e.split(' ').next().unwrap_or_default().to_string()).or_insert(0) += 1;
    }
    m
}

/// Everything of the stack that still exists, as "kind id" strings, from
/// the SDK's list/describe calls over every kind the stack uses. Default VPC
/// resources are ignored; the default security group of a non-default VPC
/// is reported (it exists as long as its VPC does).
pub async fn inventory(emu: &Emulator) -> BTreeSet<String> {
    let sdk = emu.sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let mut out = BTreeSet::new();
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    let default_vpcs: BTreeSet<String> = vpcs
        .vpcs()
        .iter()
        .filter(|v| v.is_default() == Some(true))
        .filter_map(|v| v.vpc_id().map(String::from))
        .collect();
    let ours = |vpc: Option<&str>| vpc.is_some_and(|v| !default_vpcs.contains(v));
    for v in vpcs.vpcs().iter().filter(|v| v.is_default() != Some(true)) {
        out.insert(format!("vpc {}", v.vpc_id().unwrap()));
    }
    for s in ec2.describe_subnets().send().await.unwrap().subnets() {
        if ours(s.vpc_id()) {
            out.insert(format!("subnet {}", s.subnet_id().unwrap()));
        }
    }
    for g in ec2.describe_security_groups().send().await.unwrap().security_groups() {
        if ours(g.vpc_id()) {
            let name = g.group_name().unwrap_or_default();
            if name == "default" {
                out.insert(format!("sg default {}", g.vpc_id().unwrap()));
            } else {
                out.insert(format!("sg {name}"));
            }
        }
    }
    for e in ec2.describe_network_interfaces().send().await.unwrap().network_interfaces() {
        if ours(e.vpc_id()) {
            let kind =
                if e.description().unwrap_or_default().contains("EFS mount target") { "mount target" } else { "other" };
            out.insert(format!("eni {kind} in {}", e.subnet_id().unwrap_or_default()));
        }
    }
    for a in ec2.describe_network_acls().send().await.unwrap().network_acls() {
        if ours(a.vpc_id()) && a.is_default() != Some(true) {
            out.insert(format!("nacl {}", a.network_acl_id().unwrap_or_default()));
        }
    }
    for a in ec2.describe_addresses().send().await.unwrap().addresses() {
        out.insert(format!("eip {}", a.allocation_id().unwrap_or_default()));
    }
    for n in ec2.describe_nat_gateways().send().await.unwrap().nat_gateways() {
        if n.state() != Some(&aws_sdk_ec2::types::NatGatewayState::Deleted) {
            out.insert(format!("nat {}", n.nat_gateway_id().unwrap_or_default()));
        }
    }
    for g in ec2.describe_internet_gateways().send().await.unwrap().internet_gateways() {
        if !g.attachments().iter().any(|a| a.vpc_id().is_some_and(|v| default_vpcs.contains(v))) {
            out.insert(format!("igw {}", g.internet_gateway_id().unwrap_or_default()));
        }
    }
    for t in ec2.describe_route_tables().send().await.unwrap().route_tables() {
        if ours(t.vpc_id()) && !t.associations().iter().any(|a| a.main() == Some(true)) {
            out.insert(format!("rtb {}", t.route_table_id().unwrap_or_default()));
        }
    }
    for e in ec2.describe_vpc_endpoints().send().await.unwrap().vpc_endpoints() {
        if e.state().map(|s| s.as_str().to_ascii_lowercase()).as_deref() != Some("deleted") {
            out.insert(format!("vpce {}", e.vpc_endpoint_id().unwrap_or_default()));
        }
    }
    let nfw = aws_sdk_networkfirewall::Client::new(&sdk);
    for f in nfw.list_firewalls().send().await.unwrap().firewalls() {
        out.insert(format!("firewall {}", f.firewall_name().unwrap_or_default()));
        // Its logging configuration: one entry per log destination.
        let l = nfw
            .describe_logging_configuration()
            .set_firewall_arn(f.firewall_arn().map(String::from))
            .send()
            .await
            .unwrap();
        for c in l.logging_configuration().map(|c| c.log_destination_configs()).unwrap_or_default() {
            out.insert(format!("firewall-logging {} {}", f.firewall_name().unwrap_or_default(), c.log_type().as_str()));
        }
    }
    for p in nfw.list_firewall_policies().send().await.unwrap().firewall_policies() {
        out.insert(format!("firewall-policy {}", p.name().unwrap_or_default()));
    }
    for g in nfw.list_rule_groups().send().await.unwrap().rule_groups() {
        out.insert(format!("rule-group {}", g.name().unwrap_or_default()));
    }
    for f in ec2.describe_flow_logs().send().await.unwrap().flow_logs() {
        out.insert(format!("flow-log {}", f.flow_log_id().unwrap_or_default()));
    }
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    for g in logs.describe_log_groups().send().await.unwrap().log_groups() {
        out.insert(format!("log-group {}", g.log_group_name().unwrap_or_default()));
    }
    let s3 = emu.s3().await;
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        out.insert(format!("bucket {}", b.name().unwrap_or_default()));
    }
    let kms = aws_sdk_kms::Client::new(&sdk);
    for k in kms.list_keys().send().await.unwrap().keys() {
        let m = kms.describe_key().key_id(k.key_id().unwrap()).send().await.unwrap();
        let state = m.key_metadata().unwrap().key_state().map(|s| s.as_str().to_string());
        if state.as_deref() != Some("PendingDeletion") {
            out.insert(format!("kms-key {}", k.key_id().unwrap()));
        }
    }
    for a in kms.list_aliases().send().await.unwrap().aliases() {
        let name = a.alias_name().unwrap_or_default();
        if !name.starts_with("alias/aws/") {
            out.insert(format!("alias {name}"));
        }
    }
    let iam = aws_sdk_iam::Client::new(&sdk);
    for r in iam.list_roles().send().await.unwrap().roles() {
        if !r.path().starts_with("/aws-service-role/") {
            out.insert(format!("role {}", r.role_name()));
        }
    }
    for p in iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap().policies() {
        if p.path() == Some(OPERATOR_PATH) {
            continue; // the harness's operators' (`Run::new`)
        }
        out.insert(format!("policy {}", p.policy_name().unwrap_or_default()));
    }
    let sm = aws_sdk_sagemaker::Client::new(&sdk);
    for d in sm.list_domains().send().await.unwrap().domains() {
        out.insert(format!("domain {}", d.domain_id().unwrap_or_default()));
    }
    for u in sm.list_user_profiles().send().await.unwrap().user_profiles() {
        out.insert(format!("user-profile {}", u.user_profile_name().unwrap_or_default()));
    }
    for s in sm.list_spaces().send().await.unwrap().spaces() {
        out.insert(format!("space {}", s.space_name().unwrap_or_default()));
    }
    for a in sm.list_apps().send().await.unwrap().apps() {
        if a.status().map(|s| s.as_str()) != Some("Deleted") {
            out.insert(format!(
                "app {}/{}/{}",
                a.space_name().or(a.user_profile_name()).unwrap_or_default(),
                a.app_type().map(|t| t.as_str()).unwrap_or_default(),
                a.app_name().unwrap_or_default()
            ));
        }
    }
    let efs = aws_sdk_efs::Client::new(&sdk);
    for f in efs.describe_file_systems().send().await.unwrap().file_systems() {
        out.insert(format!("efs {}", f.file_system_id()));
        let mts = efs.describe_mount_targets().file_system_id(f.file_system_id()).send().await.unwrap();
        for m in mts.mount_targets() {
            out.insert(format!("mount_target_subnet {}", m.subnet_id()));
        }
    }
    out
}

/// DescribeApp of the JupyterLab app `default` in a user's space `{user}-space` (None: not found).
pub async fn space_app(
    emu: &Emulator,
    domain: &str,
    user: &str,
) -> Option<aws_sdk_sagemaker::operation::describe_app::DescribeAppOutput> {
    let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
    sm.describe_app()
        .domain_id(domain)
        .space_name(format!("{user}-space"))
        .app_type(aws_sdk_sagemaker::types::AppType::JupyterLab)
        .app_name("default")
        .send()
        .await
        .ok()
}

/// Status of the JupyterLab app `default` in a user's space `{user}-space`.
pub async fn app_status(emu: &Emulator, domain: &str, user: &str) -> Option<String> {
    space_app(emu, domain, user).await?.status().map(|s| s.as_str().to_string())
}

/// Deletes a user's JupyterLab app out of band (as Studio's "Stop" and idle
/// shutdown do) and waits until it is no longer Deleting.
pub async fn delete_space_app(emu: &Emulator, domain: &str, user: &str) {
    let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
    sm.delete_app()
        .domain_id(domain)
        .space_name(format!("{user}-space"))
        .app_type(aws_sdk_sagemaker::types::AppType::JupyterLab)
        .app_name("default")
        .send()
        .await
        .unwrap();
    for _ in 0..600 {
        if app_status(emu, domain, user).await.as_deref() != Some("Deleting") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("app of {user} still Deleting");
}

/// Sets the firewall's logging to FLOW logs to `group` only, out of band (from both ALERT and
/// FLOW: one removal, which AWS accepts in one call).
pub async fn firewall_flow_logging_only(emu: &Emulator, firewall_arn: &str, group: &str) {
    use aws_sdk_networkfirewall::types::{LogDestinationConfig, LogDestinationType, LogType, LoggingConfiguration};
    let only_flow = LogDestinationConfig::builder()
        .log_type(LogType::Flow)
        .log_destination_type(LogDestinationType::CloudwatchLogs)
        .log_destination("logGroup", group)
        .build()
        .unwrap();
    let config = LoggingConfiguration::builder().log_destination_configs(only_flow).build().unwrap();
    let nfw = aws_sdk_networkfirewall::Client::new(&emu.sdk().await);
    nfw.update_logging_configuration().firewall_arn(firewall_arn).logging_configuration(config).send().await.unwrap();
}

/// Runs `provision ARGS` in a pseudo-terminal (script(1)) answering `input`.
pub fn on_terminal_at(emu: &Emulator, dir: &Path, scale: &str, args: &str, input: &str) -> (Option<i32>, String) {
    let (out, screen) = Run::new(emu, dir).scale(scale).args(args.split_whitespace()).on_terminal(Some(input));
    (out.status.code(), screen)
}

/// A terminal as a person sees it: what a program wrote to a pseudo-terminal (`Run::on_terminal`),
/// rendered by a terminal emulator (`vt100`) with its scrollback.
pub mod screen {
    use std::num::NonZeroU16;

    /// A terminal's rows: each row's text and whether the terminal wrapped it onto the next.
    pub type Rows = Vec<(String, bool)>;

    /// The program's bytes in a script(1) typescript: script's first line (its header) and its
    /// trailer are not the program's.
    pub fn program_bytes(typescript: &str) -> &str {
        let body = typescript.split_once('\n').map(|(_, b)| b).unwrap_or("");
        body.rsplit_once("\nScript done").map(|(b, _)| b).unwrap_or(body)
    }

    fn terminal(cols: u16, rows: u16) -> vt100::Parser {
        vt100::Parser::new(NonZeroU16::new(rows).unwrap(), NonZeroU16::new(cols).unwrap(), 100_000)
    }

    /// The visible rows: each row's text and whether the terminal wrapped it onto the next.
    fn visible(term: &vt100::Parser, cols: u16) -> Vec<(String, bool)> {
        let s = term.screen();
        s.rows(0, cols).enumerate().map(|(i, r)| (r, s.row_wrapped(i as u16))).collect()
    }

    /// The terminal's rows after the program ended, the scrollback first, trailing blank rows
    /// dropped.
    pub fn render(bytes: &str, cols: u16, rows: u16) -> Vec<(String, bool)> {
        let mut term = terminal(cols, rows);
        term.process(bytes.as_bytes());
        let depth = term.screen().scrollback_len();
        let mut out = Vec::new();
        // Scrolled back by `off` rows, the top row is the scrollback's row `depth - off`.
        for off in (1..=depth).rev() {
            term.screen_mut().set_scrollback(off);
            out.push(visible(&term, cols).swap_remove(0));
        }
        term.screen_mut().set_scrollback(0);
        out.extend(visible(&term, cols));
        while out.last().is_some_and(|(r, _)| r.trim().is_empty()) {
            out.pop();
        }
        out
    }

    /// The visible rows after each redraw (a redraw starts at a carriage return), in order:
    /// every frame the live view showed.
    pub fn frames(bytes: &str, cols: u16, rows: u16) -> Vec<Rows> {
        let mut term = terminal(cols, rows);
        let mut out = Vec::new();
        for piece in bytes.split_inclusive('\r') {
            term.process(piece.as_bytes());
            out.push(visible(&term, cols));
        }
        out
    }

    /// Rows the terminal wrapped inside a word: full to the edge, a word's character last,
    /// and the next row going on with another (a line wider than the terminal, cut). A row
    /// indicatif filled to the edge with spaces is wrapped too, but cuts nothing.
    pub fn cut_words(rows: &[(String, bool)], cols: u16) -> Vec<String> {
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || "-_./:|…".contains(c));
        rows.windows(2)
            .filter(|w| w[0].1 && w[0].0.trim_end().chars().count() == usize::from(cols))
            .filter(|w| word(w[0].0.chars().last()) && word(w[1].0.chars().next()))
            .map(|w| format!("{}⏎{}", w[0].0, w[1].0))
            .collect()
    }
}

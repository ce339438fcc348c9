//! Test harness: a real emulator process (emulator/run) on a free port, the
//! real `provision` binary, and SDK clients to check what exists afterwards.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Delays of the emulator and the tool's waits, as a fraction of real time.
pub const SCALE: &str = "0.005";

pub struct Emulator {
    pub url: String,
    child: Child,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Emulator {
    pub fn start(scale: &str, extra: &[&str]) -> Emulator {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(repo().join("emulator/run"))
            .args(["--port", &port.to_string(), "--scale", scale])
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
                _ => panic!("emulator exited before it was ready"),
            }
        }
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Emulator { url: format!("http://127.0.0.1:{port}"), child }
    }

    pub fn control_get(&self, path: &str) -> serde_json::Value {
        let body = ureq::get(&format!("{}/_emulator/{path}", self.url))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    pub fn control_post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let resp = ureq::post(&format!("{}/_emulator/{path}", self.url))
            .header("content-type", "application/json")
            .send(body.to_string())
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&resp).unwrap_or(serde_json::Value::Null)
    }

    /// Operation names of every call since the log was last cleared.
    pub fn calls(&self) -> Vec<String> {
        self.control_get("calls")["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["operation"].as_str().unwrap_or_default().to_string())
            .collect()
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

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let cfg = self.sdk().await;
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build())
    }
}

/// Runs the real binary in `dir` against the emulator.
pub fn provision(emu: &Emulator, dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_provision"))
        .current_dir(dir)
        .args(["--endpoint-url", &emu.url, "--region", "us-east-1"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env("PROVISION_TIME_SCALE", SCALE)
        .output()
        .expect("running provision");
    out
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs and asserts success, printing all output on failure.
pub fn provision_ok(emu: &Emulator, dir: &Path, args: &[&str]) -> String {
    let o = provision(emu, dir, args);
    let t = text(&o);
    assert!(o.status.success(), "provision {args:?} failed ({:?}):\n{t}", o.status.code());
    t
}

pub fn state_json(dir: &Path) -> serde_json::Value {
    let p = dir.join("state/sagemaker-studio-anfw.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

pub fn step_id(state: &serde_json::Value, step: &str) -> String {
    state["steps"][step]["id"].as_str().unwrap_or_else(|| panic!("no id for {step}")).to_string()
}

pub fn wait_a_moment() -> Duration {
    Duration::from_millis(50)
}

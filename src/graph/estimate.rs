//! How long each step should take, and how long is left on the critical
//! path: the latency profile the emulator uses
//! (`emulator/latency-profile.json`, seconds AWS takes until a resource of
//! each kind is usable or gone) mapped onto the step graph.
//!
//! API (all durations real-world: multiply by `wait::time_scale()` for a
//! time-scaled emulator):
//! - `expected(step, direction)`: one step's expected duration;
//! - `remaining(graph, direction)`: for each step (indexed like
//!   `graph.steps`), the longest expected path from its start to the end of
//!   the run, its own duration included;
//! - `bound(graph, direction)`: the whole run's lower bound, the longest of
//!   those (what `shared/tools/critical_path.py` prints as `bound_s`).
//!
//! `up` creates a step once the steps it needs exist; `down` deletes a step
//! once every step that needs it is gone (the graph's edges reversed).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use crate::graph::Graph;
use crate::step_id::StepId;

/// The emulator's latency profile, embedded.
const PROFILE: &str = include_str!("../../emulator/latency-profile.json");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `up`: the profile's `create_s`.
    Up,
    /// `down`: the profile's `delete_s`.
    Down,
}

/// The profile's kind of each step id (the base id; zone and user copies
/// share it), as `shared/spec/dependencies.json` gives them.
const KINDS: &[(StepId, &str)] = &[
    (StepId::VPC, "ec2.vpc"),
    (StepId::SUBNET_FIREWALL, "ec2.subnet"),
    (StepId::SUBNET_NAT, "ec2.subnet"),
    (StepId::SUBNET_SAGEMAKER, "ec2.subnet"),
    (StepId::SG_SAGEMAKER, "ec2.security_group"),
    (StepId::SG_VPCE, "ec2.security_group"),
    (StepId::SG_NFS, "ec2.security_group"),
    (StepId::EIP, "ec2.eip"),
    (StepId::IGW, "ec2.internet_gateway"),
    (StepId::IGW_ATTACH, "ec2.igw_attach"),
    (StepId::NAT, "ec2.nat_gateway"),
    (StepId::RULE_GROUP, "nfw.rule_group"),
    (StepId::FIREWALL_POLICY, "nfw.policy"),
    (StepId::FIREWALL, "nfw.firewall"),
    (StepId::RTB_IGW, "ec2.route_table"),
    (StepId::RTB_FIREWALL, "ec2.route_table"),
    (StepId::RTB_NAT, "ec2.route_table"),
    (StepId::RTB_SAGEMAKER, "ec2.route_table"),
    (StepId::ROUTE_IGW_INGRESS, "ec2.route"),
    (StepId::ROUTE_FIREWALL_EGRESS, "ec2.route"),
    (StepId::ROUTE_NAT_EGRESS, "ec2.route"),
    (StepId::ROUTE_SAGEMAKER_EGRESS, "ec2.route"),
    (StepId::VPCE_S3, "ec2.vpce_gateway"),
    (StepId::VPCE_SAGEMAKER_API, "ec2.vpce_interface"),
    (StepId::VPCE_SAGEMAKER_RUNTIME, "ec2.vpce_interface"),
    (StepId::VPCE_NOTEBOOK, "ec2.vpce_interface"),
    (StepId::VPCE_STS, "ec2.vpce_interface"),
    (StepId::VPCE_SSM, "ec2.vpce_interface"),
    (StepId::VPCE_MONITORING, "ec2.vpce_interface"),
    (StepId::VPCE_LOGS, "ec2.vpce_interface"),
    (StepId::VPCE_ECR_DKR, "ec2.vpce_interface"),
    (StepId::VPCE_ECR_API, "ec2.vpce_interface"),
    (StepId::VPCE_SERVICECATALOG, "ec2.vpce_interface"),
    (StepId::KMS_S3, "kms.key"),
    (StepId::KMS_S3_ALIAS, "kms.alias"),
    (StepId::KMS_EBS, "kms.key"),
    (StepId::KMS_EBS_ALIAS, "kms.alias"),
    (StepId::BUCKET_DATA, "s3.bucket"),
    (StepId::BUCKET_MODELS, "s3.bucket"),
    (StepId::IAM_POLICY, "iam.policy"),
    (StepId::IAM_ROLE, "iam.role"),
    (StepId::DOMAIN, "sm.domain"),
    (StepId::USER, "sm.user_profile"),
    (StepId::SPACE, "sm.space"),
    (StepId::APP, "sm.app"),
    (StepId::CLASSIC_APP, "sm.app"),
    (StepId::EFS_MOUNT_TARGET, "efs.mount_target"),
    (StepId::EFS_FILE_SYSTEM, "efs.file_system"),
    (StepId::USER_MADE_APPS, "sm.app"),
    (StepId::USER_MADE_SPACES, "sm.space"),
    // Issue 14's logging (not in the spec's graph; the emulator's profile estimates them).
    (StepId::KMS_LOGS, "kms.key"),
    (StepId::KMS_LOGS_ALIAS, "kms.alias"),
    (StepId::FLOW_LOGS_ROLE, "iam.role"),
    (StepId::LOGS_VPC_FLOW, "logs.log_group"),
    (StepId::LOGS_FIREWALL_ALERT, "logs.log_group"),
    (StepId::LOGS_FIREWALL_FLOW, "logs.log_group"),
    (StepId::FLOW_LOG, "ec2.flow_log"),
    (StepId::FIREWALL_LOGGING, "nfw.logging"),
];

/// The profile kind of a step (`rtb.nat.us-east-1b.assoc` → `ec2.route_table_assoc`,
/// `sm.app.bob` → `sm.app`), or None for an id no kind has.
pub fn profile_kind(step: &str) -> Option<&'static str> {
    if step.ends_with(".assoc") {
        return Some("ec2.route_table_assoc");
    }
    let step = StepId::recorded(step);
    // The longest base that matches: `vpce.sagemaker.api` before any shorter one.
    KINDS
        .iter()
        .filter(|(base, _)| step.is_zone_of(base))
        .max_by_key(|(base, _)| base.as_str().len())
        .map(|(_, kind)| *kind)
}

/// kind → (create, delete) in seconds.
fn profile() -> &'static HashMap<String, (f64, f64)> {
    static P: OnceLock<HashMap<String, (f64, f64)>> = OnceLock::new();
    P.get_or_init(|| {
        let v: serde_json::Value = serde_json::from_str(PROFILE).expect("the embedded latency profile is JSON");
        let kinds = v["kinds"].as_object().expect("the latency profile has kinds");
        kinds
            .iter()
            .map(|(k, t)| {
                let s = |key: &str| t[key].as_f64().unwrap_or_else(|| panic!("latency profile: {k}.{key}"));
                (k.clone(), (s("create_s"), s("delete_s")))
            })
            .collect()
    })
}

/// How long AWS takes to make `step`'s resource usable (up) or gone (down),
/// real-world; zero for an id the profile has no kind for.
pub fn expected(step: &str, direction: Direction) -> Duration {
    let Some(&(create, delete)) = profile_kind(step).and_then(|k| profile().get(k)) else {
        return Duration::ZERO;
    };
    Duration::from_secs_f64(if direction == Direction::Up { create } else { delete })
}

/// For each step of `graph` (same indices as `graph.steps`): the longest
/// expected time from the moment it starts to the end of the run, its own
/// duration included, if every step starts as soon as it may.
pub fn remaining(graph: &Graph, direction: Direction) -> Vec<Duration> {
    // The steps that can start only once step i is done.
    let after = match direction {
        Direction::Up => graph.reversed_edges(),
        Direction::Down => graph.edges(),
    };
    let order = match direction {
        Direction::Up => graph.forward_order(),
        Direction::Down => graph.teardown_order(),
    };
    // `up` starts a step that needs step i only to exist (`early_edges`) as
    // soon as i's create call returns, not after i's duration.
    let early = match direction {
        Direction::Up => graph.early_edges(),
        Direction::Down => vec![Vec::new(); graph.steps.len()],
    };
    let mut left = vec![Duration::ZERO; graph.steps.len()];
    // In reverse run order, every step's successors are already known.
    for &i in order.iter().rev() {
        let (mut tail, mut during) = (Duration::ZERO, Duration::ZERO);
        for &j in &after[i] {
            if early[j].contains(&i) {
                during = during.max(left[j]);
            } else {
                tail = tail.max(left[j]);
            }
        }
        left[i] = (expected(graph.steps[i].id.as_str(), direction) + tail).max(during);
    }
    left
}

/// The lower bound on the run's wall time: its critical path.
pub fn bound(graph: &Graph, direction: Direction) -> Duration {
    remaining(graph, direction).into_iter().max().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawParams, Settings};
    use crate::graph::{build, build_teardown};

    fn settings(zones: &[&str], users: &[&str]) -> Settings {
        let mut r = RawParams { region: Some("us-east-1".into()), ..Default::default() };
        if !zones.is_empty() {
            r.availability_zones = Some(zones.iter().map(|z| z.to_string()).collect());
        }
        if !users.is_empty() {
            r.users = Some(users.iter().map(|u| u.to_string()).collect());
        }
        Settings::resolve(r, false).unwrap()
    }

    fn spec() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/fixtures/dependencies.json")).unwrap()
    }

    #[test]
    fn every_spec_node_maps_to_its_spec_kind() {
        let v = spec();
        let nodes = v["nodes"].as_array().unwrap().iter().chain(v["sagemaker_leftovers"]["nodes"].as_array().unwrap());
        for n in nodes {
            let (id, kind) = (n["id"].as_str().unwrap(), n["kind"].as_str().unwrap());
            assert_eq!(profile_kind(id), Some(kind), "{id}");
            assert!(profile().contains_key(kind), "{kind} is in the profile");
        }
        assert_eq!(profile_kind("rtb.nat.us-east-1b.assoc"), Some("ec2.route_table_assoc"));
        assert_eq!(profile_kind("subnet.nat.us-east-1b"), Some("ec2.subnet"));
        assert_eq!(profile_kind("sm.user.bob"), Some("sm.user_profile"));
        assert_eq!(profile_kind("vpce.ecr.dkr"), Some("ec2.vpce_interface"));
        assert_eq!(profile_kind("no.such"), None);
        assert_eq!(expected("nfw.firewall", Direction::Up), Duration::from_secs(330));
        assert_eq!(expected("nfw.firewall", Direction::Down), Duration::from_secs(450));
    }

    #[test]
    fn every_step_of_a_wide_stack_has_a_kind() {
        let g = build_teardown(&settings(&["us-east-1a", "us-east-1b", "us-east-1c"], &["alice", "bob"]));
        for s in &g.steps {
            assert!(profile_kind(s.id.as_str()).is_some(), "{} has no profile kind", s.id);
        }
    }

    /// The longest path over the spec's own nodes and kinds (a port of
    /// `shared/tools/critical_path.py`), independent of the step graph.
    fn spec_bound(direction: Direction, purge_efs: bool) -> f64 {
        let v = spec();
        let mut nodes: Vec<(String, String)> = Vec::new();
        let mut after: HashMap<String, Vec<String>> = HashMap::new();
        for n in v["nodes"].as_array().unwrap() {
            let id = n["id"].as_str().unwrap().to_string();
            nodes.push((id.clone(), n["kind"].as_str().unwrap().to_string()));
            after.entry(id.clone()).or_default();
            for a in n["after"].as_array().unwrap() {
                let a = a.as_str().unwrap().to_string();
                match direction {
                    Direction::Up => after.entry(id.clone()).or_default().push(a),
                    Direction::Down => after.entry(a).or_default().push(id.clone()),
                }
            }
        }
        if direction == Direction::Down && purge_efs {
            let left = &v["sagemaker_leftovers"];
            for n in left["nodes"].as_array().unwrap() {
                nodes.push((n["id"].as_str().unwrap().into(), n["kind"].as_str().unwrap().into()));
            }
            for pair in left["teardown_after"].as_array().unwrap() {
                let (x, y) = (pair[0].as_str().unwrap().to_string(), pair[1].as_str().unwrap().to_string());
                after.entry(x).or_default().push(y);
            }
        }
        let weight: HashMap<&str, f64> = nodes
            .iter()
            .map(|(id, k)| {
                let (c, d) = profile()[k.as_str()];
                (id.as_str(), if direction == Direction::Up { c } else { d })
            })
            .collect();
        fn finish(n: &str, after: &HashMap<String, Vec<String>>, w: &HashMap<&str, f64>) -> f64 {
            let start = after.get(n).into_iter().flatten().map(|p| finish(p, after, w)).fold(0.0, f64::max);
            start + w[n]
        }
        nodes.iter().map(|(id, _)| finish(id, &after, &weight)).fold(0.0, f64::max)
    }

    #[test]
    fn the_default_shapes_bound_is_the_spec_tools() {
        // The spec's graph: without issue 14's logging steps.
        let mut s = settings(&[], &[]);
        s.logging = false;
        // `python3 shared/tools/critical_path.py --json` prints bound_s 334.0;
        // `... --direction down --purge-efs --json` prints 455.0.
        let up = bound(&build(&s), Direction::Up);
        assert_eq!(up.as_secs_f64(), spec_bound(Direction::Up, false));
        assert_eq!(up, Duration::from_secs(334));
        let down = bound(&build_teardown(&s), Direction::Down);
        assert_eq!(down.as_secs_f64(), spec_bound(Direction::Down, true));
        assert_eq!(down, Duration::from_secs(455));
    }

    /// Issue 14: the logging steps lengthen neither critical path (up: `nfw.logging` after the
    /// firewall takes no longer than the ingress route beside it).
    #[test]
    fn logging_does_not_lengthen_the_critical_path() {
        let with = settings(&[], &[]);
        let mut without = with.clone();
        without.logging = false;
        assert!(with.logging);
        assert_eq!(bound(&build(&with), Direction::Up), bound(&build(&without), Direction::Up));
        assert_eq!(bound(&build_teardown(&with), Direction::Down), bound(&build_teardown(&without), Direction::Down));
    }

    #[test]
    fn remaining_follows_the_direction() {
        let mut s = settings(&[], &[]);
        s.logging = false;
        let g = build(&s);
        let up = remaining(&g, Direction::Up);
        let down = remaining(&g, Direction::Down);
        let at = |id: &StepId| g.steps.iter().position(|s| &s.id == id).unwrap();
        // up: the firewall then its ingress route (330 + 1); down: the
        // firewall then its policy and rule group (450 + 2 + 2).
        assert_eq!(up[at(&StepId::FIREWALL)], Duration::from_secs(331));
        assert_eq!(down[at(&StepId::FIREWALL)], Duration::from_secs(454));
        // The last step up is alone on its path; the first step up is deleted last.
        assert_eq!(up[at(&StepId::APP)], expected("sm.app", Direction::Up));
        assert_eq!(down[at(&StepId::VPC)], expected("vpc", Direction::Down));
    }
}

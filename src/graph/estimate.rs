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

use std::time::Duration;

use crate::graph::{Graph, Step};
pub use crate::latency::Direction;

/// How long AWS takes to make `step`'s resource usable (up) or gone (down),
/// real-world, from its kind's entry in the latency profile
/// (`Kind::profile`); zero for a step whose kind names none.
pub fn expected(step: &Step, direction: Direction) -> Duration {
    step.kind.profile().map(|k| crate::latency::expected(k, direction)).unwrap_or_default()
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
        left[i] = (expected(&graph.steps[i], direction) + tail).max(during);
    }
    left
}

/// The lower bound on the run's wall time: its critical path.
pub fn bound(graph: &Graph, direction: Direction) -> Duration {
    remaining(graph, direction).into_iter().max().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{RawParams, Settings};
    use crate::graph::{build, build_teardown};
    use crate::step_id::StepId;

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
        let g = build_teardown(&settings(&[], &[]));
        let nodes = v["nodes"].as_array().unwrap().iter().chain(v["sagemaker_leftovers"]["nodes"].as_array().unwrap());
        for n in nodes {
            let (id, kind) = (n["id"].as_str().unwrap(), n["kind"].as_str().unwrap());
            let step = g.get(&StepId::recorded(id)).unwrap_or_else(|| panic!("{id} is a step"));
            assert_eq!(step.kind.profile(), Some(kind), "{id}");
            assert!(crate::latency::known(kind), "{kind} is in the profile");
        }
        let wide = build_teardown(&settings(&["us-east-1a", "us-east-1b"], &["alice", "bob"]));
        let kind = |id: &str| wide.get(&StepId::recorded(id)).and_then(|s| s.kind.profile());
        assert_eq!(kind("rtb.nat.us-east-1b.assoc"), Some("ec2.route_table_assoc"));
        assert_eq!(kind("subnet.nat.us-east-1b"), Some("ec2.subnet"));
        assert_eq!(kind("sm.user.bob"), Some("sm.user_profile"));
        assert_eq!(kind("vpce.ecr.dkr"), Some("ec2.vpce_interface"));
        let fw = g.get(&StepId::FIREWALL).unwrap();
        assert_eq!(expected(fw, Direction::Up), Duration::from_secs(330));
        assert_eq!(expected(fw, Direction::Down), Duration::from_secs(450));
    }

    #[test]
    fn every_step_of_a_wide_stack_has_a_kind() {
        let g = build_teardown(&settings(&["us-east-1a", "us-east-1b", "us-east-1c"], &["alice", "bob"]));
        for s in &g.steps {
            let kind = s.kind.profile().unwrap_or_else(|| panic!("{} names no latency profile entry", s.id));
            assert!(crate::latency::known(kind), "{}: {kind} is not in the latency profile", s.id);
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
        let weight: HashMap<&str, f64> =
            nodes.iter().map(|(id, k)| (id.as_str(), crate::latency::expected(k, direction).as_secs_f64())).collect();
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
        assert_eq!(up[at(&StepId::APP)], expected(g.get(&StepId::APP).unwrap(), Direction::Up));
        assert_eq!(down[at(&StepId::VPC)], expected(g.get(&StepId::VPC).unwrap(), Direction::Down));
    }
}

use super::*;
use crate::config::{RawParams, Settings};
use crate::kinds::domain::Domain;
use crate::kinds::firewall::Firewall;
use crate::kinds::route::{Route, RouteTarget};
use crate::kinds::subnet::Subnet;
use crate::kinds::{Ctx, Health};
use std::collections::BTreeSet;

fn settings() -> Settings {
    Settings::resolve(RawParams { region: Some("us-east-1".into()), ..Default::default() }, false).unwrap()
}

const SPEC: &str = include_str!("../../tests/fixtures/dependencies.json");
const ISSUE_14: &str = include_str!("../../tests/fixtures/dependencies-logging.json");
const ISSUE_28: &str = include_str!("../../tests/fixtures/dependencies-guardrails.json");
const ISSUE_30: &str = include_str!("../../tests/fixtures/dependencies-lockdown.json");

/// The spec's edges (`tests/fixtures/dependencies.json`, a copy of
/// `shared/spec/dependencies.json`), the edges issue 14 adds to the spec's
/// steps (`extra_after`: the domain's KmsKeyId), the edges issue 28 adds
/// (`tests/fixtures/dependencies-guardrails.json`: the execution policy names
/// the subnets, group and keys), the steps and edges issue 30 adds
/// (`tests/fixtures/dependencies-lockdown.json`: the access-log bucket) and,
/// with logging on, the
/// logging steps' edges (`tests/fixtures/dependencies-logging.json`, kept
/// apart so the copy stays the spec's).
fn spec_edges(logging: bool) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let issue: serde_json::Value = serde_json::from_str(ISSUE_14).unwrap();
    let lockdown: serde_json::Value = serde_json::from_str(ISSUE_30).unwrap();
    let mut docs = vec![serde_json::from_str::<serde_json::Value>(SPEC).unwrap(), lockdown.clone()];
    if logging {
        docs.push(issue.clone());
    }
    for v in docs {
        for n in v["nodes"].as_array().unwrap() {
            for a in n["after"].as_array().unwrap() {
                out.insert((n["id"].as_str().unwrap().to_string(), a.as_str().unwrap().to_string()));
            }
        }
    }
    let guardrails: serde_json::Value = serde_json::from_str(ISSUE_28).unwrap();
    for extra in [&issue["extra_after"], &guardrails["extra_after"], &lockdown["extra_after"]] {
        for (id, after) in extra.as_object().unwrap() {
            for a in after.as_array().unwrap() {
                out.insert((id.clone(), a.as_str().unwrap().to_string()));
            }
        }
    }
    out
}

fn spec_nodes(logging: bool) -> BTreeSet<String> {
    let mut texts = vec![SPEC, ISSUE_30];
    if logging {
        texts.push(ISSUE_14);
    }
    let mut out = BTreeSet::new();
    for text in texts {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        out.extend(v["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()));
    }
    out
}

fn edges_of(g: &Graph) -> BTreeSet<(String, String)> {
    g.steps.iter().flat_map(|s| s.needs.iter().map(move |n| (s.id.to_string(), n.to_string()))).collect()
}

#[test]
fn edges_are_exactly_the_necessary_dependencies() {
    for logging in [true, false] {
        let r = RawParams { region: Some("us-east-1".into()), logging: Some(logging), ..Default::default() };
        let g = build(&Settings::resolve(r, false).unwrap());
        let (ours, spec) = (edges_of(&g), spec_edges(logging));
        let extra: Vec<_> = ours.difference(&spec).collect();
        let missing: Vec<_> = spec.difference(&ours).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "logging {logging}: extra edges {extra:?}, missing {missing:?}"
        );
    }
}

#[test]
fn the_spec_steps_keep_their_edges_with_logging_and_nothing_waits_on_a_logging_step() {
    let g = build(&settings());
    let spec = spec_nodes(false);
    let logging: BTreeSet<String> = spec_nodes(true).difference(&spec).cloned().collect();
    assert_eq!(logging.len(), 8);
    let among_spec: BTreeSet<_> = edges_of(&g).into_iter().filter(|(a, _)| spec.contains(a)).collect();
    assert_eq!(among_spec, spec_edges(false), "logging adds no edge to the spec's steps");
    for (a, b) in edges_of(&g) {
        assert!(!(spec.contains(&a) && logging.contains(&b)), "{a} waits on logging step {b}");
    }
}

#[test]
fn every_spec_node_is_a_step() {
    for logging in [true, false] {
        let r = RawParams { region: Some("us-east-1".into()), logging: Some(logging), ..Default::default() };
        let g = build(&Settings::resolve(r, false).unwrap());
        let ours: BTreeSet<String> = g.steps.iter().map(|s| s.id.to_string()).collect();
        assert_eq!(spec_nodes(logging), ours, "logging {logging}");
    }
}

#[test]
fn every_zone_routes_through_its_own_nat_and_firewall_endpoint() {
    let r = RawParams {
        region: Some("us-east-1".into()),
        availability_zones: Some(vec!["us-east-1a".into(), "us-east-1b".into(), "us-east-1c".into()]),
        ..Default::default()
    };
    let g = build(&Settings::resolve(r, false).unwrap());
    let zone_of = |id: &str| -> String {
        ["us-east-1b", "us-east-1c"]
            .iter()
            .find(|z| id.ends_with(*z))
            .map(|z| z.to_string())
            .unwrap_or("us-east-1a".into())
    };
    let mut routes = 0;
    for step in &g.steps {
        let Some(Route { table, target, .. }) = kind::<Route>(step) else { continue };
        routes += 1;
        let zone = zone_of(step.id.as_str());
        match target {
            RouteTarget::FirewallEndpoint { az, .. } => assert_eq!(az, &zone, "{}", step.id),
            RouteTarget::NatGateway { nat } => assert_eq!(zone_of(nat.as_str()), zone, "{}", step.id),
            RouteTarget::InternetGateway { .. } => {}
        }
        if *table != StepId::RTB_IGW {
            assert_eq!(zone_of(table.as_str()), zone, "{} is in its zone's table", step.id);
        }
    }
    assert_eq!(routes, 12, "four routes per zone");
    let fw = kind::<Firewall>(g.get(&StepId::FIREWALL).unwrap()).unwrap();
    assert_eq!(fw.subnets, ["subnet.firewall", "subnet.firewall.us-east-1b", "subnet.firewall.us-east-1c"]);
    assert_eq!(kind::<Domain>(g.get(&StepId::DOMAIN).unwrap()).unwrap().subnets.len(), 3);
    let nat_c = StepId::SUBNET_NAT.in_zone(2, "us-east-1c");
    assert_eq!(kind::<Subnet>(g.get(&nat_c).unwrap()).unwrap().az, "us-east-1c");
    let t = build_teardown(
        &Settings::resolve(
            RawParams {
                region: Some("us-east-1".into()),
                availability_zones: Some(vec!["us-east-1a".into(), "us-east-1b".into()]),
                ..Default::default()
            },
            false,
        )
        .unwrap(),
    );
    let b = StepId::SUBNET_SAGEMAKER.in_zone(1, "us-east-1b");
    assert!(t.get(&StepId::EFS_MOUNT_TARGET).unwrap().needs.contains(&b));
}

#[test]
fn teardown_graph_orders_leftovers() {
    let g = build_teardown(&settings());
    let needs = |id: &StepId| g.get(id).unwrap().needs.clone();
    assert!(needs(&StepId::DOMAIN).contains(&StepId::EFS_MOUNT_TARGET));
    assert!(needs(&StepId::EFS_MOUNT_TARGET).contains(&StepId::EFS_FILE_SYSTEM));
    assert!(needs(&StepId::EFS_MOUNT_TARGET).contains(&StepId::SG_NFS));
    assert!(needs(&StepId::EFS_MOUNT_TARGET).contains(&StepId::SUBNET_SAGEMAKER));
    assert!(needs(&StepId::SG_NFS).contains(&StepId::VPC));
    assert!(g.validate().is_ok());
}

/// A kind for graph tests: no AWS, only needs and reads.
#[derive(Debug)]
struct Fake {
    needs: Vec<StepId>,
    reads: Vec<StepId>,
}

#[async_trait::async_trait]
impl Kind for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn needs(&self) -> Vec<StepId> {
        self.needs.clone()
    }
    fn reads(&self) -> Vec<StepId> {
        self.reads.clone()
    }
    async fn find(&self, _: &Ctx, _: &StepId) -> anyhow::Result<Option<String>> {
        unreachable!()
    }
    async fn create(&self, _: &Ctx, _: &StepId, _: &str) -> anyhow::Result<String> {
        unreachable!()
    }
    async fn health(&self, _: &Ctx, _: &StepId, _: &str) -> anyhow::Result<Health> {
        unreachable!()
    }
    async fn delete(&self, _: &Ctx, _: &str) -> anyhow::Result<()> {
        unreachable!()
    }
}

fn graph(steps: &[(&str, &[&str], &[&str])]) -> Graph {
    let ids = |v: &[&str]| v.iter().map(|s| StepId::recorded(*s)).collect::<Vec<_>>();
    let steps: Vec<Step> = steps
        .iter()
        .map(|(id, n, r)| Step::new(StepId::recorded(*id), Fake { needs: ids(n), reads: ids(r) }))
        .collect();
    let index = steps.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
    Graph { steps, index }
}

#[test]
fn validate_reports_cycles_and_unknown_needs() {
    let e = graph(&[("a", &["b"], &[]), ("b", &["a"], &[]), ("c", &["zz"], &[])]).validate().unwrap_err();
    assert!(e.contains("c needs unknown step zz"), "{e}");
    let e = graph(&[("a", &["b"], &[]), ("b", &["a"], &[]), ("c", &[], &[])]).validate().unwrap_err();
    assert_eq!(e, "cycle among: a, b");
}

#[test]
fn validate_checks_reads_are_ordered_through_needs() {
    // c reads a through b: fine. d reads a without any path to it: refused.
    let g = graph(&[("a", &[], &[]), ("b", &["a"], &[]), ("c", &["b"], &["a"]), ("d", &["b"], &[])]);
    assert!(g.validate().is_ok());
    let g = graph(&[("a", &[], &[]), ("b", &[], &[]), ("d", &["b"], &["a"])]);
    assert_eq!(g.validate().unwrap_err(), "d reads a but is not ordered after it");
}

#[test]
fn every_kind_of_the_real_graph_reads_only_what_it_is_ordered_after() {
    for g in [build(&settings()), build_teardown(&settings())] {
        assert!(g.validate().is_ok());
        assert!(g.steps.iter().any(|s| !s.kind.reads().is_empty()), "reads are declared");
    }
}

/// The concrete kind of a step.
fn kind<K: Kind>(step: &Step) -> Option<&K> {
    step.kind_as::<K>()
}

#[test]
fn teardown_order_deletes_each_step_after_what_needs_it() {
    let g = build_teardown(&settings());
    let order = g.teardown_order();
    assert_eq!(order.len(), g.steps.len());
    let pos = |id: &StepId| order.iter().position(|&i| g.steps[i].id == *id).unwrap();
    for s in &g.steps {
        for n in &s.needs {
            assert!(pos(&s.id) < pos(n), "{} is deleted before {n}, which it needs", s.id);
        }
    }
    assert!(pos(&StepId::APP) < pos(&StepId::USER) && pos(&StepId::USER) < pos(&StepId::DOMAIN));
    assert!(pos(&StepId::SG_NFS) < pos(&StepId::VPC));
}

/// `StepId::zone_steps` lists exactly a zone's steps (what day two removes
/// with a zone, and moves to the first zone's ids when the first one goes).
#[test]
fn zone_steps_are_exactly_the_steps_a_zone_adds() {
    let zones = |z: &[&str]| {
        let r = RawParams {
            region: Some("us-east-1".into()),
            availability_zones: Some(z.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        build(&Settings::resolve(r, false).unwrap())
    };
    let (one, two) = (zones(&["us-east-1a"]), zones(&["us-east-1a", "us-east-1b"]));
    let ids = |g: &Graph| g.steps.iter().map(|s| s.id.to_string()).collect::<BTreeSet<_>>();
    let added: BTreeSet<String> = ids(&two).difference(&ids(&one)).cloned().collect();
    let listed: BTreeSet<String> = StepId::zone_steps(1, "us-east-1b").iter().map(|s| s.to_string()).collect();
    assert_eq!(added, listed);
    assert_eq!(StepId::zone_steps(0, "us-east-1a").len(), 15);
    assert!(StepId::zone_steps(0, "us-east-1a").iter().all(|s| one.get(s).is_some()));
}

//! The step graph: one step per AWS resource (or attachment, association,
//! route), each with the steps it needs. Pure: built from `Settings` alone.
//!
//! The edges are exactly the necessary dependencies of
//! `shared/spec/dependencies.json`: an extra edge would serialise work AWS
//! could do in parallel (a lost minute on a real account), a missing one
//! would make a create fail. A unit test compares the two.
//!
//! Teardown runs the same graph with its edges reversed, plus the
//! `TEARDOWN_ONLY` steps for what SageMaker creates on its own.

use std::collections::{BTreeMap, HashMap};

use ipnet::Ipv4Net;

use crate::config::Settings;

/// What a step makes, with the parameters that are not derivable from the
/// settings alone. References to other steps are step ids.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Vpc,
    Subnet {
        cidr: Ipv4Net,
        name: String,
        az: String,
    },
    SecurityGroup(SgRole),
    Eip {
        name: String,
    },
    InternetGateway,
    IgwAttach,
    NatGateway {
        subnet: String,
        eip: String,
        name: String,
    },
    RuleGroup,
    FirewallPolicy,
    /// Mapped to every zone's firewall subnet (step ids).
    Firewall {
        subnets: Vec<String>,
    },
    RouteTable {
        name: String,
    },
    RouteTableAssoc {
        table: String,
        target: AssocTarget,
    },
    Route {
        table: String,
        destination: String,
        target: RouteTarget,
    },
    /// On every zone's SageMaker route table (step ids).
    VpceGateway {
        route_tables: Vec<String>,
    },
    /// In every zone's SageMaker subnet (step ids).
    VpceInterface {
        service: String,
        policy: bool,
        subnets: Vec<String>,
    },
    KmsKey(KeyRole),
    KmsAlias {
        key: String,
        alias: String,
    },
    Bucket {
        suffix: String,
    },
    IamPolicy,
    IamRole,
    /// Spans every zone's SageMaker subnet (step ids).
    Domain {
        subnets: Vec<String>,
    },
    UserProfile {
        name: String,
    },
    App {
        user: String,
    },
    /// Teardown only: SageMaker's EFS mount targets (and their ENIs).
    EfsMountTargets,
    /// Teardown only: SageMaker's EFS file system.
    EfsFileSystem,
    /// Teardown only: SageMaker's two NFS security groups and leftover ENIs.
    NfsSecurityGroups,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgRole {
    Sagemaker,
    Vpce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    S3,
    Ebs,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AssocTarget {
    Subnet(String),
    /// Edge association with the internet gateway.
    Gateway(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum RouteTarget {
    InternetGateway,
    NatGateway {
        nat: String,
    },
    /// The firewall endpoint in this availability zone.
    FirewallEndpoint {
        az: String,
    },
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub spec: Spec,
    pub needs: Vec<String>,
}

impl Step {
    /// Human name of the resource kind, for messages ("creating NAT gateway").
    pub fn kind_name(&self) -> &'static str {
        match &self.spec {
            Spec::Vpc => "VPC",
            Spec::Subnet { .. } => "subnet",
            Spec::SecurityGroup(_) => "security group",
            Spec::Eip { .. } => "Elastic IP",
            Spec::InternetGateway => "internet gateway",
            Spec::IgwAttach => "internet gateway attachment",
            Spec::NatGateway { .. } => "NAT gateway",
            Spec::RuleGroup => "Network Firewall rule group",
            Spec::FirewallPolicy => "Network Firewall policy",
            Spec::Firewall { .. } => "Network Firewall",
            Spec::RouteTable { .. } => "route table",
            Spec::RouteTableAssoc { .. } => "route table association",
            Spec::Route { .. } => "route",
            Spec::VpceGateway { .. } => "gateway VPC endpoint",
            Spec::VpceInterface { .. } => "interface VPC endpoint",
            Spec::KmsKey(_) => "KMS key",
            Spec::KmsAlias { .. } => "KMS alias",
            Spec::Bucket { .. } => "S3 bucket",
            Spec::IamPolicy => "IAM managed policy",
            Spec::IamRole => "IAM role",
            Spec::Domain { .. } => "SageMaker domain",
            Spec::UserProfile { .. } => "SageMaker user profile",
            Spec::App { .. } => "SageMaker app",
            Spec::EfsMountTargets => "EFS mount targets",
            Spec::EfsFileSystem => "EFS file system",
            Spec::NfsSecurityGroups => "NFS security groups",
        }
    }
}

/// The ten interface endpoints: (step id suffix, service name template, has a policy).
pub const INTERFACE_ENDPOINTS: &[(&str, &str, bool)] = &[
    ("sagemaker.api", "com.amazonaws.{region}.sagemaker.api", true),
    ("sagemaker.runtime", "com.amazonaws.{region}.sagemaker.runtime", true),
    ("notebook", "aws.sagemaker.{region}.notebook", true),
    ("sts", "com.amazonaws.{region}.sts", true),
    ("ssm", "com.amazonaws.{region}.ssm", false),
    ("monitoring", "com.amazonaws.{region}.monitoring", true),
    ("logs", "com.amazonaws.{region}.logs", true),
    ("ecr.dkr", "com.amazonaws.{region}.ecr.dkr", true),
    ("ecr.api", "com.amazonaws.{region}.ecr.api", true),
    ("servicecatalog", "com.amazonaws.{region}.servicecatalog", false),
];

/// Steps the app needs besides its user profile: the network paths Studio uses.
const APP_ENDPOINTS: &[&str] = &["sagemaker.api", "sagemaker.runtime", "notebook", "sts"];

/// Teardown-only steps and what must be gone before each can go
/// (`dependencies.json` `sagemaker_leftovers.teardown_after`).
pub const TEARDOWN_ONLY: &[(&str, &[&str])] = &[
    ("efs.mount_target", &["sm.domain"]),
    ("efs.file_system", &["efs.mount_target"]),
    ("sg.nfs", &["efs.mount_target"]),
];

/// Steps that must wait for a teardown-only step: (step, waits for).
pub const TEARDOWN_EXTRA: &[(&str, &str)] = &[("subnet.sagemaker", "efs.mount_target"), ("vpc", "sg.nfs")];

#[derive(Debug, Clone)]
pub struct Graph {
    pub steps: Vec<Step>,
    index: HashMap<String, usize>,
}

impl Graph {
    fn new(steps: Vec<Step>) -> Graph {
        let index = steps.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        let g = Graph { steps, index };
        if let Err(e) = g.validate() {
            panic!("step graph is invalid: {e}");
        }
        g
    }

    #[cfg(test)]
    pub fn get(&self, id: &str) -> Option<&Step> {
        self.index.get(id).map(|&i| &self.steps[i])
    }

    #[cfg(test)]
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|s| s.id.as_str())
    }

    /// Every need names a step, ids are unique, and there is no cycle
    /// (every cycle found is reported, in a stable order).
    pub fn validate(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        if self.index.len() != self.steps.len() {
            errs.push("duplicate step ids".to_string());
        }
        for s in &self.steps {
            for n in &s.needs {
                if !self.index.contains_key(n) {
                    errs.push(format!("{} needs unknown step {n}", s.id));
                }
            }
        }
        if errs.is_empty() {
            let mut q = crate::engine::DependencyQueue::new(&self.edges(), &Default::default());
            let mut order = 0;
            while let Some(n) = q.pop_ready() {
                q.finish(n);
                order += 1;
            }
            if order != self.steps.len() {
                let stuck: Vec<&str> = q.blocked().iter().map(|&i| self.steps[i].id.as_str()).collect();
                errs.push(format!("cycle among: {}", stuck.join(", ")));
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs.join("; ")) }
    }

    /// Forward edges as indices: `edges[i]` = the steps step i needs.
    pub fn edges(&self) -> Vec<Vec<usize>> {
        self.steps.iter().map(|s| s.needs.iter().filter_map(|n| self.index.get(n).copied()).collect()).collect()
    }

    /// Reversed edges for teardown: a step is deleted only after every step
    /// that needs it is gone.
    pub fn reversed_edges(&self) -> Vec<Vec<usize>> {
        let mut rev = vec![Vec::new(); self.steps.len()];
        for (i, s) in self.steps.iter().enumerate() {
            for n in &s.needs {
                if let Some(&j) = self.index.get(n) {
                    rev[j].push(i);
                }
            }
        }
        rev
    }
}

/// The `up` graph for the settings.
/// A zone's step id: the spec's id for the first zone, `{base}.{az}` for the others.
pub fn zone_id(base: &str, zone: usize, az: &str) -> String {
    if zone == 0 { base.to_string() } else { format!("{base}.{az}") }
}

/// A zone's Name tag: the spec's name for the first zone, `{name}-{az}` for the others.
fn zone_name(name: String, zone: usize, az: &str) -> String {
    if zone == 0 { name } else { format!("{name}-{az}") }
}

pub fn build(s: &Settings) -> Graph {
    let mut steps = Vec::new();
    let mut add = |id: &str, spec: Spec, needs: &[&str]| {
        steps.push(Step { id: id.to_string(), spec, needs: needs.iter().map(|n| n.to_string()).collect() });
    };
    let p = &s.project;
    let per_zone =
        |base: &str| -> Vec<String> { s.zones.iter().enumerate().map(|(i, z)| zone_id(base, i, &z.az)).collect() };
    let firewall_subnets = per_zone("subnet.firewall");
    let sagemaker_subnets = per_zone("subnet.sagemaker");
    let sagemaker_tables = per_zone("rtb.sagemaker");

    add("vpc", Spec::Vpc, &[]);
    add("sg.sagemaker", Spec::SecurityGroup(SgRole::Sagemaker), &["vpc"]);
    add("sg.vpce", Spec::SecurityGroup(SgRole::Vpce), &["vpc", "sg.sagemaker"]);
    add("igw", Spec::InternetGateway, &[]);
    add("igw.attach", Spec::IgwAttach, &["vpc", "igw"]);
    add("nfw.rule_group", Spec::RuleGroup, &[]);
    add("nfw.policy", Spec::FirewallPolicy, &["nfw.rule_group"]);
    let mut fw_needs = vec!["nfw.policy"];
    fw_needs.extend(firewall_subnets.iter().map(String::as_str));
    add("nfw.firewall", Spec::Firewall { subnets: firewall_subnets.clone() }, &fw_needs);
    add("rtb.igw", Spec::RouteTable { name: format!("rtb-{p}-igw") }, &["vpc"]);
    add(
        "rtb.igw.assoc",
        Spec::RouteTableAssoc { table: "rtb.igw".into(), target: AssocTarget::Gateway("igw".into()) },
        &["rtb.igw", "igw.attach"],
    );

    for (i, z) in s.zones.iter().enumerate() {
        let az = z.az.as_str();
        let id = |base: &str| zone_id(base, i, az);
        let name = |n: String| zone_name(n, i, az);
        for (kind, cidr, tag) in [
            ("firewall", z.firewall, format!("sn-{p}-firewall")),
            ("nat", z.nat, format!("sn-{p}-nat-gateway")),
            ("sagemaker", z.sagemaker, format!("sn-{p}-sagemaker-studio")),
        ] {
            add(&id(&format!("subnet.{kind}")), Spec::Subnet { cidr, name: name(tag), az: az.to_string() }, &["vpc"]);
        }
        let (eip, nat, nat_subnet) = (id("eip"), id("nat"), id("subnet.nat"));
        add(&eip, Spec::Eip { name: name(format!("eip-{p}")) }, &[]);
        add(
            &nat,
            Spec::NatGateway { subnet: nat_subnet.clone(), eip: eip.clone(), name: name(format!("nat-gateway-{p}")) },
            &[&nat_subnet, &eip, "igw.attach"],
        );
        for (kind, tag) in [("firewall", "firewall"), ("nat", "nat-gateway"), ("sagemaker", "sagemaker")] {
            let table = id(&format!("rtb.{kind}"));
            let subnet = id(&format!("subnet.{kind}"));
            add(&table, Spec::RouteTable { name: name(format!("rtb-{p}-{tag}")) }, &["vpc"]);
            add(
                &format!("{table}.assoc"),
                Spec::RouteTableAssoc { table: table.clone(), target: AssocTarget::Subnet(subnet.clone()) },
                &[&table, &subnet],
            );
        }
        let fw = RouteTarget::FirewallEndpoint { az: az.to_string() };
        let (fw_table, nat_table, sm_table) = (id("rtb.firewall"), id("rtb.nat"), id("rtb.sagemaker"));
        add(
            &id("route.igw_ingress"),
            Spec::Route { table: "rtb.igw".into(), destination: z.nat.to_string(), target: fw.clone() },
            &["rtb.igw", "nfw.firewall"],
        );
        add(
            &id("route.firewall_egress"),
            Spec::Route {
                table: fw_table.clone(),
                destination: "0.0.0.0/0".into(),
                target: RouteTarget::InternetGateway,
            },
            &[&fw_table, "igw.attach"],
        );
        add(
            &id("route.nat_egress"),
            Spec::Route { table: nat_table.clone(), destination: "0.0.0.0/0".into(), target: fw },
            &[&nat_table, "nfw.firewall"],
        );
        add(
            &id("route.sagemaker_egress"),
            Spec::Route {
                table: sm_table.clone(),
                destination: "0.0.0.0/0".into(),
                target: RouteTarget::NatGateway { nat: nat.clone() },
            },
            &[&sm_table, &nat],
        );
    }

    let tables: Vec<&str> = sagemaker_tables.iter().map(String::as_str).collect();
    add("vpce.s3", Spec::VpceGateway { route_tables: sagemaker_tables.clone() }, &tables);
    let mut vpce_needs: Vec<&str> = sagemaker_subnets.iter().map(String::as_str).collect();
    vpce_needs.push("sg.vpce");
    for (name, service, policy) in INTERFACE_ENDPOINTS {
        add(
            &format!("vpce.{name}"),
            Spec::VpceInterface {
                service: service.replace("{region}", &s.region),
                policy: *policy,
                subnets: sagemaker_subnets.clone(),
            },
            &vpce_needs,
        );
    }

    add("kms.s3", Spec::KmsKey(KeyRole::S3), &["vpce.s3"]);
    add("kms.s3.alias", Spec::KmsAlias { key: "kms.s3".into(), alias: format!("alias/kms-cmk-{p}") }, &["kms.s3"]);
    add("bucket.data", Spec::Bucket { suffix: "data".into() }, &["kms.s3", "vpce.s3"]);
    add("bucket.models", Spec::Bucket { suffix: "models".into() }, &["kms.s3", "vpce.s3"]);
    add("kms.ebs", Spec::KmsKey(KeyRole::Ebs), &[]);
    add(
        "kms.ebs.alias",
        Spec::KmsAlias { key: "kms.ebs".into(), alias: format!("alias/sagemaker-anfw-kms-{p}") },
        &["kms.ebs"],
    );
    add("iam.policy", Spec::IamPolicy, &[]);
    add("iam.role", Spec::IamRole, &["iam.policy"]);

    let mut domain_needs = vec!["vpc", "sg.sagemaker", "iam.role"];
    domain_needs.extend(sagemaker_subnets.iter().map(String::as_str));
    add("sm.domain", Spec::Domain { subnets: sagemaker_subnets.clone() }, &domain_needs);
    // The primary profile keeps the spec's ids; more users get suffixed ids.
    for (i, user) in s.users.iter().enumerate() {
        let (user_id, app_id) = if i == 0 {
            ("sm.user".to_string(), "sm.app".to_string())
        } else {
            (format!("sm.user.{user}"), format!("sm.app.{user}"))
        };
        add(&user_id, Spec::UserProfile { name: user.clone() }, &["sm.domain"]);
        let mut app_needs = vec![user_id.clone(), "route.sagemaker_egress".to_string()];
        app_needs.extend(APP_ENDPOINTS.iter().map(|e| format!("vpce.{e}")));
        let app_needs: Vec<&str> = app_needs.iter().map(String::as_str).collect();
        add(&app_id, Spec::App { user: user.clone() }, &app_needs);
    }

    Graph::new(steps)
}

/// The teardown graph: the `up` graph plus SageMaker's leftovers, edges as
/// the `up` graph's (teardown reverses them). A teardown-only step "needs"
/// what it must outlive in reverse: `efs.mount_target` is deleted after
/// `sm.domain`, so in forward terms `sm.domain` needs it.
pub fn build_teardown(s: &Settings) -> Graph {
    let up = build(s);
    let mut steps = up.steps;
    for (id, _) in TEARDOWN_ONLY {
        let spec = match *id {
            "efs.mount_target" => Spec::EfsMountTargets,
            "efs.file_system" => Spec::EfsFileSystem,
            _ => Spec::NfsSecurityGroups,
        };
        steps.push(Step { id: id.to_string(), spec, needs: Vec::new() });
    }
    // "A deleted after B" is the forward edge "B needs A".
    let mut after: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (a, bs) in TEARDOWN_ONLY {
        for b in *bs {
            after.entry(b.to_string()).or_default().push(a.to_string());
        }
    }
    for (a, b) in TEARDOWN_EXTRA {
        after.entry(b.to_string()).or_default().push(a.to_string());
    }
    // Every zone's SageMaker subnet holds a mount target.
    for (i, z) in s.zones.iter().enumerate().skip(1) {
        after.entry("efs.mount_target".into()).or_default().push(zone_id("subnet.sagemaker", i, &z.az));
    }
    for s in steps.iter_mut() {
        if let Some(extra) = after.remove(&s.id) {
            s.needs.extend(extra);
        }
    }
    Graph::new(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawParams, Settings};
    use std::collections::BTreeSet;

    fn settings() -> Settings {
        Settings::resolve(RawParams { region: Some("us-east-1".into()), ..Default::default() }, false).unwrap()
    }

    fn spec_edges() -> BTreeSet<(String, String)> {
        let text = include_str!("../tests/fixtures/dependencies.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut out = BTreeSet::new();
        for n in v["nodes"].as_array().unwrap() {
            for a in n["after"].as_array().unwrap() {
                out.insert((n["id"].as_str().unwrap().to_string(), a.as_str().unwrap().to_string()));
            }
        }
        out
    }

    #[test]
    fn edges_are_exactly_the_necessary_dependencies() {
        let g = build(&settings());
        let ours: BTreeSet<(String, String)> =
            g.steps.iter().flat_map(|s| s.needs.iter().map(move |n| (s.id.clone(), n.clone()))).collect();
        let spec = spec_edges();
        let extra: Vec<_> = ours.difference(&spec).collect();
        let missing: Vec<_> = spec.difference(&ours).collect();
        assert!(extra.is_empty() && missing.is_empty(), "extra edges {extra:?}, missing {missing:?}");
    }

    #[test]
    fn every_spec_node_is_a_step() {
        let g = build(&settings());
        let text = include_str!("../tests/fixtures/dependencies.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let spec: BTreeSet<&str> = v["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
        let ours: BTreeSet<&str> = g.ids().collect();
        assert_eq!(spec, ours);
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
            let Spec::Route { table, target, .. } = &step.spec else { continue };
            routes += 1;
            let zone = zone_of(&step.id);
            match target {
                RouteTarget::FirewallEndpoint { az } => assert_eq!(az, &zone, "{}", step.id),
                RouteTarget::NatGateway { nat } => assert_eq!(zone_of(nat), zone, "{}", step.id),
                RouteTarget::InternetGateway => {}
            }
            if table != "rtb.igw" {
                assert_eq!(zone_of(table), zone, "{} is in its zone's table", step.id);
            }
        }
        assert_eq!(routes, 12, "four routes per zone");
        let Spec::Firewall { subnets } = &g.get("nfw.firewall").unwrap().spec else { panic!() };
        assert_eq!(subnets, &["subnet.firewall", "subnet.firewall.us-east-1b", "subnet.firewall.us-east-1c"]);
        let Spec::Domain { subnets } = &g.get("sm.domain").unwrap().spec else { panic!() };
        assert_eq!(subnets.len(), 3);
        let Spec::Subnet { az, .. } = &g.get("subnet.nat.us-east-1c").unwrap().spec else { panic!() };
        assert_eq!(az, "us-east-1c");
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
        assert!(t.get("efs.mount_target").unwrap().needs.contains(&"subnet.sagemaker.us-east-1b".to_string()));
    }

    #[test]
    fn teardown_graph_orders_leftovers() {
        let g = build_teardown(&settings());
        let needs = |id: &str| g.get(id).unwrap().needs.clone();
        assert!(needs("sm.domain").contains(&"efs.mount_target".to_string()));
        assert!(needs("efs.mount_target").contains(&"efs.file_system".to_string()));
        assert!(needs("efs.mount_target").contains(&"sg.nfs".to_string()));
        assert!(needs("efs.mount_target").contains(&"subnet.sagemaker".to_string()));
        assert!(needs("sg.nfs").contains(&"vpc".to_string()));
        assert!(g.validate().is_ok());
    }

    #[test]
    fn validate_reports_cycles_and_unknown_needs() {
        let mk = |id: &str, needs: &[&str]| Step {
            id: id.into(),
            spec: Spec::Vpc,
            needs: needs.iter().map(|s| s.to_string()).collect(),
        };
        let steps = vec![mk("a", &["b"]), mk("b", &["a"]), mk("c", &["zz"])];
        let index = steps.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        let g = Graph { steps, index };
        let e = g.validate().unwrap_err();
        assert!(e.contains("c needs unknown step zz"), "{e}");
        let steps = vec![mk("a", &["b"]), mk("b", &["a"]), mk("c", &[])];
        let index = steps.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        let g = Graph { steps, index };
        assert_eq!(g.validate().unwrap_err(), "cycle among: a, b");
    }
}

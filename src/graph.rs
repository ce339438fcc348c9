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
    },
    SecurityGroup(SgRole),
    Eip,
    InternetGateway,
    IgwAttach,
    NatGateway,
    RuleGroup,
    FirewallPolicy,
    Firewall,
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
    VpceGateway,
    VpceInterface {
        service: String,
        policy: bool,
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
    Domain,
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
    NatGateway,
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
            Spec::Eip => "Elastic IP",
            Spec::InternetGateway => "internet gateway",
            Spec::IgwAttach => "internet gateway attachment",
            Spec::NatGateway => "NAT gateway",
            Spec::RuleGroup => "Network Firewall rule group",
            Spec::FirewallPolicy => "Network Firewall policy",
            Spec::Firewall => "Network Firewall",
            Spec::RouteTable { .. } => "route table",
            Spec::RouteTableAssoc { .. } => "route table association",
            Spec::Route { .. } => "route",
            Spec::VpceGateway => "gateway VPC endpoint",
            Spec::VpceInterface { .. } => "interface VPC endpoint",
            Spec::KmsKey(_) => "KMS key",
            Spec::KmsAlias { .. } => "KMS alias",
            Spec::Bucket { .. } => "S3 bucket",
            Spec::IamPolicy => "IAM managed policy",
            Spec::IamRole => "IAM role",
            Spec::Domain => "SageMaker domain",
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
    (
        "sagemaker.api",
        "com.amazonaws.{region}.sagemaker.api",
        true,
    ),
    (
        "sagemaker.runtime",
        "com.amazonaws.{region}.sagemaker.runtime",
        true,
    ),
    ("notebook", "aws.sagemaker.{region}.notebook", true),
    ("sts", "com.amazonaws.{region}.sts", true),
    ("ssm", "com.amazonaws.{region}.ssm", false),
    ("monitoring", "com.amazonaws.{region}.monitoring", true),
    ("logs", "com.amazonaws.{region}.logs", true),
    ("ecr.dkr", "com.amazonaws.{region}.ecr.dkr", true),
    ("ecr.api", "com.amazonaws.{region}.ecr.api", true),
    (
        "servicecatalog",
        "com.amazonaws.{region}.servicecatalog",
        false,
    ),
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
pub const TEARDOWN_EXTRA: &[(&str, &str)] =
    &[("subnet.sagemaker", "efs.mount_target"), ("vpc", "sg.nfs")];

#[derive(Debug, Clone)]
pub struct Graph {
    pub steps: Vec<Step>,
    index: HashMap<String, usize>,
}

impl Graph {
    fn new(steps: Vec<Step>) -> Graph {
        let index = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
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
                let stuck: Vec<&str> = q
                    .blocked()
                    .iter()
                    .map(|&i| self.steps[i].id.as_str())
                    .collect();
                errs.push(format!("cycle among: {}", stuck.join(", ")));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }

    /// Forward edges as indices: `edges[i]` = the steps step i needs.
    pub fn edges(&self) -> Vec<Vec<usize>> {
        self.steps
            .iter()
            .map(|s| {
                s.needs
                    .iter()
                    .filter_map(|n| self.index.get(n).copied())
                    .collect()
            })
            .collect()
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
pub fn build(s: &Settings) -> Graph {
    let mut steps = Vec::new();
    let mut add = |id: &str, spec: Spec, needs: &[&str]| {
        steps.push(Step {
            id: id.to_string(),
            spec,
            needs: needs.iter().map(|n| n.to_string()).collect(),
        });
    };
    let p = &s.project;
    let az = s.availability_zone.clone();

    add("vpc", Spec::Vpc, &[]);
    add(
        "subnet.firewall",
        Spec::Subnet {
            cidr: s.firewall_subnet_cidr,
            name: format!("sn-{p}-firewall"),
        },
        &["vpc"],
    );
    add(
        "subnet.nat",
        Spec::Subnet {
            cidr: s.nat_subnet_cidr,
            name: format!("sn-{p}-nat-gateway"),
        },
        &["vpc"],
    );
    add(
        "subnet.sagemaker",
        Spec::Subnet {
            cidr: s.sagemaker_subnet_cidr,
            name: format!("sn-{p}-sagemaker-studio"),
        },
        &["vpc"],
    );
    add(
        "sg.sagemaker",
        Spec::SecurityGroup(SgRole::Sagemaker),
        &["vpc"],
    );
    add(
        "sg.vpce",
        Spec::SecurityGroup(SgRole::Vpce),
        &["vpc", "sg.sagemaker"],
    );
    add("eip", Spec::Eip, &[]);
    add("igw", Spec::InternetGateway, &[]);
    add("igw.attach", Spec::IgwAttach, &["vpc", "igw"]);
    add(
        "nat",
        Spec::NatGateway,
        &["subnet.nat", "eip", "igw.attach"],
    );
    add("nfw.rule_group", Spec::RuleGroup, &[]);
    add("nfw.policy", Spec::FirewallPolicy, &["nfw.rule_group"]);
    add(
        "nfw.firewall",
        Spec::Firewall,
        &["nfw.policy", "subnet.firewall"],
    );

    for (t, name) in [
        ("igw", format!("rtb-{p}-igw")),
        ("firewall", format!("rtb-{p}-firewall")),
        ("nat", format!("rtb-{p}-nat-gateway")),
        ("sagemaker", format!("rtb-{p}-sagemaker")),
    ] {
        add(&format!("rtb.{t}"), Spec::RouteTable { name }, &["vpc"]);
    }
    add(
        "rtb.igw.assoc",
        Spec::RouteTableAssoc {
            table: "rtb.igw".into(),
            target: AssocTarget::Gateway("igw".into()),
        },
        &["rtb.igw", "igw.attach"],
    );
    for t in ["firewall", "nat", "sagemaker"] {
        let (table, subnet) = (format!("rtb.{t}"), format!("subnet.{t}"));
        add(
            &format!("{table}.assoc"),
            Spec::RouteTableAssoc {
                table: table.clone(),
                target: AssocTarget::Subnet(subnet.clone()),
            },
            &[&table, &subnet],
        );
    }
    let fw = RouteTarget::FirewallEndpoint { az: az.clone() };
    add(
        "route.igw_ingress",
        Spec::Route {
            table: "rtb.igw".into(),
            destination: s.nat_subnet_cidr.to_string(),
            target: fw.clone(),
        },
        &["rtb.igw", "nfw.firewall"],
    );
    add(
        "route.firewall_egress",
        Spec::Route {
            table: "rtb.firewall".into(),
            destination: "0.0.0.0/0".into(),
            target: RouteTarget::InternetGateway,
        },
        &["rtb.firewall", "igw.attach"],
    );
    add(
        "route.nat_egress",
        Spec::Route {
            table: "rtb.nat".into(),
            destination: "0.0.0.0/0".into(),
            target: fw,
        },
        &["rtb.nat", "nfw.firewall"],
    );
    add(
        "route.sagemaker_egress",
        Spec::Route {
            table: "rtb.sagemaker".into(),
            destination: "0.0.0.0/0".into(),
            target: RouteTarget::NatGateway,
        },
        &["rtb.sagemaker", "nat"],
    );

    add("vpce.s3", Spec::VpceGateway, &["rtb.sagemaker"]);
    for (name, service, policy) in INTERFACE_ENDPOINTS {
        add(
            &format!("vpce.{name}"),
            Spec::VpceInterface {
                service: service.replace("{region}", &s.region),
                policy: *policy,
            },
            &["subnet.sagemaker", "sg.vpce"],
        );
    }

    add("kms.s3", Spec::KmsKey(KeyRole::S3), &["vpce.s3"]);
    add(
        "kms.s3.alias",
        Spec::KmsAlias {
            key: "kms.s3".into(),
            alias: format!("alias/kms-cmk-{p}"),
        },
        &["kms.s3"],
    );
    add(
        "bucket.data",
        Spec::Bucket {
            suffix: "data".into(),
        },
        &["kms.s3", "vpce.s3"],
    );
    add(
        "bucket.models",
        Spec::Bucket {
            suffix: "models".into(),
        },
        &["kms.s3", "vpce.s3"],
    );
    add("kms.ebs", Spec::KmsKey(KeyRole::Ebs), &[]);
    add(
        "kms.ebs.alias",
        Spec::KmsAlias {
            key: "kms.ebs".into(),
            alias: format!("alias/sagemaker-anfw-kms-{p}"),
        },
        &["kms.ebs"],
    );
    add("iam.policy", Spec::IamPolicy, &[]);
    add("iam.role", Spec::IamRole, &["iam.policy"]);

    add(
        "sm.domain",
        Spec::Domain,
        &["vpc", "subnet.sagemaker", "sg.sagemaker", "iam.role"],
    );
    // The primary profile keeps the spec's ids; more users get suffixed ids.
    for (i, user) in s.users.iter().enumerate() {
        let (user_id, app_id) = if i == 0 {
            ("sm.user".to_string(), "sm.app".to_string())
        } else {
            (format!("sm.user.{user}"), format!("sm.app.{user}"))
        };
        add(
            &user_id,
            Spec::UserProfile { name: user.clone() },
            &["sm.domain"],
        );
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
        steps.push(Step {
            id: id.to_string(),
            spec,
            needs: Vec::new(),
        });
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
        Settings::resolve(
            RawParams {
                region: Some("us-east-1".into()),
                ..Default::default()
            },
            false,
        )
        .unwrap()
    }

    fn spec_edges() -> BTreeSet<(String, String)> {
        let text = include_str!("../tests/fixtures/dependencies.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut out = BTreeSet::new();
        for n in v["nodes"].as_array().unwrap() {
            for a in n["after"].as_array().unwrap() {
                out.insert((
                    n["id"].as_str().unwrap().to_string(),
                    a.as_str().unwrap().to_string(),
                ));
            }
        }
        out
    }

    #[test]
    fn edges_are_exactly_the_necessary_dependencies() {
        let g = build(&settings());
        let ours: BTreeSet<(String, String)> = g
            .steps
            .iter()
            .flat_map(|s| s.needs.iter().map(move |n| (s.id.clone(), n.clone())))
            .collect();
        let spec = spec_edges();
        let extra: Vec<_> = ours.difference(&spec).collect();
        let missing: Vec<_> = spec.difference(&ours).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "extra edges {extra:?}, missing {missing:?}"
        );
    }

    #[test]
    fn every_spec_node_is_a_step() {
        let g = build(&settings());
        let text = include_str!("../tests/fixtures/dependencies.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let spec: BTreeSet<&str> = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        let ours: BTreeSet<&str> = g.ids().collect();
        assert_eq!(spec, ours);
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
        let index = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let g = Graph { steps, index };
        let e = g.validate().unwrap_err();
        assert!(e.contains("c needs unknown step zz"), "{e}");
        let steps = vec![mk("a", &["b"]), mk("b", &["a"]), mk("c", &[])];
        let index = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let g = Graph { steps, index };
        assert_eq!(g.validate().unwrap_err(), "cycle among: a, b");
    }
}

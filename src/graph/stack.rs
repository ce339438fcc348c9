//! The stack's shape: which steps the settings make (`build`), in every
//! zone and for every user, with the kinds and references each holds, and
//! the kinds only teardown handles (`build_teardown`).

use std::sync::Arc;

use crate::config::Settings;
use crate::kinds::Kind;
use crate::kinds::app::App;
use crate::kinds::classic_app::ClassicApp;
use crate::kinds::domain::Domain;
use crate::kinds::efs_file_system::EfsFileSystem;
use crate::kinds::efs_mount_targets::EfsMountTargets;
use crate::kinds::eip::Eip;
use crate::kinds::firewall::Firewall;
use crate::kinds::firewall_logging::FirewallLogging;
use crate::kinds::firewall_policy::FirewallPolicy;
use crate::kinds::flow_log::FlowLog;
use crate::kinds::flow_logs_role::FlowLogsRole;
use crate::kinds::iam_policy::IamPolicy;
use crate::kinds::iam_role::IamRole;
use crate::kinds::igw_attachment::IgwAttachment;
use crate::kinds::internet_gateway::InternetGateway;
use crate::kinds::kms_alias::KmsAlias;
use crate::kinds::kms_key::{KeyRole, KmsKey};
use crate::kinds::log_bucket::LogBucket;
use crate::kinds::log_group::LogGroup;
use crate::kinds::nat_gateway::NatGateway;
use crate::kinds::network_acl::{NetworkAcl, Tier};
use crate::kinds::nfs_security_groups::NfsSecurityGroups;
use crate::kinds::route::{Route, RouteTarget};
use crate::kinds::route_table::RouteTable;
use crate::kinds::route_table_association::{AssocTarget, RouteTableAssociation};
use crate::kinds::rule_group::RuleGroup;
use crate::kinds::s3_bucket::S3Bucket;
use crate::kinds::security_group::{SecurityGroup, SgRole};
use crate::kinds::space::Space;
use crate::kinds::studio_made::{UserMadeApps, UserMadeSpaces};
use crate::kinds::subnet::Subnet;
use crate::kinds::user_profile::UserProfile;
use crate::kinds::vpc::Vpc;
use crate::kinds::vpc_endpoint::{Flavor, VpcEndpoint};
use crate::step_id::StepId;

use super::{Graph, Step};

/// The ten interface endpoints: (step, Name tag suffix, service name template, has a policy).
pub const INTERFACE_ENDPOINTS: &[(StepId, &str, &str, bool)] = &[
    (StepId::VPCE_SAGEMAKER_API, "sagemaker.api", "com.amazonaws.{region}.sagemaker.api", true),
    (StepId::VPCE_SAGEMAKER_RUNTIME, "sagemaker.runtime", "com.amazonaws.{region}.sagemaker.runtime", true),
    (StepId::VPCE_NOTEBOOK, "notebook", "aws.sagemaker.{region}.notebook", true),
    (StepId::VPCE_STS, "sts", "com.amazonaws.{region}.sts", true),
    (StepId::VPCE_SSM, "ssm", "com.amazonaws.{region}.ssm", false),
    (StepId::VPCE_MONITORING, "monitoring", "com.amazonaws.{region}.monitoring", true),
    (StepId::VPCE_LOGS, "logs", "com.amazonaws.{region}.logs", true),
    (StepId::VPCE_ECR_DKR, "ecr.dkr", "com.amazonaws.{region}.ecr.dkr", true),
    (StepId::VPCE_ECR_API, "ecr.api", "com.amazonaws.{region}.ecr.api", true),
    (StepId::VPCE_SERVICECATALOG, "servicecatalog", "com.amazonaws.{region}.servicecatalog", false),
];

/// The endpoints an app needs besides its user profile: the network paths Studio uses.
const APP_ENDPOINTS: &[StepId] =
    &[StepId::VPCE_SAGEMAKER_API, StepId::VPCE_SAGEMAKER_RUNTIME, StepId::VPCE_NOTEBOOK, StepId::VPCE_STS];

/// A zone's Name tag: the spec's name for the first zone, `{name}-{az}` for the others.
fn zone_name(name: String, zone: usize, az: &str) -> String {
    if zone == 0 { name } else { format!("{name}-{az}") }
}

/// `base` in every zone of the settings.
pub fn per_zone(s: &Settings, base: &StepId) -> Vec<StepId> {
    s.zones.iter().enumerate().map(|(i, z)| base.in_zone(i, &z.az)).collect()
}

/// The `up` graph for the settings.
pub fn build(s: &Settings) -> Graph {
    let mut steps: Vec<Step> = Vec::new();
    let mut push = |id: StepId, kind: Arc<dyn Kind>| {
        let needs = kind.needs();
        steps.push(Step { id, kind, needs, changes: Vec::new() });
    };
    let p = &s.project;
    let firewall_subnets = per_zone(s, &StepId::SUBNET_FIREWALL);
    let sagemaker_subnets = per_zone(s, &StepId::SUBNET_SAGEMAKER);
    let sagemaker_tables = per_zone(s, &StepId::RTB_SAGEMAKER);
    let internet = || RouteTarget::InternetGateway { igw: StepId::IGW, attachment: StepId::IGW_ATTACH };

    push(StepId::VPC, Arc::new(Vpc));
    push(StepId::SG_SAGEMAKER, Arc::new(SecurityGroup { vpc: StepId::VPC, role: SgRole::Sagemaker }));
    push(
        StepId::SG_VPCE,
        Arc::new(SecurityGroup { vpc: StepId::VPC, role: SgRole::Vpce { sagemaker: StepId::SG_SAGEMAKER } }),
    );
    push(StepId::IGW, Arc::new(InternetGateway));
    push(StepId::IGW_ATTACH, Arc::new(IgwAttachment { vpc: StepId::VPC, igw: StepId::IGW }));
    push(StepId::RULE_GROUP, Arc::new(RuleGroup));
    push(StepId::FIREWALL_POLICY, Arc::new(FirewallPolicy { rule_group: StepId::RULE_GROUP }));
    push(
        StepId::FIREWALL,
        Arc::new(Firewall {
            policy: StepId::FIREWALL_POLICY,
            subnets: firewall_subnets,
            azs: s.zones.iter().map(|z| z.az.clone()).collect(),
            vpc: StepId::VPC,
        }),
    );
    push(StepId::RTB_IGW, Arc::new(RouteTable { vpc: StepId::VPC, name: format!("rtb-{p}-igw") }));
    push(
        StepId::RTB_IGW.association(),
        Arc::new(RouteTableAssociation {
            table: StepId::RTB_IGW,
            target: AssocTarget::Gateway { igw: StepId::IGW, attachment: StepId::IGW_ATTACH },
        }),
    );

    for (i, z) in s.zones.iter().enumerate() {
        let az = z.az.as_str();
        let id = |base: &StepId| base.in_zone(i, az);
        let name = |n: String| zone_name(n, i, az);
        for (base, cidr, tag) in [
            (StepId::SUBNET_FIREWALL, z.firewall, format!("sn-{p}-firewall")),
            (StepId::SUBNET_NAT, z.nat, format!("sn-{p}-nat-gateway")),
            (StepId::SUBNET_SAGEMAKER, z.sagemaker, format!("sn-{p}-sagemaker-studio")),
        ] {
            let subnet = Subnet { vpc: StepId::VPC, cidr, name: name(tag), az: az.to_string() };
            push(id(&base), Arc::new(subnet));
        }
        let (eip, nat) = (id(&StepId::EIP), id(&StepId::NAT));
        push(eip.clone(), Arc::new(Eip { name: name(format!("eip-{p}")) }));
        push(
            nat.clone(),
            Arc::new(NatGateway {
                subnet: id(&StepId::SUBNET_NAT),
                eip,
                attachment: StepId::IGW_ATTACH,
                name: name(format!("nat-gateway-{p}")),
            }),
        );
        for (table, subnet, tag) in [
            (StepId::RTB_FIREWALL, StepId::SUBNET_FIREWALL, "firewall"),
            (StepId::RTB_NAT, StepId::SUBNET_NAT, "nat-gateway"),
            (StepId::RTB_SAGEMAKER, StepId::SUBNET_SAGEMAKER, "sagemaker"),
        ] {
            let table = id(&table);
            push(table.clone(), Arc::new(RouteTable { vpc: StepId::VPC, name: name(format!("rtb-{p}-{tag}")) }));
            push(
                table.association(),
                Arc::new(RouteTableAssociation { table, target: AssocTarget::Subnet(id(&subnet)) }),
            );
        }
        let endpoint = RouteTarget::FirewallEndpoint { firewall: StepId::FIREWALL, az: az.to_string() };
        let default = "0.0.0.0/0".to_string();
        for (route, table, destination, target) in [
            (StepId::ROUTE_IGW_INGRESS, StepId::RTB_IGW, z.nat.to_string(), endpoint.clone()),
            (StepId::ROUTE_FIREWALL_EGRESS, id(&StepId::RTB_FIREWALL), default.clone(), internet()),
            (StepId::ROUTE_NAT_EGRESS, id(&StepId::RTB_NAT), default.clone(), endpoint),
            (
                StepId::ROUTE_SAGEMAKER_EGRESS,
                id(&StepId::RTB_SAGEMAKER),
                default,
                RouteTarget::NatGateway { nat: nat.clone() },
            ),
        ] {
            push(id(&route), Arc::new(Route { table, destination, target }));
        }
    }

    push(
        StepId::VPCE_S3,
        Arc::new(VpcEndpoint {
            vpc: StepId::VPC,
            short: "s3",
            flavor: Flavor::Gateway { route_tables: sagemaker_tables },
        }),
    );
    for (step, short, service, policy) in INTERFACE_ENDPOINTS {
        let flavor = Flavor::Interface {
            service: service.replace("{region}", &s.region),
            policy: *policy,
            subnets: sagemaker_subnets.clone(),
            sg: StepId::SG_VPCE,
        };
        push(step.clone(), Arc::new(VpcEndpoint { vpc: StepId::VPC, short, flavor }));
    }

    // A network ACL per subnet tier (issue 30: `vpc.nacl_restricted`, `vpc.nacl_nat`, `vpc.nacl_firewall`).
    for tier in Tier::ALL {
        push(
            tier.step(),
            Arc::new(NetworkAcl {
                tier,
                vpc: StepId::VPC,
                subnets: per_zone(s, &tier.subnet()),
                name: format!("nacl-{p}-{}", tier.suffix()),
            }),
        );
    }
    push(StepId::KMS_S3, Arc::new(KmsKey { role: KeyRole::S3, after: vec![StepId::VPCE_S3] }));
    push(StepId::KMS_S3_ALIAS, Arc::new(KmsAlias { key: StepId::KMS_S3, alias: format!("alias/kms-cmk-{p}") }));
    // The buckets' server access logs (issue 30, `buckets.access_logging`).
    push(StepId::BUCKET_LOGS, Arc::new(LogBucket));
    for (step, suffix) in [(StepId::BUCKET_DATA, "data"), (StepId::BUCKET_MODELS, "models")] {
        push(
            step,
            Arc::new(S3Bucket { suffix, key: StepId::KMS_S3, endpoint: StepId::VPCE_S3, logs: StepId::BUCKET_LOGS }),
        );
    }
    push(StepId::KMS_EBS, Arc::new(KmsKey { role: KeyRole::Ebs, after: Vec::new() }));
    push(
        StepId::KMS_EBS_ALIAS,
        Arc::new(KmsAlias { key: StepId::KMS_EBS, alias: format!("alias/sagemaker-anfw-kms-{p}") }),
    );
    push(StepId::IAM_POLICY, Arc::new(IamPolicy));
    push(
        StepId::IAM_ROLE,
        Arc::new(IamRole {
            policy: StepId::IAM_POLICY,
            subnets: sagemaker_subnets.clone(),
            sg: StepId::SG_SAGEMAKER,
            volume_key: StepId::KMS_EBS,
            output_key: StepId::KMS_S3,
        }),
    );

    push(
        StepId::DOMAIN,
        Arc::new(Domain {
            vpc: StepId::VPC,
            subnets: sagemaker_subnets,
            role: StepId::IAM_ROLE,
            sg: StepId::SG_SAGEMAKER,
            key: StepId::KMS_EBS,
        }),
    );
    if s.logging {
        // Logs: their key, the three groups, the flow log and its role, the
        // firewall's logging. Nothing else waits on them.
        push(StepId::KMS_LOGS, Arc::new(KmsKey { role: KeyRole::Logs, after: Vec::new() }));
        push(StepId::KMS_LOGS_ALIAS, Arc::new(KmsAlias { key: StepId::KMS_LOGS, alias: format!("alias/{p}-logs") }));
        for (step, which) in StepId::LOG_GROUPS {
            push(step, Arc::new(LogGroup { key: StepId::KMS_LOGS, name: s.log_group_name(which) }));
        }
        let (flow_group, _) = &StepId::LOG_GROUPS[0];
        push(StepId::FLOW_LOGS_ROLE, Arc::new(FlowLogsRole { group: s.log_group_name(StepId::LOG_GROUPS[0].1) }));
        push(
            StepId::FLOW_LOG,
            Arc::new(FlowLog { vpc: StepId::VPC, group: flow_group.clone(), role: StepId::FLOW_LOGS_ROLE }),
        );
        push(
            StepId::FIREWALL_LOGGING,
            Arc::new(FirewallLogging {
                firewall: StepId::FIREWALL,
                alert: StepId::LOGS_FIREWALL_ALERT,
                flow: StepId::LOGS_FIREWALL_FLOW,
            }),
        );
    }
    // The primary profile keeps the spec's ids; more users get suffixed ids.
    let mut network = vec![StepId::ROUTE_SAGEMAKER_EGRESS];
    network.extend(APP_ENDPOINTS.iter().cloned());
    for (i, user) in s.users.iter().enumerate() {
        let user_step = StepId::USER.for_user(i, user);
        push(
            user_step.clone(),
            Arc::new(UserProfile {
                domain: StepId::DOMAIN,
                name: user.clone(),
                role: StepId::IAM_ROLE,
                sg: StepId::SG_SAGEMAKER,
            }),
        );
        let space_step = StepId::SPACE.for_user(i, user);
        push(space_step.clone(), Arc::new(Space { user_step, user: user.clone(), domain: StepId::DOMAIN }));
        push(
            StepId::APP.for_user(i, user),
            Arc::new(App { space_step, user: user.clone(), domain: StepId::DOMAIN, network: network.clone() }),
        );
    }
    Graph::new(steps)
}

/// The kinds only teardown handles: what SageMaker creates on its own for
/// the domain, what Studio's users make in it, and the Studio Classic apps
/// an earlier version recorded.
fn leftovers(s: &Settings) -> Vec<Step> {
    let classic = s.users.iter().enumerate().map(|(i, user)| {
        Step::new(StepId::CLASSIC_APP.for_user(i, user), ClassicApp { user_step: StepId::USER.for_user(i, user) })
    });
    let mut steps: Vec<Step> = classic.collect();
    let users: Vec<StepId> = s.users.iter().enumerate().map(|(i, u)| StepId::USER.for_user(i, u)).collect();
    let spaces = s.users.iter().enumerate().map(|(i, u)| StepId::SPACE.for_user(i, u));
    let mut before_spaces: Vec<StepId> = users.clone();
    before_spaces.push(StepId::DOMAIN);
    let mut before_apps: Vec<StepId> = spaces.chain(before_spaces.iter().cloned()).collect();
    before_apps.push(StepId::USER_MADE_SPACES);
    steps.extend([
        Step::new(StepId::USER_MADE_APPS, UserMadeApps { domain: StepId::DOMAIN, before: before_apps }),
        Step::new(StepId::USER_MADE_SPACES, UserMadeSpaces { domain: StepId::DOMAIN, before: before_spaces }),
    ]);
    steps.extend([
        Step::new(
            StepId::EFS_MOUNT_TARGET,
            EfsMountTargets {
                domain: StepId::DOMAIN,
                subnets: per_zone(s, &StepId::SUBNET_SAGEMAKER),
                vpc: StepId::VPC,
                groups: StepId::SG_NFS,
            },
        ),
        Step::new(
            StepId::EFS_FILE_SYSTEM,
            EfsFileSystem { domain: StepId::DOMAIN, mount_targets: StepId::EFS_MOUNT_TARGET, key: StepId::KMS_EBS },
        ),
        Step::new(
            StepId::SG_NFS,
            NfsSecurityGroups {
                domain: StepId::DOMAIN,
                mount_targets: StepId::EFS_MOUNT_TARGET,
                file_system: StepId::EFS_FILE_SYSTEM,
                vpc: StepId::VPC,
            },
        ),
    ]);
    steps
}

/// Whether `id` is one of the steps only a stack with logging has (issue 14).
pub fn is_logging_step(id: &str) -> bool {
    let id = StepId::recorded(id);
    [StepId::KMS_LOGS, StepId::KMS_LOGS_ALIAS, StepId::FLOW_LOGS_ROLE, StepId::FLOW_LOG, StepId::FIREWALL_LOGGING]
        .contains(&id)
        || StepId::LOG_GROUPS.iter().any(|(step, _)| *step == id)
}

/// Whether `id` is a teardown-only step (one the `up` graph never has).
pub fn is_teardown_only(id: &str) -> bool {
    let id = StepId::recorded(id);
    [
        StepId::EFS_MOUNT_TARGET,
        StepId::EFS_FILE_SYSTEM,
        StepId::SG_NFS,
        StepId::USER_MADE_APPS,
        StepId::USER_MADE_SPACES,
    ]
    .contains(&id)
        || id.is_zone_of(&StepId::CLASSIC_APP)
}

/// The teardown graph: the `up` graph plus SageMaker's leftovers, edges as
/// the `up` graph's (teardown reverses them). A leftover deleted after A
/// and before B becomes, in forward terms, "A needs it" and "it needs B".
pub fn build_teardown(s: &Settings) -> Graph {
    let mut steps = build(s).steps;
    let extra = leftovers(s);
    let mut forward: Vec<(StepId, StepId)> = Vec::new();
    for l in &extra {
        let (after, before) = l.kind.teardown_order();
        forward.extend(after.into_iter().map(|a| (a, l.id.clone())));
        forward.extend(before.into_iter().map(|b| (l.id.clone(), b)));
    }
    steps.extend(extra);
    for (step, needs) in forward {
        if let Some(s) = steps.iter_mut().find(|s| s.id == step) {
            s.needs.push(needs);
        }
    }
    Graph::new(steps)
}

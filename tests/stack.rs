//! Conformance: `provision up` against the emulator builds every resource of
//! shared/spec/stack.md with every listed property (checked through the
//! SDK's describe calls, not the tool's output), and issue 14's logging;
//! `down` keeps exactly the users' Studio storage (domain, profile, space,
//! EFS) and what it needs (its key, network, role), and the logs; `down
//! --purge-efs` then keeps exactly the log groups and their key; `down
//! --purge-efs --delete-data` leaves nothing of the stack.
//!
//! How the checks share a stack: the read-only checks (`built::*`, one test per kind, so a
//! failure in one hides none of the others) run on one stack built once, by whichever of
//! them comes first (`built()`: one emulator, seeded as `built::`, and one `up`; the others
//! wait for it, and if it failed each fails with its output instead of building again).
//! They only read, through the SDK, and run the binary only for `outputs`, so they can run
//! in any order and at once on libtest's threads. What changes a stack or reads the
//! emulator's whole call log (turning the logging off refused with no mutating call, a
//! second `up` with no mutating call, then `down`, `down --purge-efs`, `--delete-data`) is
//! one test in order on a stack of its own (`up_again_changes_nothing_then_down_...`): it
//! can neither run before a read-only check nor see their calls, whatever the scheduling or
//! the filter, at the cost of a second `up` that runs beside the first. The shared
//! emulator is never dropped (a static): `Emulator::until_exit` kills it when the test
//! binary exits, and its directory is removed then.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

use common::*;
use serde_json::{Value, json};

const STACK: &str = "sagemaker-studio-anfw";
const ACCOUNT: &str = "123456789012";

fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> HashMap<String, String> {
    tags.iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

fn assert_stack_tags(what: &str, tags: &HashMap<String, String>, step: &str) {
    assert_eq!(tags.get("provision:stack").map(String::as_str), Some(STACK), "{what}: provision:stack tag");
    assert_eq!(tags.get("provision:step").map(String::as_str), Some(step), "{what}: provision:step tag");
}

fn assert_name(what: &str, tags: &HashMap<String, String>, name: &str) {
    assert_eq!(tags.get("Name").map(String::as_str), Some(name), "{what}: Name tag");
}

fn policy(doc: &str) -> Value {
    provision::policy::parse(doc).unwrap_or_else(|e| panic!("{e:#}"))
}

fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        Value::String(s) => vec![s.clone()],
        _ => panic!("not a string or list: {v}"),
    }
}

/// The stack the read-only checks share: an emulator, the directory of its state and the
/// state after one `up`.
struct Built {
    emu: &'static Emulator,
    dir: PathBuf,
    state: Value,
}

/// Built on first use; a failed `up` is every caller's failure (not retried by each).
fn built() -> &'static Built {
    static BUILT: OnceLock<Result<Built, String>> = OnceLock::new();
    let b = BUILT.get_or_init(|| {
        let emu = Emulator::start_as("built::", SCALE, &[]).until_exit();
        let dir = until_exit_dir(tempfile::tempdir().unwrap());
        let o = Run::new(emu, dir).arg("up").output();
        let out = text(&o);
        if !o.status.success() || !out.contains("is up") {
            return Err(format!("the shared stack's `provision up` failed ({:?}):\n{out}", o.status.code()));
        }
        Ok(Built { emu, dir: dir.to_path_buf(), state: state_json(dir) })
    });
    b.as_ref().unwrap_or_else(|e| panic!("{e}"))
}

/// The read-only checks of the shared stack, one kind (or a few related kinds) each.
mod built {
    use super::*;

    /// The VPC (CIDR, DNS support and hostnames, tags) and its three subnets.
    #[tokio::test(flavor = "multi_thread")]
    async fn vpc_and_subnets() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let sdk = b.emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        // --- VPC
        let vpc_id = id("vpc");
        let vpcs = ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.unwrap();
        let vpc = &vpcs.vpcs()[0];
        assert_eq!(vpc.cidr_block(), Some("10.2.0.0/16"));
        let dns = |attr: aws_sdk_ec2::types::VpcAttributeName| {
            let ec2 = ec2.clone();
            let vpc_id = vpc_id.clone();
            async move {
                let a = ec2.describe_vpc_attribute().vpc_id(vpc_id).attribute(attr).send().await.unwrap();
                a.enable_dns_support().or(a.enable_dns_hostnames()).and_then(|v| v.value())
            }
        };
        assert_eq!(dns(aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport).await, Some(true));
        assert_eq!(dns(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames).await, Some(true));
        let t = ec2_tags(vpc.tags());
        assert_name("vpc", &t, &format!("{STACK}-vpc"));
        assert_stack_tags("vpc", &t, "vpc");

        // --- Subnets
        for (step, cidr, name) in [
            ("subnet.firewall", "10.2.1.0/24", format!("sn-{STACK}-firewall")),
            ("subnet.nat", "10.2.2.0/24", format!("sn-{STACK}-nat-gateway")),
            ("subnet.sagemaker", "10.2.3.0/24", format!("sn-{STACK}-sagemaker-studio")),
        ] {
            let s = ec2.describe_subnets().subnet_ids(id(step)).send().await.unwrap();
            let s = &s.subnets()[0];
            assert_eq!(s.cidr_block(), Some(cidr), "{step} cidr");
            assert_eq!(s.availability_zone(), Some("us-east-1a"), "{step} az");
            assert_eq!(s.vpc_id(), Some(vpc_id.as_str()), "{step} vpc");
            let t = ec2_tags(s.tags());
            assert_name(step, &t, &name);
            assert_stack_tags(step, &t, step);
        }
    }

    /// sg.sagemaker (self-referencing) and sg.vpce (TLS from sg.sagemaker, all from the VPC).
    #[tokio::test(flavor = "multi_thread")]
    async fn security_groups() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let sdk = b.emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpc_id = id("vpc");
        // --- Security groups
        let sg_sm = id("sg.sagemaker");
        let sg_vpce = id("sg.vpce");
        let g = ec2.describe_security_groups().group_ids(&sg_sm).send().await.unwrap();
        let g = &g.security_groups()[0];
        assert_eq!(
            g.description(),
            Some("security group for SageMaker notebook instance, training jobs and hosting endpoint")
        );
        assert_eq!(g.vpc_id(), Some(vpc_id.as_str()));
        let t = ec2_tags(g.tags());
        assert_name("sg.sagemaker", &t, &format!("sg-sagemaker-{STACK}"));
        assert_stack_tags("sg.sagemaker", &t, "sg.sagemaker");
        assert_eq!(g.ip_permissions().len(), 1, "sg.sagemaker has one ingress rule");
        let r = &g.ip_permissions()[0];
        assert_eq!(r.ip_protocol(), Some("-1"));
        assert_eq!(r.user_id_group_pairs()[0].group_id(), Some(sg_sm.as_str()), "self reference");

        let g = ec2.describe_security_groups().group_ids(&sg_vpce).send().await.unwrap();
        let g = &g.security_groups()[0];
        assert_eq!(g.description(), Some("Allow TLS for VPC Endpoint"));
        let t = ec2_tags(g.tags());
        assert_name("sg.vpce", &t, &format!("sg-vpce-{STACK}"));
        assert_stack_tags("sg.vpce", &t, "sg.vpce");
        let tls = g
            .ip_permissions()
            .iter()
            .find(|p| p.ip_protocol() == Some("tcp") && p.from_port() == Some(443) && p.to_port() == Some(443))
            .expect("tcp 443 rule");
        assert_eq!(tls.user_id_group_pairs()[0].group_id(), Some(sg_sm.as_str()), "443 from sg.sagemaker");
        let all = g.ip_permissions().iter().find(|p| p.ip_protocol() == Some("-1")).expect("all-protocols rule");
        assert_eq!(all.ip_ranges()[0].cidr_ip(), Some("10.2.0.0/16"), "all from vpc cidr");
    }

    /// The Elastic IP, the internet gateway attached to the VPC, the NAT gateway.
    #[tokio::test(flavor = "multi_thread")]
    async fn eip_internet_gateway_and_nat() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let sdk = b.emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpc_id = id("vpc");
        // --- EIP, IGW, NAT
        let eip = ec2.describe_addresses().allocation_ids(id("eip")).send().await.unwrap();
        let eip = &eip.addresses()[0];
        assert_eq!(eip.domain(), Some(&aws_sdk_ec2::types::DomainType::Vpc));
        assert_stack_tags("eip", &ec2_tags(eip.tags()), "eip");

        let igw_id = id("igw");
        let igw = ec2.describe_internet_gateways().internet_gateway_ids(&igw_id).send().await.unwrap();
        let igw = &igw.internet_gateways()[0];
        let t = ec2_tags(igw.tags());
        assert_name("igw", &t, &format!("igw-{STACK}"));
        assert_stack_tags("igw", &t, "igw");
        assert_eq!(igw.attachments()[0].vpc_id(), Some(vpc_id.as_str()), "igw attached to the vpc");

        let nat_id = id("nat");
        let nat = ec2.describe_nat_gateways().nat_gateway_ids(&nat_id).send().await.unwrap();
        let nat = &nat.nat_gateways()[0];
        assert_eq!(nat.subnet_id(), Some(id("subnet.nat").as_str()));
        assert_eq!(nat.nat_gateway_addresses()[0].allocation_id(), Some(id("eip").as_str()));
        assert_eq!(nat.state(), Some(&aws_sdk_ec2::types::NatGatewayState::Available));
        let t = ec2_tags(nat.tags());
        assert_name("nat", &t, &format!("nat-gateway-{STACK}"));
        assert_stack_tags("nat", &t, "nat");
    }

    /// The rule group (the allow list), the firewall policy, the firewall and its zone's endpoint.
    #[tokio::test(flavor = "multi_thread")]
    async fn network_firewall() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let sdk = b.emu.sdk().await;
        let vpc_id = id("vpc");
        // --- Network Firewall
        let nfw = aws_sdk_networkfirewall::Client::new(&sdk);
        let rg = nfw.describe_rule_group().rule_group_arn(id("nfw.rule_group")).send().await.unwrap();
        let meta = rg.rule_group_response().unwrap();
        assert_eq!(meta.rule_group_name(), format!("domain-allow-{STACK}"));
        assert_eq!(meta.r#type(), Some(&aws_sdk_networkfirewall::types::RuleGroupType::Stateful));
        assert_eq!(meta.capacity(), Some(100));
        let body = rg.rule_group().unwrap();
        let home = &body.rule_variables().unwrap().ip_sets().unwrap()["HOME_NET"];
        assert_eq!(home.definition(), ["10.2.0.0/16"]);
        let list = body.rules_source().unwrap().rules_source_list().unwrap();
        // The default allow-list: what today's Studio needs, by name (`config::DEFAULT_ALLOWED_DOMAINS`).
        assert_eq!(list.targets(), [".kaggle.com", "pypi.org", "files.pythonhosted.org", "conda.anaconda.org"]);
        let types: BTreeSet<&str> = list.target_types().iter().map(|t| t.as_str()).collect();
        assert_eq!(types, BTreeSet::from(["HTTP_HOST", "TLS_SNI"]));
        assert_eq!(list.generated_rules_type().as_str(), "ALLOWLIST");
        let rg_tags: HashMap<String, String> =
            meta.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        assert_stack_tags("nfw.rule_group", &rg_tags, "nfw.rule_group");

        let pol = nfw.describe_firewall_policy().firewall_policy_arn(id("nfw.policy")).send().await.unwrap();
        assert_eq!(
            pol.firewall_policy_response().unwrap().firewall_policy_name(),
            format!("network-firewall-policy-{STACK}")
        );
        let p = pol.firewall_policy().unwrap();
        assert_eq!(p.stateless_default_actions(), ["aws:forward_to_sfe"]);
        // Issue 30: fragments to the stateful engine too, strict order, a default drop.
        assert_eq!(p.stateless_fragment_default_actions(), ["aws:forward_to_sfe"]);
        assert_eq!(
            p.stateful_engine_options().and_then(|o| o.rule_order()),
            Some(&aws_sdk_networkfirewall::types::RuleOrder::StrictOrder)
        );
        assert_eq!(p.stateful_default_actions(), ["aws:drop_established", "aws:alert_established"]);
        assert_eq!(p.stateful_rule_group_references()[0].resource_arn(), id("nfw.rule_group"));
        assert_eq!(p.stateful_rule_group_references()[0].priority(), Some(100));
        let pol_tags: HashMap<String, String> = pol
            .firewall_policy_response()
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        assert_stack_tags("nfw.policy", &pol_tags, "nfw.policy");

        let fw = nfw.describe_firewall().firewall_arn(id("nfw.firewall")).send().await.unwrap();
        let f = fw.firewall().unwrap();
        assert_eq!(f.firewall_name(), Some(format!("network-firewall-{STACK}").as_str()));
        assert_eq!(f.firewall_policy_arn(), id("nfw.policy"));
        assert_eq!(f.vpc_id(), vpc_id);
        assert_eq!(f.subnet_mappings()[0].subnet_id(), id("subnet.firewall"));
        assert_eq!(f.subnet_mappings().len(), 1);
        assert!(!f.delete_protection());
        assert!(!f.subnet_change_protection());
        assert!(!f.firewall_policy_change_protection());
        let fw_tags: HashMap<String, String> =
            f.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        assert_stack_tags("nfw.firewall", &fw_tags, "nfw.firewall");
        let status = fw.firewall_status().unwrap();
        assert_eq!(status.status().as_str(), "READY");
        let att = status.sync_states().unwrap()["us-east-1a"].attachment().unwrap();
        assert!(att.endpoint_id().is_some(), "the zone's firewall endpoint");
        assert_eq!(att.status().map(|s| s.as_str()), Some("READY"));
    }

    /// The route tables, their associations and routes: IGW → firewall → NAT → SageMaker.
    #[tokio::test(flavor = "multi_thread")]
    async fn route_tables() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let sdk = b.emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let nfw = aws_sdk_networkfirewall::Client::new(&sdk);
        let igw_id = id("igw");
        let nat_id = id("nat");
        // The zone's firewall endpoint (checked in `network_firewall`).
        let fw = nfw.describe_firewall().firewall_arn(id("nfw.firewall")).send().await.unwrap();
        let att = fw.firewall_status().unwrap().sync_states().unwrap()["us-east-1a"].attachment().unwrap().clone();
        let endpoint = att.endpoint_id().unwrap().to_string();
        // --- Route tables, associations, routes
        let rtb = |step: &'static str| {
            let ec2 = ec2.clone();
            let rid = id(step);
            async move { ec2.describe_route_tables().route_table_ids(rid).send().await.unwrap().route_tables()[0].clone() }
        };
        let route_to = |t: &aws_sdk_ec2::types::RouteTable, dest: &str| -> (Option<String>, Option<String>) {
            let r = t.routes().iter().find(|r| r.destination_cidr_block() == Some(dest)).expect("route exists");
            (r.gateway_id().map(str::to_string), r.nat_gateway_id().map(str::to_string))
        };
        let t = rtb("rtb.igw").await;
        let tags = ec2_tags(t.tags());
        assert_name("rtb.igw", &tags, &format!("rtb-{STACK}-igw"));
        assert_stack_tags("rtb.igw", &tags, "rtb.igw");
        assert!(t.associations().iter().any(|a| a.gateway_id() == Some(igw_id.as_str())), "edge association");
        assert_eq!(route_to(&t, "10.2.2.0/24").0.as_deref(), Some(endpoint.as_str()), "igw ingress to firewall");

        let t = rtb("rtb.firewall").await;
        assert_name("rtb.firewall", &ec2_tags(t.tags()), &format!("rtb-{STACK}-firewall"));
        assert!(t.associations().iter().any(|a| a.subnet_id() == Some(id("subnet.firewall").as_str())));
        assert_eq!(route_to(&t, "0.0.0.0/0").0.as_deref(), Some(igw_id.as_str()), "firewall subnet to igw");

        let t = rtb("rtb.nat").await;
        assert_name("rtb.nat", &ec2_tags(t.tags()), &format!("rtb-{STACK}-nat-gateway"));
        assert!(t.associations().iter().any(|a| a.subnet_id() == Some(id("subnet.nat").as_str())));
        assert_eq!(route_to(&t, "0.0.0.0/0").0.as_deref(), Some(endpoint.as_str()), "nat subnet to firewall");

        let t = rtb("rtb.sagemaker").await;
        assert_name("rtb.sagemaker", &ec2_tags(t.tags()), &format!("rtb-{STACK}-sagemaker"));
        assert!(t.associations().iter().any(|a| a.subnet_id() == Some(id("subnet.sagemaker").as_str())));
        assert_eq!(route_to(&t, "0.0.0.0/0").1.as_deref(), Some(nat_id.as_str()), "sagemaker subnet to nat");
    }

    /// The S3 gateway endpoint (its policy: the two buckets) and the ten interface endpoints.
    #[tokio::test(flavor = "multi_thread")]
    async fn vpc_endpoints() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let sdk = b.emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let sg_vpce = id("sg.vpce");
        // --- Endpoints
        let e = ec2.describe_vpc_endpoints().vpc_endpoint_ids(id("vpce.s3")).send().await.unwrap();
        let e = &e.vpc_endpoints()[0];
        assert_eq!(e.vpc_endpoint_type().map(|t| t.as_str()), Some("Gateway"));
        assert_eq!(e.service_name(), Some("com.amazonaws.us-east-1.s3"));
        assert_eq!(e.route_table_ids(), [id("rtb.sagemaker")]);
        assert_stack_tags("vpce.s3", &ec2_tags(e.tags()), "vpce.s3");
        let doc = policy(e.policy_document().unwrap());
        let stmt = &doc["Statement"][0];
        assert_eq!(stmt["Effect"], "Allow");
        assert_eq!(stmt["Principal"], "*");
        assert_eq!(
            as_list(&stmt["Action"]).into_iter().collect::<BTreeSet<_>>(),
            BTreeSet::from(["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"].map(String::from))
        );
        let data = format!("{STACK}-{ACCOUNT}-us-east-1-data");
        let models = format!("{STACK}-{ACCOUNT}-us-east-1-models");
        let want: BTreeSet<String> = [&data, &models]
            .iter()
            .flat_map(|b| [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")])
            .collect();
        assert_eq!(as_list(&stmt["Resource"]).into_iter().collect::<BTreeSet<_>>(), want);

        let services = [
            ("vpce.sagemaker.api", "com.amazonaws.us-east-1.sagemaker.api", true),
            ("vpce.sagemaker.runtime", "com.amazonaws.us-east-1.sagemaker.runtime", true),
            ("vpce.notebook", "aws.sagemaker.us-east-1.notebook", true),
            ("vpce.sts", "com.amazonaws.us-east-1.sts", true),
            ("vpce.ssm", "com.amazonaws.us-east-1.ssm", false),
            ("vpce.monitoring", "com.amazonaws.us-east-1.monitoring", true),
            ("vpce.logs", "com.amazonaws.us-east-1.logs", true),
            ("vpce.ecr.dkr", "com.amazonaws.us-east-1.ecr.dkr", true),
            ("vpce.ecr.api", "com.amazonaws.us-east-1.ecr.api", true),
            ("vpce.servicecatalog", "com.amazonaws.us-east-1.servicecatalog", false),
        ];
        for (step, service, has_policy) in services {
            let e = ec2.describe_vpc_endpoints().vpc_endpoint_ids(id(step)).send().await.unwrap();
            let e = &e.vpc_endpoints()[0];
            assert_eq!(e.vpc_endpoint_type().map(|t| t.as_str()), Some("Interface"), "{step} type");
            assert_eq!(e.service_name(), Some(service), "{step} service");
            assert_eq!(e.private_dns_enabled(), Some(true), "{step} private dns");
            assert_eq!(e.subnet_ids(), [id("subnet.sagemaker")], "{step} subnets");
            let sgs: Vec<&str> = e.groups().iter().filter_map(|g| g.group_id()).collect();
            assert_eq!(sgs, [sg_vpce.as_str()], "{step} security groups");
            assert_eq!(
                e.state().map(|s| s.as_str().to_ascii_lowercase()).as_deref(),
                Some("available"),
                "{step} state"
            );
            assert_stack_tags(step, &ec2_tags(e.tags()), step);
            if has_policy {
                let doc = policy(e.policy_document().unwrap());
                let s = &doc["Statement"][0];
                assert_eq!(
                    (s["Effect"].as_str(), s["Action"].as_str(), s["Resource"].as_str()),
                    (Some("Allow"), Some("*"), Some("*")),
                    "{step} policy"
                );
            }
        }
    }

    /// The keys kms.s3 and kms.ebs: description, policy, rotation, tags, aliases.
    #[tokio::test(flavor = "multi_thread")]
    async fn kms_keys() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let sdk = b.emu.sdk().await;
        // --- KMS
        let kms = aws_sdk_kms::Client::new(&sdk);
        let kms_s3 = id("kms.s3");
        let k = kms.describe_key().key_id(&kms_s3).send().await.unwrap();
        assert_eq!(k.key_metadata().unwrap().description(), Some("KMS key for S3 buckets"));
        let kp = kms.get_key_policy().key_id(&kms_s3).policy_name("default").send().await.unwrap();
        let kp = policy(kp.policy().unwrap());
        assert_eq!(kp["Statement"][0]["Principal"]["AWS"], format!("arn:aws:iam::{ACCOUNT}:root"));
        assert_eq!(kp["Statement"][0]["Action"], "kms:*");
        let kt = kms.list_resource_tags().key_id(&kms_s3).send().await.unwrap();
        let kt: HashMap<String, String> =
            kt.tags().iter().map(|t| (t.tag_key().to_string(), t.tag_value().to_string())).collect();
        assert_name("kms.s3", &kt, STACK);
        assert_stack_tags("kms.s3", &kt, "kms.s3");
        let aliases = kms.list_aliases().key_id(&kms_s3).send().await.unwrap();
        assert!(aliases.aliases().iter().any(|a| a.alias_name() == Some(&format!("alias/kms-cmk-{STACK}"))));

        let kms_ebs = id("kms.ebs");
        let k = kms.describe_key().key_id(&kms_ebs).send().await.unwrap();
        assert_eq!(
            k.key_metadata().unwrap().description(),
            Some("Generated KMS Key for sagemaker Notebook's EBS encryption")
        );
        let rot = kms.get_key_rotation_status().key_id(&kms_ebs).send().await.unwrap();
        assert!(rot.key_rotation_enabled(), "ebs key rotation");
        let kp = kms.get_key_policy().key_id(&kms_ebs).policy_name("default").send().await.unwrap();
        assert_eq!(
            policy(kp.policy().unwrap())["Statement"][0]["Principal"]["AWS"],
            format!("arn:aws:iam::{ACCOUNT}:root")
        );
        let aliases = kms.list_aliases().key_id(&kms_ebs).send().await.unwrap();
        assert!(aliases.aliases().iter().any(|a| a.alias_name() == Some(&format!("alias/sagemaker-anfw-kms-{STACK}"))));
    }

    /// The data and models buckets: public access blocked, SSE-KMS with kms.s3, only through the S3 endpoint.
    #[tokio::test(flavor = "multi_thread")]
    async fn buckets() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let kms_s3 = id("kms.s3");
        let data = format!("{STACK}-{ACCOUNT}-us-east-1-data");
        let models = format!("{STACK}-{ACCOUNT}-us-east-1-models");
        // --- Buckets
        let s3 = b.emu.s3().await;
        let vpce_s3 = id("vpce.s3");
        for (step, name) in [("bucket.data", &data), ("bucket.models", &models)] {
            assert_eq!(&id(step), name, "{step} name");
            let pab = s3.get_public_access_block().bucket(name).send().await.unwrap();
            let c = pab.public_access_block_configuration().unwrap();
            assert_eq!(
                (c.block_public_acls(), c.block_public_policy(), c.ignore_public_acls(), c.restrict_public_buckets()),
                (Some(true), Some(true), Some(true), Some(true)),
                "{step} public access block"
            );
            let enc = s3.get_bucket_encryption().bucket(name).send().await.unwrap();
            let rule = enc.server_side_encryption_configuration().unwrap().rules()[0]
                .apply_server_side_encryption_by_default()
                .unwrap()
                .clone();
            assert_eq!(rule.sse_algorithm().as_str(), "aws:kms", "{step} SSE-KMS");
            assert_eq!(rule.kms_master_key_id(), Some(kms_s3.as_str()), "{step} encrypted with kms.s3");
            let pol = s3.get_bucket_policy().bucket(name).send().await.unwrap();
            let doc = policy(pol.policy().unwrap());
            let s = &doc["Statement"][0];
            assert_eq!(s["Effect"], "Deny");
            assert_eq!(s["Principal"], "*");
            assert_eq!(
                as_list(&s["Action"]).into_iter().collect::<BTreeSet<_>>(),
                BTreeSet::from(["s3:GetObject", "s3:PutObject", "s3:ListBucket"].map(String::from))
            );
            assert_eq!(
                as_list(&s["Resource"]).into_iter().collect::<BTreeSet<_>>(),
                BTreeSet::from([format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")])
            );
            assert_eq!(s["Condition"]["StringNotEquals"]["aws:sourceVpce"], vpce_s3.as_str());
            let tags = s3.get_bucket_tagging().bucket(name).send().await.unwrap();
            let tags: HashMap<String, String> =
                tags.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            assert_stack_tags(step, &tags, step);
        }
    }

    /// The execution role (trusted by SageMaker) and its managed policy's statements.
    #[tokio::test(flavor = "multi_thread")]
    async fn execution_role_and_policy() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let sdk = b.emu.sdk().await;
        let data = format!("{STACK}-{ACCOUNT}-us-east-1-data");
        let models = format!("{STACK}-{ACCOUNT}-us-east-1-models");
        // --- IAM
        let iam = aws_sdk_iam::Client::new(&sdk);
        let role_name = format!("{STACK}-us-east-1-sagemaker-execution-role");
        let role = iam.get_role().role_name(&role_name).send().await.unwrap();
        let role = role.role().unwrap();
        assert_eq!(role.arn(), id("iam.role"));
        assert_eq!(role.path(), "/");
        let trust = policy(role.assume_role_policy_document().unwrap());
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], "sagemaker.amazonaws.com");
        assert_eq!(trust["Statement"].as_array().unwrap().len(), 1);
        // The confused deputy (issue 28): SageMaker acting for this account's resources only.
        assert_eq!(trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], ACCOUNT);
        assert_eq!(
            trust["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
            format!("arn:aws:sagemaker:us-east-1:{ACCOUNT}:*")
        );
        let attached = iam.list_attached_role_policies().role_name(&role_name).send().await.unwrap();
        assert_eq!(attached.attached_policies()[0].policy_arn(), Some(id("iam.policy").as_str()));
        let p = iam.get_policy().policy_arn(id("iam.policy")).send().await.unwrap();
        let ver = p.policy().unwrap().default_version_id().unwrap().to_string();
        let v = iam.get_policy_version().policy_arn(id("iam.policy")).version_id(ver).send().await.unwrap();
        let doc = policy(v.policy_version().unwrap().document().unwrap());
        let g = iam.get_role_policy().role_name(&role_name).policy_name("guardrails").send().await.unwrap();
        let guardrails = policy(g.policy_document());
        let stmts: Vec<Value> = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .chain(guardrails["Statement"].as_array().unwrap())
            .cloned()
            .collect();
        let has = |pred: &dyn Fn(&Value) -> bool| stmts.iter().any(pred);
        let actions = |s: &Value| as_list(&s["Action"]);
        assert!(
            has(&|s| actions(s).contains(&"logs:CreateLogGroup".into())
                && as_list(&s["Resource"]).iter().all(|r| r.contains("/aws/sagemaker/"))),
            "logs on /aws/sagemaker/*"
        );
        assert!(has(&|s| actions(s).contains(&"cloudwatch:PutMetricData".into()) && s["Resource"] == "*"), "metrics");
        assert!(
            has(&|s| {
                let a = actions(s);
                ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
                    .iter()
                    .all(|x| a.contains(&x.to_string()))
                    && as_list(&s["Resource"]) == [id("kms.ebs"), id("kms.s3")]
            }),
            "kms actions on the stack's two keys"
        );
        assert!(
            has(&|s| actions(s).contains(&"s3:GetObject".into())
                && as_list(&s["Resource"]).iter().all(|r| r.contains(&data) || r.contains(&models))),
            "s3 on the two buckets only"
        );
        assert!(!has(&|s| s["Sid"] == "JumpStartContent"), "no JumpStart read until it is enabled");
        assert!(
            has(&|s| actions(s).contains(&"ecr:BatchGetImage".into())
                && s["Resource"] == "arn:aws:ecr:*:*:repository/*sagemaker*"),
            "ecr"
        );
        assert!(
            has(&|s| actions(s) == ["iam:PassRole"]
                && s["Resource"] == id("iam.role")
                && s["Condition"]["StringEquals"]["iam:PassedToService"] == "sagemaker.amazonaws.com"),
            "passrole: this role, to SageMaker"
        );
        // The guardrails: jobs outside the stack's subnets, group and keys are denied.
        let sid = |sid: &str| stmts.iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no {sid}")).clone();
        assert!(actions(&sid("DenyWithoutVpc")).contains(&"sagemaker:CreateTrainingJob".into()));
        assert_eq!(sid("DenyWithoutVpc")["Condition"]["Null"]["sagemaker:VpcSubnets"], "true");
        assert_eq!(
            sid("DenyOtherSubnets")["Condition"]["ForAnyValue:StringNotEquals"]["sagemaker:VpcSubnets"],
            json!([id("subnet.sagemaker")])
        );
        assert_eq!(
            sid("DenyOtherSecurityGroups")["Condition"]["ForAnyValue:StringNotEquals"]["sagemaker:VpcSecurityGroupIds"],
            json!([id("sg.sagemaker")])
        );
        assert_eq!(sid("DenyOtherVolumeKey")["Condition"]["ArnNotEquals"]["sagemaker:VolumeKmsKey"], id("kms.ebs"));
        assert_eq!(sid("DenyOtherOutputKey")["Condition"]["ArnNotEquals"]["sagemaker:OutputKmsKey"], id("kms.s3"));
        assert!(!has(&|s| s.to_string().contains("sagemaker:NetworkIsolation")), "network isolation is off by default");
        assert!(has(
            &|s| actions(s).contains(&"sagemaker:Describe*".into()) && actions(s).contains(&"sagemaker:List*".into())
        ));
        assert!(
            has(&|s| actions(s) == ["sagemaker:CreateApp", "sagemaker:DeleteApp"]
                && s["Condition"]["ArnLike"]["sagemaker:OwnerUserProfileArn"]
                    .as_str()
                    .is_some_and(|a| a.ends_with("user-profile/${sagemaker:DomainId}/${sagemaker:UserProfileName}"))),
            "apps in their own spaces"
        );
        assert!(has(&|s| actions(s).contains(&"ec2:CreateNetworkInterface".into())), "ec2 eni");
    }

    /// The domain, the user profile, the private JupyterLab space and its app (no Studio Classic
    /// app), and the home EFS under kms.ebs.
    #[tokio::test(flavor = "multi_thread")]
    async fn studio_domain_profile_space_app_and_home_efs() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let sdk = b.emu.sdk().await;
        let vpc_id = id("vpc");
        let sg_sm = id("sg.sagemaker");
        let kms_ebs = id("kms.ebs");
        // --- SageMaker
        let sm = aws_sdk_sagemaker::Client::new(&sdk);
        let domain_id = id("sm.domain");
        let d = sm.describe_domain().domain_id(&domain_id).send().await.unwrap();
        assert_eq!(d.domain_name(), Some("sagemaker-anfw-domain-us-east-1"));
        assert_eq!(d.auth_mode().map(|a| a.as_str()), Some("IAM"));
        assert_eq!(d.app_network_access_type().map(|a| a.as_str()), Some("VpcOnly"));
        assert_eq!(d.vpc_id(), Some(vpc_id.as_str()));
        assert_eq!(d.subnet_ids(), [id("subnet.sagemaker")]);
        let us = d.default_user_settings().unwrap();
        assert_eq!(us.execution_role(), Some(id("iam.role").as_str()));
        assert_eq!(us.security_groups(), std::slice::from_ref(&sg_sm));
        assert_eq!(d.status().map(|s| s.as_str()), Some("InService"));
        let dt = sm.list_tags().resource_arn(d.domain_arn().unwrap()).send().await.unwrap();
        let dt: HashMap<String, String> = dt
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
            .collect();
        assert_eq!(dt.get("ProjectName").map(String::as_str), Some(STACK));
        assert_stack_tags("sm.domain", &dt, "sm.domain");

        let u = sm
            .describe_user_profile()
            .domain_id(&domain_id)
            .user_profile_name("anfw-user-profile-us-east-1")
            .send()
            .await
            .unwrap();
        assert_eq!(u.status().map(|s| s.as_str()), Some("InService"));
        let us = u.user_settings().unwrap();
        assert_eq!(us.execution_role(), Some(id("iam.role").as_str()));
        assert_eq!(us.security_groups(), std::slice::from_ref(&sg_sm));

        // Today's Studio: the web portal, JupyterLab idle shutdown, spaces' defaults.
        let us = d.default_user_settings().unwrap();
        assert_eq!(us.studio_web_portal().map(|p| p.as_str()), Some("ENABLED"));
        assert_eq!(us.default_landing_uri(), Some("studio::"));
        let idle = us
            .jupyter_lab_app_settings()
            .and_then(|j| j.app_lifecycle_management())
            .and_then(|a| a.idle_settings())
            .expect("JupyterLab idle settings");
        assert_eq!(idle.lifecycle_management().map(|l| l.as_str()), Some("ENABLED"));
        assert_eq!(idle.idle_timeout_in_minutes(), Some(60));
        let ds = d.default_space_settings().expect("default space settings");
        assert_eq!(ds.execution_role(), Some(id("iam.role").as_str()));
        assert_eq!(ds.security_groups(), std::slice::from_ref(&sg_sm));

        // The user's private JupyterLab space and its app.
        let space = "anfw-user-profile-us-east-1-space";
        assert_eq!(id("sm.space"), format!("{domain_id}/{space}"));
        let sp = sm.describe_space().domain_id(&domain_id).space_name(space).send().await.unwrap();
        assert_eq!(sp.status().map(|s| s.as_str()), Some("InService"));
        assert_eq!(sp.space_sharing_settings().and_then(|s| s.sharing_type()).map(|t| t.as_str()), Some("Private"));
        assert_eq!(
            sp.ownership_settings().and_then(|o| o.owner_user_profile_name()),
            Some("anfw-user-profile-us-east-1")
        );
        let settings = sp.space_settings().unwrap();
        assert_eq!(settings.app_type().map(|t| t.as_str()), Some("JupyterLab"));
        assert_eq!(
            settings
                .space_storage_settings()
                .and_then(|s| s.ebs_storage_settings())
                .and_then(|e| e.ebs_volume_size_in_gb()),
            Some(5)
        );
        let st = sm.list_tags().resource_arn(sp.space_arn().unwrap()).send().await.unwrap();
        let st: HashMap<String, String> = st
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
            .collect();
        assert_stack_tags("sm.space", &st, "sm.space");

        let a = sm
            .describe_app()
            .domain_id(&domain_id)
            .space_name(space)
            .app_type(aws_sdk_sagemaker::types::AppType::JupyterLab)
            .app_name("default")
            .send()
            .await
            .unwrap();
        assert_eq!(a.status().map(|s| s.as_str()), Some("InService"));
        assert_eq!(a.resource_spec().and_then(|r| r.instance_type()).map(|t| t.as_str()), Some("ml.t3.medium"));
        assert_eq!(id("sm.app"), format!("{domain_id}/{space}/JupyterLab/default"));
        // No Studio Classic app anywhere: every app is in a space.
        let apps = sm.list_apps().domain_id_equals(&domain_id).send().await.unwrap();
        assert_eq!(apps.apps().len(), 1, "{:?}", apps.apps());
        assert!(apps.apps().iter().all(|a| a.space_name() == Some(space) && a.user_profile_name().is_none()));

        // --- Studio's home EFS under the stack's key (issue 14): the domain's KmsKeyId is kms.ebs,
        // and the EFS SageMaker made with it is encrypted with that key.
        assert_eq!(d.kms_key_id(), Some(kms_ebs.as_str()), "domain KmsKeyId = kms.ebs");
        let efs = aws_sdk_efs::Client::new(&sdk);
        let home =
            efs.describe_file_systems().file_system_id(d.home_efs_file_system_id().unwrap()).send().await.unwrap();
        assert_eq!(home.file_systems()[0].encrypted(), Some(true));
        assert_eq!(home.file_systems()[0].kms_key_id(), Some(kms_ebs.as_str()), "home EFS under kms.ebs");
    }

    /// Issue 14's logging: the logs key, the three log groups, the flow log and its role, the
    /// firewall's ALERT and FLOW logs.
    #[tokio::test(flavor = "multi_thread")]
    async fn logging() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let sdk = b.emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let kms = aws_sdk_kms::Client::new(&sdk);
        let iam = aws_sdk_iam::Client::new(&sdk);
        let vpc_id = id("vpc");
        // --- Logging (issue 14): the logs key, the three log groups, the flow log and its role,
        // the firewall's ALERT and FLOW logs.
        let kms_logs = id("kms.logs");
        let k = kms.describe_key().key_id(&kms_logs).send().await.unwrap();
        assert_eq!(k.key_metadata().unwrap().description(), Some("KMS key for the stack's CloudWatch Logs log groups"));
        assert!(kms.get_key_rotation_status().key_id(&kms_logs).send().await.unwrap().key_rotation_enabled());
        let kp = kms.get_key_policy().key_id(&kms_logs).policy_name("default").send().await.unwrap();
        let kp = policy(kp.policy().unwrap());
        assert_eq!(kp["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(kp["Statement"][0]["Principal"]["AWS"], format!("arn:aws:iam::{ACCOUNT}:root"));
        let logs_st = &kp["Statement"][1];
        assert_eq!(logs_st["Principal"]["Service"], "logs.us-east-1.amazonaws.com");
        assert_eq!(
            logs_st["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"],
            format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/provision/{STACK}/*"),
            "the logs service may use the key for this stack's groups only"
        );
        let kt = kms.list_resource_tags().key_id(&kms_logs).send().await.unwrap();
        let kt: HashMap<String, String> =
            kt.tags().iter().map(|t| (t.tag_key().to_string(), t.tag_value().to_string())).collect();
        assert_stack_tags("kms.logs", &kt, "kms.logs");
        let aliases = kms.list_aliases().key_id(&kms_logs).send().await.unwrap();
        assert!(aliases.aliases().iter().any(|a| a.alias_name() == Some(&format!("alias/{STACK}-logs"))));

        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        for (step, name) in [
            ("logs.vpc_flow", format!("/provision/{STACK}/vpc-flow-logs")),
            ("logs.firewall_alert", format!("/provision/{STACK}/firewall/alert")),
            ("logs.firewall_flow", format!("/provision/{STACK}/firewall/flow")),
        ] {
            assert_eq!(id(step), name);
            let out = logs.describe_log_groups().log_group_name_prefix(&name).send().await.unwrap();
            let g = out.log_groups().iter().find(|g| g.log_group_name() == Some(name.as_str())).unwrap();
            assert_eq!(g.kms_key_id(), Some(kms_logs.as_str()), "{step} encrypted with kms.logs");
            assert_eq!(g.retention_in_days(), Some(365), "{step} retention");
            let arn = format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}");
            let tags = logs.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
            assert_stack_tags(step, tags.tags().unwrap(), step);
        }

        let flow_role = format!("{STACK}-us-east-1-flow-logs-role");
        let r = iam.get_role().role_name(&flow_role).send().await.unwrap();
        let r = r.role().unwrap();
        assert_eq!(r.arn(), id("iam.flow_logs_role"));
        let trust = policy(r.assume_role_policy_document().unwrap());
        assert_eq!(trust["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], "vpc-flow-logs.amazonaws.com");
        assert_eq!(trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], ACCOUNT);
        assert_eq!(
            trust["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
            format!("arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-flow-log/*")
        );
        let rt: HashMap<String, String> =
            r.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        assert_stack_tags("iam.flow_logs_role", &rt, "iam.flow_logs_role");
        let inline = iam.list_role_policies().role_name(&flow_role).send().await.unwrap();
        assert_eq!(inline.policy_names().len(), 1);
        let rp =
            iam.get_role_policy().role_name(&flow_role).policy_name(&inline.policy_names()[0]).send().await.unwrap();
        let rp = policy(rp.policy_document());
        let group_arn = format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/provision/{STACK}/vpc-flow-logs");
        for st in rp["Statement"].as_array().unwrap() {
            let acts = as_list(&st["Action"]);
            if acts.iter().any(|a| a == "logs:PutLogEvents" || a == "logs:CreateLogStream") {
                assert_eq!(
                    as_list(&st["Resource"]).into_iter().collect::<BTreeSet<_>>(),
                    BTreeSet::from([group_arn.clone(), format!("{group_arn}:*")]),
                    "the role writes to the flow log group only"
                );
            } else {
                assert_eq!(acts, ["logs:DescribeLogGroups"], "nothing else is granted: {st}");
            }
        }

        let fl = ec2.describe_flow_logs().flow_log_ids(id("ec2.flow_log")).send().await.unwrap();
        let fl = &fl.flow_logs()[0];
        assert_eq!(fl.resource_id(), Some(vpc_id.as_str()));
        assert_eq!(fl.traffic_type().map(|t| t.as_str()), Some("ALL"));
        assert_eq!(fl.log_destination_type().map(|t| t.as_str()), Some("cloud-watch-logs"));
        assert_eq!(fl.log_group_name(), Some(format!("/provision/{STACK}/vpc-flow-logs").as_str()));
        assert_eq!(fl.deliver_logs_permission_arn(), Some(id("iam.flow_logs_role").as_str()));
        assert_stack_tags("ec2.flow_log", &ec2_tags(fl.tags()), "ec2.flow_log");

        let nfw = aws_sdk_networkfirewall::Client::new(&sdk);
        assert_eq!(id("nfw.logging"), id("nfw.firewall"));
        let lc = nfw.describe_logging_configuration().firewall_arn(id("nfw.firewall")).send().await.unwrap();
        let mut dest: Vec<(String, String, String)> = lc
            .logging_configuration()
            .unwrap()
            .log_destination_configs()
            .iter()
            .map(|c| {
                (
                    c.log_type().as_str().to_string(),
                    c.log_destination_type().as_str().to_string(),
                    c.log_destination().get("logGroup").cloned().unwrap_or_default(),
                )
            })
            .collect();
        dest.sort();
        assert_eq!(
            dest,
            [
                ("ALERT".into(), "CloudWatchLogs".into(), format!("/provision/{STACK}/firewall/alert")),
                ("FLOW".into(), "CloudWatchLogs".into(), format!("/provision/{STACK}/firewall/flow")),
            ]
        );
    }

    /// `outputs --json`: the seed's keys, from the state.
    #[tokio::test(flavor = "multi_thread")]
    async fn outputs() {
        let b = built();
        let id = |s: &str| step_id(&b.state, s);
        let (emu, dir) = (b.emu, &b.dir);
        let vpc_id = id("vpc");
        let vpce_s3 = id("vpce.s3");
        let sg_sm = id("sg.sagemaker");
        let (kms_s3, kms_ebs, kms_logs) = (id("kms.s3"), id("kms.ebs"), id("kms.logs"));
        let data = format!("{STACK}-{ACCOUNT}-us-east-1-data");
        let models = format!("{STACK}-{ACCOUNT}-us-east-1-models");
        let domain_id = id("sm.domain");
        // --- Outputs: the seed's keys, from the state.
        let o = provision_ok(emu, dir, &["outputs", "--json"]);
        let o: BTreeMap<String, String> =
            serde_json::from_str(o.lines().skip_while(|l| !l.starts_with('{')).collect::<Vec<_>>().join("\n").as_str())
                .unwrap();
        assert_eq!(o["VPCId"], vpc_id);
        // One key: its bare value, or with --json a document of that key alone.
        assert_eq!(provision_ok(emu, dir, &["outputs", "VPCId"]).lines().last(), Some(vpc_id.as_str()));
        let one = provision_ok(emu, dir, &["outputs", "--json", "VPCId"]);
        let one: serde_json::Value =
            serde_json::from_str(&one[one.find('{').unwrap()..=one.rfind('}').unwrap()]).unwrap();
        assert_eq!(one, serde_json::json!({ "VPCId": vpc_id }));
        assert_eq!(o["S3VPCEndpointId"], vpce_s3);
        assert_eq!(o["SageMakerStudioSubnetId"], id("subnet.sagemaker"));
        assert_eq!(o["SageMakerStudioSecurityGroupId"], sg_sm);
        assert_eq!(o["SageMakerExecutionRoleArn"], id("iam.role"));
        assert_eq!(o["KMSKeyEBSArn"], kms_ebs);
        assert_eq!(o["KMSKeyS3bucketsArn"], kms_s3);
        assert_eq!(o["SageMakerS3bucketData"], data);
        assert_eq!(o["SageMakerS3bucketModels"], models);
        assert_eq!(o["SageMakerStudioDomainId"], domain_id);
        assert_eq!(o["UserProfileName"], "anfw-user-profile-us-east-1");
        assert_eq!(o["SpaceName"], "anfw-user-profile-us-east-1-space");
        assert_eq!(o["VpcFlowLogGroupName"], format!("/provision/{STACK}/vpc-flow-logs"));
        assert_eq!(o["FirewallAlertLogGroupName"], format!("/provision/{STACK}/firewall/alert"));
        assert_eq!(o["FirewallFlowLogGroupName"], format!("/provision/{STACK}/firewall/flow"));
        assert_eq!(o["KMSKeyLogsArn"], kms_logs);
        assert_eq!(o.len(), 16);
    }
}

/// On a stack of its own (the shared one stays as built): turning the logging off on the live
/// stack without a terminal and without --yes (it deletes the logs) is refused before any call
/// that changes something; a second `up` makes no mutating
/// call; plain `down` keeps exactly the users' Studio storage, what it needs and the logs;
/// `down --purge-efs` then exactly the logs; `--delete-data` nothing.
#[tokio::test(flavor = "multi_thread")]
async fn up_again_changes_nothing_then_down_keeps_storage_and_logs_then_purge_then_nothing() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = provision_ok(&emu, dir.path(), &["up"]);
    assert!(out.contains("is up"), "{out}");
    let st = state_json(dir.path());
    let id = |s: &str| step_id(&st, s);
    let sdk = emu.sdk().await;
    let efs = aws_sdk_efs::Client::new(&sdk);
    let vpc_id = id("vpc");
    let (kms_ebs, kms_logs) = (id("kms.ebs"), id("kms.logs"));
    let domain_id = id("sm.domain");

    // before any call that changes something; the state is as it was.
    emu.clear_calls();
    let off = provision(&emu, dir.path(), &["up", "--no-logging"]);
    assert_eq!(off.status.code(), Some(2), "{}", text(&off));
    // Turning the logging off deletes the logs (issue 29): without a terminal, only with --yes.
    assert!(text(&off).contains("logs are data") && text(&off).contains("--no-logging --yes"), "{}", text(&off));
    // Head calls count here too (as they did before this check moved).
    let mutating: Vec<String> = emu
        .calls()
        .into_iter()
        .filter(|c| is_mutating(c) || c.split(':').nth(1).unwrap_or("").starts_with("Head"))
        .collect();
    assert!(mutating.is_empty(), "refused, yet called {mutating:?}");
    assert_eq!(state_json(dir.path())["steps"], st["steps"], "the state is untouched");

    // --- A second `up` changes nothing and says so: no mutating call.
    emu.clear_calls();
    let again = provision_ok(&emu, dir.path(), &["up"]);
    assert!(again.contains("Nothing to do"), "{again}");
    let mutating = emu.mutating_calls();
    assert!(mutating.is_empty(), "second up made mutating calls: {mutating:?}");

    // --- `down` without --purge-efs keeps exactly the users' Studio storage and what it needs
    // (issue 26): the domain, its profile and space, the EFS, the key that encrypts them, the
    // VPC, subnet, group and role they need; nothing that runs or costs by the hour.
    let sagemaker_subnet = id("subnet.sagemaker");
    let fs_before = efs.describe_file_systems().send().await.unwrap();
    assert_eq!(fs_before.file_systems().len(), 1, "SageMaker made one EFS");
    let fs_id = fs_before.file_systems()[0].file_system_id().to_string();
    // Logs are data: their groups, and the key that encrypts them, stay without --delete-data;
    // so does the buckets' access-log bucket (issue 30), which S3 (here moto, as AWS does)
    // delivers the two buckets' server access logs to.
    let logs_key_id = kms_logs.rsplit('/').next().unwrap().to_string();
    let logs_kept: BTreeSet<String> = [
        format!("bucket {}", id("bucket.logs")),
        format!("log-group /provision/{STACK}/vpc-flow-logs"),
        format!("log-group /provision/{STACK}/firewall/alert"),
        format!("log-group /provision/{STACK}/firewall/flow"),
        format!("kms-key {logs_key_id}"),
        format!("alias alias/{STACK}-logs"),
    ]
    .into_iter()
    .collect();
    let out = provision_ok(&emu, dir.path(), &["down", "--yes"]);
    assert!(out.contains("--purge-efs"), "down says how to finish: {out}");
    assert!(out.contains("--delete-data"), "down says how to remove the logs: {out}");
    let left = inventory(&emu).await;
    let kms_ebs_id = kms_ebs.rsplit('/').next().unwrap().to_string();
    let expect_kept: BTreeSet<String> = [
        format!("domain {domain_id}"),
        "user-profile anfw-user-profile-us-east-1".to_string(),
        "space anfw-user-profile-us-east-1-space".to_string(),
        format!("kms-key {kms_ebs_id}"),
        format!("alias alias/sagemaker-anfw-kms-{STACK}"),
        format!("role {STACK}-us-east-1-sagemaker-execution-role"),
        format!("policy {STACK}-us-east-1-sagemaker-execution-policy"),
        format!("sg sg-sagemaker-{STACK}"),
        format!("efs {fs_id}"),
        format!("mount_target_subnet {sagemaker_subnet}"),
        format!("subnet {sagemaker_subnet}"),
        format!("vpc {vpc_id}"),
        format!("sg security-group-for-inbound-nfs-{domain_id}"),
        format!("sg security-group-for-outbound-nfs-{domain_id}"),
        format!("sg default {vpc_id}"),
        format!("eni mount target in {sagemaker_subnet}"),
    ]
    .into_iter()
    .chain(logs_kept.iter().cloned())
    .collect();
    assert_eq!(
        left, expect_kept,
        "down without --purge-efs keeps exactly the users' storage and what it needs, and the logs"
    );
    let st = state_json(dir.path());
    let retained: BTreeSet<&str> = st["steps"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["status"] == "retained")
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        retained,
        BTreeSet::from([
            "sm.domain",
            "sm.user",
            "sm.space",
            "kms.ebs",
            "kms.ebs.alias",
            "iam.role",
            "iam.policy",
            "sg.sagemaker",
            "efs.file_system",
            "efs.mount_target",
            "sg.nfs",
            "subnet.sagemaker",
            "vpc",
            "kms.logs",
            "kms.logs.alias",
            "logs.vpc_flow",
            "logs.firewall_alert",
            "logs.firewall_flow",
            "bucket.logs"
        ]),
        "state records what was kept"
    );

    // --- `down --purge-efs` removes the EFS and the rest but the logs: exactly the log
    // groups and their key (and its alias), and the access-log bucket, stay.
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--yes"]);
    let left = inventory(&emu).await;
    assert_eq!(left, logs_kept, "down --purge-efs keeps exactly the logs: the log groups, their key, the access logs");

    // --- `down --purge-efs --delete-data`: nothing of the stack is left.
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
    let left = inventory(&emu).await;
    assert!(left.is_empty(), "left after down --purge-efs --delete-data: {left:?}");
    let st = state_json(dir.path());
    assert_eq!(st["steps"].as_object().unwrap().len(), 0, "state is empty: {st}");
}

/// `--no-logging` (issue 14): no log group, flow log, firewall logging, logs key or flow logs
/// role; the domain's home EFS is under kms.ebs all the same; `down --purge-efs` leaves only the
/// buckets' access logs (issue 30: a control of the buckets, not of `logging`), and
/// `--delete-data` nothing.
#[tokio::test(flavor = "multi_thread")]
async fn no_logging_builds_no_logs_and_down_purge_efs_leaves_nothing() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up", "--no-logging"]);
    let st = state_json(dir.path());
    assert_eq!(st["params"]["logging"], false, "recorded: a bare re-run keeps it off");
    for step in [
        "kms.logs",
        "kms.logs.alias",
        "logs.vpc_flow",
        "logs.firewall_alert",
        "logs.firewall_flow",
        "iam.flow_logs_role",
        "ec2.flow_log",
        "nfw.logging",
    ] {
        assert!(st["steps"].get(step).is_none(), "{step} recorded without logging");
    }
    let kinds = count_kinds(&inventory(&emu).await);
    for kind in ["log-group", "flow-log", "firewall-logging"] {
        assert_eq!(kinds.get(kind), None, "{kind} made without logging: {kinds:?}");
    }
    assert_eq!(kinds.get("kms-key"), Some(&2), "only kms.s3 and kms.ebs: {kinds:?}");
    let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
    let d = sm.describe_domain().domain_id(step_id(&st, "sm.domain")).send().await.unwrap();
    assert_eq!(d.kms_key_id(), Some(step_id(&st, "kms.ebs").as_str()));
    let again = provision_ok(&emu, dir.path(), &["up"]);
    assert!(again.contains("Nothing to do"), "{again}");
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--yes"]);
    let left = inventory(&emu).await;
    let access_logs = BTreeSet::from([format!("bucket {}", step_id(&st, "bucket.logs"))]);
    assert_eq!(left, access_logs, "left after down --purge-efs without logging: the access logs only");
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
    let left = inventory(&emu).await;
    assert!(left.is_empty(), "left after down --purge-efs --delete-data: {left:?}");
}

/// The successful UpdateLoggingConfiguration calls of an `up`, and the moment its firewall
/// became READY in the emulator (CreateFirewall's answer plus the profile's 330 s, scaled).
fn logging_updates_and_ready(emu: &Emulator, scale: f64) -> (Vec<f64>, f64) {
    let calls = emu.control_get("calls")["calls"].as_array().unwrap().clone();
    let at = |c: &Value| c["t"].as_f64().unwrap() + c["dur_s"].as_f64().unwrap_or_default();
    let created = calls
        .iter()
        .find(|c| c["operation"] == "network-firewall:CreateFirewall" && c["status"] == 200)
        .map(at)
        .expect("a CreateFirewall answered");
    let updates = calls
        .iter()
        .filter(|c| c["operation"] == "network-firewall:UpdateLoggingConfiguration" && c["status"] == 200)
        .map(at)
        .collect();
    (updates, created + 330.0 * scale)
}

/// Issue 14: the firewall's logging is configured once the firewall exists, while it
/// provisions, so it cannot end `up` later than the firewall; should AWS refuse that (the API
/// reference names no status it needs), it is configured once the firewall is READY.
#[tokio::test(flavor = "multi_thread")]
async fn firewall_logging_is_configured_while_the_firewall_provisions_or_once_ready_if_refused() {
    let scale = 0.02; // the firewall provisions for 6.6 s: room for a loaded machine
    for refused in [false, true] {
        let emu = Emulator::start(&scale.to_string(), &[]);
        let dir = tempfile::tempdir().unwrap();
        if refused {
            emu.control_post(
                "faults",
                json!({"operation": "network-firewall:UpdateLoggingConfiguration", "count": 1,
                       "error_code": "InvalidRequestException", "status": 400,
                       "message": "the firewall is not READY"}),
            );
        }
        let o = provision_at(&emu, dir.path(), &scale.to_string(), &["up"]);
        assert!(o.status.success(), "up (refused: {refused}):\n{}", text(&o));
        let (updates, ready) = logging_updates_and_ready(&emu, scale);
        assert_eq!(updates.len(), 2, "ALERT, then FLOW, one per call: {updates:?}");
        if refused {
            assert!(updates.iter().all(|&t| t >= ready), "after the refusal, only once READY: {updates:?} vs {ready}");
        } else {
            assert!(updates.iter().all(|&t| t < ready), "while PROVISIONING: {updates:?} vs READY at {ready}");
        }
        let st = state_json(dir.path());
        let nfw = aws_sdk_networkfirewall::Client::new(&emu.sdk().await);
        let live =
            nfw.describe_logging_configuration().firewall_arn(step_id(&st, "nfw.firewall")).send().await.unwrap();
        let mut got: Vec<(String, String)> = live
            .logging_configuration()
            .unwrap()
            .log_destination_configs()
            .iter()
            .map(|c| (c.log_type().as_str().to_string(), c.log_destination()["logGroup"].clone()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("ALERT".to_string(), step_id(&st, "logs.firewall_alert")),
                ("FLOW".to_string(), step_id(&st, "logs.firewall_flow"))
            ]
        );
    }
}

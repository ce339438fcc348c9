//! Step ids: the names of the spec's steps (`vpc`, `subnet.nat`,
//! `nfw.firewall`, ...), which are also the keys of the state file.
//!
//! Every id is spelled once, as a constant (the spec's steps here); ids of
//! the other zones and users are built from those constants by `in_zone`
//! and `for_user`. Nothing else in the program writes a step id as a string.

use std::borrow::{Borrow, Cow};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepId(Cow<'static, str>);

impl StepId {
    pub const VPC: StepId = StepId::of("vpc");
    pub const SUBNET_FIREWALL: StepId = StepId::of("subnet.firewall");
    pub const SUBNET_NAT: StepId = StepId::of("subnet.nat");
    pub const SUBNET_SAGEMAKER: StepId = StepId::of("subnet.sagemaker");
    pub const SG_SAGEMAKER: StepId = StepId::of("sg.sagemaker");
    pub const SG_VPCE: StepId = StepId::of("sg.vpce");
    pub const IGW: StepId = StepId::of("igw");
    pub const IGW_ATTACH: StepId = StepId::of("igw.attach");
    pub const EIP: StepId = StepId::of("eip");
    pub const NAT: StepId = StepId::of("nat");
    pub const RULE_GROUP: StepId = StepId::of("nfw.rule_group");
    pub const FIREWALL_POLICY: StepId = StepId::of("nfw.policy");
    pub const FIREWALL: StepId = StepId::of("nfw.firewall");
    pub const RTB_IGW: StepId = StepId::of("rtb.igw");
    pub const RTB_FIREWALL: StepId = StepId::of("rtb.firewall");
    pub const RTB_NAT: StepId = StepId::of("rtb.nat");
    pub const RTB_SAGEMAKER: StepId = StepId::of("rtb.sagemaker");
    pub const ROUTE_IGW_INGRESS: StepId = StepId::of("route.igw_ingress");
    pub const ROUTE_FIREWALL_EGRESS: StepId = StepId::of("route.firewall_egress");
    pub const ROUTE_NAT_EGRESS: StepId = StepId::of("route.nat_egress");
    pub const ROUTE_SAGEMAKER_EGRESS: StepId = StepId::of("route.sagemaker_egress");
    pub const VPCE_S3: StepId = StepId::of("vpce.s3");
    pub const VPCE_SAGEMAKER_API: StepId = StepId::of("vpce.sagemaker.api");
    pub const VPCE_SAGEMAKER_RUNTIME: StepId = StepId::of("vpce.sagemaker.runtime");
    pub const VPCE_NOTEBOOK: StepId = StepId::of("vpce.notebook");
    pub const VPCE_STS: StepId = StepId::of("vpce.sts");
    pub const VPCE_SSM: StepId = StepId::of("vpce.ssm");
    pub const VPCE_MONITORING: StepId = StepId::of("vpce.monitoring");
    pub const VPCE_LOGS: StepId = StepId::of("vpce.logs");
    pub const VPCE_ECR_DKR: StepId = StepId::of("vpce.ecr.dkr");
    pub const VPCE_ECR_API: StepId = StepId::of("vpce.ecr.api");
    pub const VPCE_SERVICECATALOG: StepId = StepId::of("vpce.servicecatalog");
    pub const KMS_S3: StepId = StepId::of("kms.s3");
    pub const KMS_S3_ALIAS: StepId = StepId::of("kms.s3.alias");
    pub const KMS_EBS: StepId = StepId::of("kms.ebs");
    pub const KMS_EBS_ALIAS: StepId = StepId::of("kms.ebs.alias");
    pub const BUCKET_DATA: StepId = StepId::of("bucket.data");
    pub const BUCKET_MODELS: StepId = StepId::of("bucket.models");
    pub const IAM_POLICY: StepId = StepId::of("iam.policy");
    pub const IAM_ROLE: StepId = StepId::of("iam.role");
    pub const DOMAIN: StepId = StepId::of("sm.domain");
    pub const USER: StepId = StepId::of("sm.user");
    pub const SPACE: StepId = StepId::of("sm.space");
    pub const APP: StepId = StepId::of("sm.app");
    /// Teardown only: a Studio Classic app a stack recorded before today's
    /// Studio (it can be deleted, never created again).
    pub const CLASSIC_APP: StepId = StepId::of("sm.classic_app");
    /// Teardown only: what SageMaker creates on its own for the domain.
    pub const EFS_MOUNT_TARGET: StepId = StepId::of("efs.mount_target");
    pub const EFS_FILE_SYSTEM: StepId = StepId::of("efs.file_system");
    pub const SG_NFS: StepId = StepId::of("sg.nfs");

    /// The two buckets, in the order the spec lists them.
    pub const BUCKETS: [StepId; 2] = [StepId::BUCKET_DATA, StepId::BUCKET_MODELS];

    /// A step id constant. A kind added later may declare its steps' ids
    /// in its own file (`impl StepId { pub const X: StepId = StepId::of("x"); }`).
    pub(crate) const fn of(s: &'static str) -> StepId {
        StepId(Cow::Borrowed(s))
    }

    /// An id read back from the state file (its keys).
    pub fn recorded(s: impl Into<String>) -> StepId {
        StepId(Cow::Owned(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This step in zone `zone` (0-based) of availability zone `az`: the
    /// spec's id for the first zone, `{id}.{az}` for the others.
    pub fn in_zone(&self, zone: usize, az: &str) -> StepId {
        if zone == 0 { self.clone() } else { StepId(Cow::Owned(format!("{}.{az}", self.0))) }
    }

    /// This step for user `i` of the `users` list: the spec's id for the
    /// primary user, `{id}.{user}` for the others.
    pub fn for_user(&self, i: usize, user: &str) -> StepId {
        if i == 0 { self.clone() } else { StepId(Cow::Owned(format!("{}.{user}", self.0))) }
    }

    /// The association step of a route table step (`rtb.nat` → `rtb.nat.assoc`).
    pub fn association(&self) -> StepId {
        StepId(Cow::Owned(format!("{}.assoc", self.0)))
    }

    /// Every step of zone `zone` (`az`): its three subnets, EIP, NAT
    /// gateway, three route tables and their associations, and its four
    /// routes (`graph::build`; a unit test there holds them equal).
    pub fn zone_steps(zone: usize, az: &str) -> Vec<StepId> {
        let tables = [StepId::RTB_FIREWALL, StepId::RTB_NAT, StepId::RTB_SAGEMAKER];
        let mut out: Vec<StepId> = [
            StepId::SUBNET_FIREWALL,
            StepId::SUBNET_NAT,
            StepId::SUBNET_SAGEMAKER,
            StepId::EIP,
            StepId::NAT,
            StepId::ROUTE_IGW_INGRESS,
            StepId::ROUTE_FIREWALL_EGRESS,
            StepId::ROUTE_NAT_EGRESS,
            StepId::ROUTE_SAGEMAKER_EGRESS,
        ]
        .iter()
        .chain(&tables)
        .map(|b| b.in_zone(zone, az))
        .collect();
        out.extend(tables.iter().map(|t| t.in_zone(zone, az).association()));
        out
    }

    /// Whether this id is `base` in some zone other than the first.
    pub fn is_zone_of(&self, base: &StepId) -> bool {
        self == base || self.0.strip_prefix(base.as_str()).is_some_and(|rest| rest.starts_with('.'))
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StepId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for StepId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for StepId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for StepId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_users_are_suffixed_except_the_first() {
        assert_eq!(StepId::NAT.in_zone(0, "us-east-1a"), StepId::NAT);
        assert_eq!(StepId::NAT.in_zone(2, "us-east-1c").as_str(), "nat.us-east-1c");
        assert_eq!(StepId::APP.for_user(1, "bob").as_str(), "sm.app.bob");
        assert_eq!(StepId::RTB_NAT.in_zone(1, "us-east-1b").association().as_str(), "rtb.nat.us-east-1b.assoc");
        assert!(StepId::recorded("subnet.sagemaker.us-east-1b").is_zone_of(&StepId::SUBNET_SAGEMAKER));
        assert!(!StepId::recorded("subnet.sagemakerx").is_zone_of(&StepId::SUBNET_SAGEMAKER));
    }
}

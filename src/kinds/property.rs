//! What a change of the parameters does to each resource of a live stack
//! (issue 29): a kind lists its properties (`Kind::properties`), each with
//! the parameter that sets it, its value under some settings and what AWS
//! does when it changes. `lifecycle::converge` compares the properties of
//! the recorded stack's graph with those of the new parameters' graph.
//!
//! The facts are AWS's, cited in each kind's file: a VPC's or a subnet's
//! CIDR and a subnet's zone are fixed at creation (EC2 API reference,
//! CreateVpc/CreateSubnet; ModifySubnetAttribute changes neither); a
//! domain's name too (UpdateDomain takes no `DomainName`); a space's EBS
//! volume only grows (UpdateSpace takes `EbsVolumeSizeInGb`, and an EBS
//! volume cannot shrink: EBS user guide, "Modify a volume": "You can't
//! decrease the size of an EBS volume"); an app's instance type is its `ResourceSpec` at
//! CreateApp, so a new one takes effect when the app next starts.

use crate::config::Settings;

/// What AWS does when a property changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Updated in place (`Kind::update`).
    InPlace,
    /// A number that can only grow in place; smaller is refused.
    GrowOnly,
    /// Takes effect when the runtime next starts (an app's instance type):
    /// nothing is called now, `status` says so.
    NextStart,
    /// Only a new resource can have it: `up` refuses the change, naming the
    /// way there (`why`), since the resource holds data or the network.
    Replace(&'static str),
}

/// One property of a resource under some settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// As people read it ("CIDR", "idle shutdown").
    pub name: &'static str,
    /// The parameter that sets it (`sagemaker_subnet_cidrs`).
    pub param: &'static str,
    pub value: String,
    pub change: Change,
}

impl Property {
    pub fn new(name: &'static str, param: &'static str, value: impl ToString, change: Change) -> Property {
        Property { name, param, value: value.to_string(), change }
    }
}

/// A property whose value differs between the recorded stack and the new
/// parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropChange {
    pub name: &'static str,
    pub param: &'static str,
    pub old: String,
    pub new: String,
    pub change: Change,
}

impl PropChange {
    /// `idle shutdown: 60 → 120 minutes`-style, for `plan` and progress.
    pub fn shown(&self) -> String {
        format!("{}: {} → {}", self.name, self.old, self.new)
    }

    /// Why `up` cannot make this change (None: it can), naming the
    /// parameter, the values and the way there.
    pub fn refusal(&self, what: &str) -> Option<String> {
        match self.change {
            Change::Replace(why) => Some(format!(
                "{}: '{}' → '{}' would replace {what} ({}: {why}); AWS cannot change it in place. Keep '{}', or remove the stack with `provision down --purge-efs --delete-data` and build it again with the new value (or build a second stack under another --project)",
                self.param, self.old, self.new, self.name, self.old
            )),
            Change::GrowOnly => {
                let (old, new) = (self.old.parse::<i64>().ok(), self.new.parse::<i64>().ok());
                (new < old).then(|| {
                    format!(
                        "{}: {} → {} would shrink {what} ({}); AWS only grows it in place (it holds the users' files). Keep {} or more",
                        self.param, self.old, self.new, self.name, self.old
                    )
                })
            }
            Change::InPlace | Change::NextStart => None,
        }
    }
}

/// The properties of `old` that differ in `new` (a property only one side
/// has is not compared).
pub fn differences(old: &[Property], new: &[Property]) -> Vec<PropChange> {
    new.iter()
        .filter_map(|n| {
            let o = old.iter().find(|o| o.name == n.name)?;
            (o.value != n.value).then(|| PropChange {
                name: n.name,
                param: n.param,
                old: o.value.clone(),
                new: n.value.clone(),
                change: n.change,
            })
        })
        .collect()
}

/// A list as one value (`a, b`), for list-valued properties.
pub fn list(items: &[String]) -> String {
    items.join(", ")
}

/// The zones of a stack, as the members of a spanning resource name them.
pub fn zones(s: &Settings) -> String {
    s.zones.iter().map(|z| z.az.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_and_refusals() {
        let old = [
            Property::new("CIDR", "vpc_cidr", "10.2.0.0/16", Change::Replace("fixed at CreateVpc")),
            Property::new("size", "space_storage_gib", 10, Change::GrowOnly),
            Property::new("idle", "idle_timeout_minutes", 60, Change::InPlace),
        ];
        let new = [
            Property::new("CIDR", "vpc_cidr", "10.3.0.0/16", Change::Replace("fixed at CreateVpc")),
            Property::new("size", "space_storage_gib", 5, Change::GrowOnly),
            Property::new("idle", "idle_timeout_minutes", 60, Change::InPlace),
        ];
        let d = differences(&old, &new);
        assert_eq!(d.len(), 2, "{d:?}");
        let cidr = d[0].refusal("the VPC vpc-1").unwrap();
        assert!(cidr.starts_with("vpc_cidr: '10.2.0.0/16' → '10.3.0.0/16' would replace the VPC vpc-1"), "{cidr}");
        assert!(cidr.contains("provision down --purge-efs"), "{cidr}");
        assert!(d[1].refusal("space s").unwrap().contains("only grows"));
        let grow = PropChange { old: "5".into(), new: "10".into(), ..d[1].clone() };
        assert_eq!(grow.refusal("space s"), None);
        assert_eq!(grow.shown(), "size: 5 → 10");
    }
}

//! Which source of a parameter wins: the parameters recorded by the last
//! `up` are the base (so a bare re-run means "the same stack"), the config
//! file overrides them, and flags override both. Pure: the caller reads the
//! state file and the config file.

use std::collections::BTreeMap;

use super::RawParams;

impl RawParams {
    /// The parameters a state file records (unknown or malformed ones ignored).
    pub fn from_recorded(params: BTreeMap<String, serde_json::Value>) -> RawParams {
        serde_json::from_value(serde_json::Value::Object(params.into_iter().collect())).unwrap_or_default()
    }
}

/// Layers the three sources. Recorded per-zone CIDRs follow the zones: when
/// the zones now given are fewer, the CIDRs of those zones are kept (the
/// dropped zone is then refused by name, not by a CIDR count).
///
/// Recorded parameters of another region are not this run's base: their
/// zones would be refused by a rule the user never touched, where the true
/// answer is that the state belongs to another region (which opening it
/// says).
pub fn layer(recorded: RawParams, from_file: RawParams, flags: RawParams) -> RawParams {
    let given = from_file.clone().overlay(flags.clone());
    let recorded = match (&given.region, &recorded.region) {
        (Some(now), Some(then)) if now != then => RawParams::default(),
        _ => recorded,
    };
    let mut raw = recorded.overlay(from_file).overlay(flags);
    let zones = raw.availability_zones.as_ref().map(Vec::len).unwrap_or(1);
    for (list, from_user) in [
        (&mut raw.firewall_subnet_cidrs, given.firewall_subnet_cidrs.is_some()),
        (&mut raw.nat_subnet_cidrs, given.nat_subnet_cidrs.is_some()),
        (&mut raw.sagemaker_subnet_cidrs, given.sagemaker_subnet_cidrs.is_some()),
    ] {
        if let Some(l) = list
            && !from_user
        {
            l.truncate(zones);
        }
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_over_file_over_recorded_and_recorded_cidrs_follow_the_zones() {
        let recorded = RawParams {
            project: Some("rec".into()),
            vpc_cidr: Some("10.9.0.0/16".into()),
            availability_zones: Some(vec!["a".into(), "b".into()]),
            nat_subnet_cidrs: Some(vec!["10.9.2.0/24".into(), "10.9.18.0/24".into()]),
            ..Default::default()
        };
        let file = RawParams {
            vpc_cidr: Some("10.8.0.0/16".into()),
            availability_zones: Some(vec!["a".into()]),
            ..Default::default()
        };
        let flags = RawParams { project: Some("flag".into()), ..Default::default() };
        let r = layer(recorded, file, flags);
        assert_eq!(r.project.as_deref(), Some("flag"));
        assert_eq!(r.vpc_cidr.as_deref(), Some("10.8.0.0/16"));
        assert_eq!(r.nat_subnet_cidrs, Some(vec!["10.9.2.0/24".to_string()]), "truncated to the one zone");
    }

    #[test]
    fn parameters_recorded_for_another_region_are_not_the_base() {
        let recorded = RawParams {
            region: Some("us-east-1".into()),
            availability_zone: Some("us-east-1a".into()),
            ..Default::default()
        };
        let file = RawParams { region: Some("eu-west-1".into()), ..Default::default() };
        let r = layer(recorded.clone(), file, RawParams::default());
        assert_eq!(r.availability_zone, None, "the us-east-1 zone is not carried to eu-west-1");
        let r = layer(recorded, RawParams::default(), RawParams::default());
        assert_eq!(r.availability_zone.as_deref(), Some("us-east-1a"), "same region: the record is the base");
    }
}

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

    /// The record's format (the state's `params`) is the one existing state
    /// files hold, and it reads back to the same parameters.
    #[test]
    fn the_record_keeps_its_format_and_reads_back() {
        use crate::config::Settings;
        let s = Settings::resolve(RawParams { region: Some("us-east-1".into()), ..Default::default() }, false).unwrap();
        let want = serde_json::json!({
            "project": "sagemaker-studio-anfw", "region": "us-east-1",
            "domain_name": "sagemaker-anfw-domain-us-east-1", "user_profile_name": "anfw-user-profile-us-east-1",
            "vpc_cidr": "10.2.0.0/16", "firewall_subnet_cidr": "10.2.1.0/24", "nat_subnet_cidr": "10.2.2.0/24",
            "sagemaker_subnet_cidr": "10.2.3.0/24", "allowed_domains": [".kaggle.com", ".amazonaws.com"],
            "availability_zone": "us-east-1a", "idle_timeout_minutes": 60, "space_storage_gib": 5,
            "app_instance_type": "ml.t3.medium", "logging": true, "log_retention_days": 365,
            "network_isolation": false,
        });
        assert_eq!(serde_json::to_value(s.as_map()).unwrap(), want);
        let raw = RawParams {
            region: Some("us-east-1".into()),
            availability_zones: Some(vec!["us-east-1a".into(), "us-east-1b".into()]),
            users: Some(vec!["alice".into(), "bob".into()]),
            logging: Some(false),
            expect_account: Some("123456789012".into()),
            ..Default::default()
        };
        let s = Settings::resolve(raw, false).unwrap();
        let map = s.as_map();
        assert!(map.contains_key("users") && !map.contains_key("user_profile_name"), "{map:?}");
        assert_eq!(map["nat_subnet_cidrs"], serde_json::json!(["10.2.2.0/24", "10.2.18.0/24"]));
        assert!(!map.contains_key("expect_account"), "a run's guard is not recorded");
        let back = Settings::resolve(RawParams::from_recorded(map.clone()), false).unwrap();
        assert_eq!(back.as_map(), map);
    }
}

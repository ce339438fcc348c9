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

/// Layers the three sources. What the record holds in one form and the
/// user gives in the other gives way: `users` given replaces the recorded
/// `user_profile_name` (a stack built with the default user gets more), and
/// `availability_zones` the recorded `availability_zone` (and the reverse).
///
/// Day two (issue 29): zones and users the record holds keep their order
/// and their place (the first of each carries the spec's step ids), those
/// given anew come after them; and each recorded zone keeps its recorded
/// subnet CIDRs whatever its place in the list given, while a new zone's
/// are carved where no zone of the stack has one (`carve`'s next free
/// block). So removing or reordering zones changes no CIDR.
///
/// Recorded parameters of another region are not this run's base: their
/// zones would be refused by a rule the user never touched, where the true
/// answer is that the state belongs to another region (which opening it
/// says).
pub fn layer(recorded: RawParams, from_file: RawParams, flags: RawParams) -> RawParams {
    let given = from_file.clone().overlay(flags.clone());
    let mut recorded = match (&given.region, &recorded.region) {
        (Some(now), Some(then)) if now != then => RawParams::default(),
        _ => recorded,
    };
    let old_users: Vec<String> = match (&recorded.users, &recorded.user_profile_name) {
        (Some(list), _) => list.clone(),
        (None, Some(u)) => vec![u.clone()],
        (None, None) => Vec::new(),
    };
    if given.users.is_some() && given.user_profile_name.is_none() {
        recorded.user_profile_name = None;
    }
    if given.user_profile_name.is_some() && given.users.is_none() {
        recorded.users = None;
    }
    let zones_given = given.availability_zones.is_some() || given.availability_zone.is_some();
    let before = recorded_zones(&recorded);
    if given.availability_zones.is_some() && given.availability_zone.is_none() {
        recorded.availability_zone = None;
    }
    if given.availability_zone.is_some() && given.availability_zones.is_none() {
        recorded.availability_zones = None;
    }
    // The previous version's default allow-list, recorded as it was: today's default
    // replaces it (issue 30: no `.amazonaws.com`), an in-place change `plan` shows.
    let old_default: Vec<String> = super::OLD_DEFAULT_ALLOWED_DOMAINS.iter().map(|d| d.to_string()).collect();
    if recorded.allowed_domains.as_ref() == Some(&old_default) {
        recorded.allowed_domains = None;
    }
    let mut raw = recorded.clone().overlay(from_file).overlay(flags);
    if let Some(list) = raw.users.as_mut() {
        *list = stable(&old_users, list);
    }
    let cidrs_given = given.firewall_subnet_cidrs.is_some()
        || given.nat_subnet_cidrs.is_some()
        || given.sagemaker_subnet_cidrs.is_some()
        || given.firewall_subnet_cidr.is_some()
        || given.nat_subnet_cidr.is_some()
        || given.sagemaker_subnet_cidr.is_some();
    if zones_given && !before.is_empty() && !cidrs_given {
        follow_zones(&mut raw, &recorded, &before);
    } else {
        // Recorded per-zone CIDRs follow the zones: when fewer are given, those zones' are kept.
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
        // The first zone's CIDR given alone (`--sagemaker-subnet-cidr`) is the recorded list's first.
        for (single, list, given_single, given_list) in [
            (
                &raw.firewall_subnet_cidr,
                &mut raw.firewall_subnet_cidrs,
                &given.firewall_subnet_cidr,
                &given.firewall_subnet_cidrs,
            ),
            (&raw.nat_subnet_cidr, &mut raw.nat_subnet_cidrs, &given.nat_subnet_cidr, &given.nat_subnet_cidrs),
            (
                &raw.sagemaker_subnet_cidr,
                &mut raw.sagemaker_subnet_cidrs,
                &given.sagemaker_subnet_cidr,
                &given.sagemaker_subnet_cidrs,
            ),
        ] {
            if let (Some(first), Some(l), true, true) =
                (single, list.as_mut(), given_single.is_some(), given_list.is_none())
                && !l.is_empty()
            {
                l[0] = first.clone();
            }
        }
    }
    raw
}

/// `given` in a stable order: the names `old` holds first, in its order,
/// then the new ones in the order given.
fn stable(old: &[String], given: &[String]) -> Vec<String> {
    // A name given twice is left for the rules to name (`validate`).
    if given.iter().enumerate().any(|(i, g)| given[..i].contains(g)) {
        return given.to_vec();
    }
    let mut out: Vec<String> = old.iter().filter(|o| given.contains(o)).cloned().collect();
    out.extend(given.iter().filter(|g| !old.contains(g)).cloned());
    out
}

/// The zones a record holds, in its order.
fn recorded_zones(r: &RawParams) -> Vec<String> {
    match (&r.availability_zones, &r.availability_zone) {
        (Some(list), _) => list.clone(),
        (None, Some(z)) => vec![z.clone()],
        (None, None) => Vec::new(),
    }
}

/// Orders the zones as `stable` does and gives each its recorded CIDRs (new
/// ones the next free carved block), as full per-zone lists.
fn follow_zones(raw: &mut RawParams, recorded: &RawParams, before: &[String]) {
    let now = match (&raw.availability_zones, &raw.availability_zone) {
        (Some(list), _) => list.clone(),
        (None, Some(z)) => vec![z.clone()],
        (None, None) => return,
    };
    let zones = stable(before, &now);
    let kinds = [
        (recorded.firewall_subnet_cidr.as_ref(), recorded.firewall_subnet_cidrs.as_ref(), "10.2.1.0/24"),
        (recorded.nat_subnet_cidr.as_ref(), recorded.nat_subnet_cidrs.as_ref(), "10.2.2.0/24"),
        (recorded.sagemaker_subnet_cidr.as_ref(), recorded.sagemaker_subnet_cidrs.as_ref(), "10.2.3.0/24"),
    ];
    let mut lists: Vec<Vec<String>> = Vec::new();
    for (single, list, default) in kinds {
        let first = single.cloned().or_else(|| list.and_then(|l| l.first().cloned())).unwrap_or(default.into());
        let Ok(first_net) = first.parse::<ipnet::Ipv4Net>() else { return };
        // Zone i of the record: its listed CIDR, else the one `validate` carved for it.
        let old_of = |i: usize| -> Option<String> {
            if i == 0 {
                return Some(first.clone());
            }
            list.and_then(|l| l.get(i).cloned()).or_else(|| super::carve(first_net, i).map(|n| n.to_string()))
        };
        let kept: Vec<Option<String>> =
            zones.iter().map(|z| before.iter().position(|b| b == z).and_then(old_of)).collect();
        let mut taken: Vec<String> = kept.iter().flatten().cloned().collect();
        let mut out = Vec::new();
        for k in kept {
            match k {
                Some(c) => out.push(c),
                None => {
                    let free = (0..64)
                        .filter_map(|j| super::carve(first_net, j).map(|n| n.to_string()))
                        .find(|c| !taken.contains(c));
                    let Some(c) = free else { return };
                    taken.push(c.clone());
                    out.push(c);
                }
            }
        }
        lists.push(out);
    }
    raw.availability_zone = zones.first().cloned();
    raw.availability_zones = (zones.len() > 1).then(|| zones.clone());
    let [fw, nat, sm]: [Vec<String>; 3] = lists.try_into().expect("three kinds of subnet");
    raw.firewall_subnet_cidr = fw.first().cloned();
    raw.nat_subnet_cidr = nat.first().cloned();
    raw.sagemaker_subnet_cidr = sm.first().cloned();
    let many = zones.len() > 1;
    raw.firewall_subnet_cidrs = many.then_some(fw);
    raw.nat_subnet_cidrs = many.then_some(nat);
    raw.sagemaker_subnet_cidrs = many.then_some(sm);
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
        assert_eq!(r.nat_subnet_cidr.as_deref(), Some("10.9.2.0/24"), "the kept zone keeps its CIDR");
        assert_eq!(r.nat_subnet_cidrs, None, "one zone: no list");
    }

    fn two_zones() -> RawParams {
        RawParams {
            availability_zones: Some(vec!["a".into(), "b".into()]),
            availability_zone: Some("a".into()),
            firewall_subnet_cidr: Some("10.2.1.0/24".into()),
            nat_subnet_cidr: Some("10.2.2.0/24".into()),
            sagemaker_subnet_cidr: Some("10.2.3.0/24".into()),
            firewall_subnet_cidrs: Some(vec!["10.2.1.0/24".into(), "10.2.17.0/24".into()]),
            nat_subnet_cidrs: Some(vec!["10.2.2.0/24".into(), "10.2.18.0/24".into()]),
            sagemaker_subnet_cidrs: Some(vec!["10.2.3.0/24".into(), "10.2.19.0/24".into()]),
            ..Default::default()
        }
    }

    fn zones(list: &[&str]) -> RawParams {
        RawParams { availability_zones: Some(list.iter().map(|z| z.to_string()).collect()), ..Default::default() }
    }

    /// Day two: each recorded zone keeps its CIDRs whatever the list given;
    /// a new zone takes the next free carved block; the record's order holds.
    #[test]
    fn zones_keep_their_cidrs_and_their_order() {
        let r = layer(two_zones(), RawParams::default(), zones(&["b"]));
        assert_eq!(r.availability_zone.as_deref(), Some("b"));
        assert_eq!(r.sagemaker_subnet_cidr.as_deref(), Some("10.2.19.0/24"), "b keeps its own subnet");
        let r = layer(two_zones(), RawParams::default(), zones(&["b", "a"]));
        assert_eq!(r.availability_zones, Some(vec!["a".to_string(), "b".to_string()]), "the recorded order holds");
        assert_eq!(r.nat_subnet_cidrs, Some(vec!["10.2.2.0/24".to_string(), "10.2.18.0/24".to_string()]));
        let r = layer(two_zones(), RawParams::default(), zones(&["a", "c", "b"]));
        assert_eq!(r.availability_zones, Some(vec!["a".to_string(), "b".to_string(), "c".to_string()]));
        assert_eq!(r.firewall_subnet_cidrs.unwrap()[2], "10.2.33.0/24", "c carved after the others");
        // A zone added after one was removed is carved from the first zone kept, in a free block.
        let one = layer(two_zones(), RawParams::default(), zones(&["b"]));
        let back = layer(one, RawParams::default(), zones(&["b", "c"]));
        assert_eq!(back.sagemaker_subnet_cidrs, Some(vec!["10.2.19.0/24".to_string(), "10.2.35.0/24".to_string()]));
    }

    /// A stack built with the default user gets more users by `users`, by
    /// flag or config file; the recorded ones keep their place.
    #[test]
    fn users_given_replace_the_recorded_single_user() {
        let recorded = RawParams { user_profile_name: Some("anfw-user".into()), ..Default::default() };
        let users = RawParams { users: Some(vec!["alice".into(), "anfw-user".into()]), ..Default::default() };
        let r = layer(recorded.clone(), users.clone(), RawParams::default());
        assert_eq!(r.user_profile_name, None);
        assert_eq!(r.users, Some(vec!["anfw-user".to_string(), "alice".to_string()]));
        let r = layer(recorded, RawParams::default(), users);
        assert_eq!(r.users, Some(vec!["anfw-user".to_string(), "alice".to_string()]));
        let recorded = RawParams { users: Some(vec!["a".into(), "b".into()]), ..Default::default() };
        let r = layer(
            recorded,
            RawParams::default(),
            RawParams { user_profile_name: Some("a".into()), ..Default::default() },
        );
        assert_eq!((r.users, r.user_profile_name.as_deref()), (None, Some("a")));
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
            "sagemaker_subnet_cidr": "10.2.3.0/24",
            "allowed_domains": [".kaggle.com", "pypi.org", "files.pythonhosted.org", "conda.anaconda.org"],
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

    /// A stack that recorded the previous default (`.kaggle.com,.amazonaws.com`)
    /// takes today's; a list the user chose is kept, and one given wins.
    #[test]
    fn the_old_default_allow_list_gives_way_to_todays() {
        let old = |l: &[&str]| RawParams {
            allowed_domains: Some(l.iter().map(|d| d.to_string()).collect()),
            ..Default::default()
        };
        let r = layer(old(&[".kaggle.com", ".amazonaws.com"]), RawParams::default(), RawParams::default());
        assert_eq!(r.allowed_domains, None, "today's default applies");
        let r = layer(old(&[".kaggle.com", "pypi.org"]), RawParams::default(), RawParams::default());
        assert_eq!(r.allowed_domains, Some(vec![".kaggle.com".to_string(), "pypi.org".to_string()]));
        let r = layer(old(&[".kaggle.com", ".amazonaws.com"]), RawParams::default(), old(&["example.com"]));
        assert_eq!(r.allowed_domains, Some(vec!["example.com".to_string()]));
    }
}

//! Parameters of the stack: defaults, the TOML config file, command-line
//! overrides, validation and the names derived from them. Pure: no AWS calls.
//!
//! Raw input (`RawParams`, every field optional) is resolved once into
//! `Settings`, which the rest of the program trusts. Every rule that fails is
//! reported, not only the first one.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use ipnet::Ipv4Net;
use serde::Deserialize;

/// Regions where the original sample says Network Firewall exists.
pub const FIREWALL_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "eu-north-1",
    "ap-southeast-2",
    "ap-northeast-1",
];

/// The parameters as given (config file, then flags); `None` means default.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParams {
    pub project: Option<String>,
    pub domain_name: Option<String>,
    pub user_profile_name: Option<String>,
    pub vpc_cidr: Option<String>,
    pub firewall_subnet_cidr: Option<String>,
    pub nat_subnet_cidr: Option<String>,
    pub sagemaker_subnet_cidr: Option<String>,
    pub allowed_domains: Option<Vec<String>>,
    pub availability_zone: Option<String>,
    pub region: Option<String>,
    /// User profiles, each with its own JupyterServer app; the first is the
    /// primary one (`UserProfileName`). Default: [user_profile_name].
    pub users: Option<Vec<String>>,
    /// Zones the stack spans (default: [availability_zone]); the first is
    /// the one the single-zone parameters describe.
    pub availability_zones: Option<Vec<String>>,
    /// One CIDR per zone (default: the single-zone CIDR for the first zone,
    /// then carved: see `carve`).
    pub firewall_subnet_cidrs: Option<Vec<String>>,
    pub nat_subnet_cidrs: Option<Vec<String>>,
    pub sagemaker_subnet_cidrs: Option<Vec<String>>,
}

impl RawParams {
    /// Reads a TOML config file; unknown keys and wrong types are errors that
    /// name the file and the line.
    pub fn from_file(path: &Path) -> Result<RawParams, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            // Name the line and show it: it holds the parameter at fault.
            let at = e
                .span()
                .map(|s| {
                    let n = text[..s.start].matches('\n').count();
                    let src = text.lines().nth(n).unwrap_or_default().trim();
                    format!(" line {} ({src})", n + 1)
                })
                .unwrap_or_default();
            format!("config file {}{at}: {}", path.display(), e.message().trim())
        })
    }

    /// Fields set in `over` replace those in `self`.
    pub fn overlay(self, over: RawParams) -> RawParams {
        RawParams {
            project: over.project.or(self.project),
            domain_name: over.domain_name.or(self.domain_name),
            user_profile_name: over.user_profile_name.or(self.user_profile_name),
            vpc_cidr: over.vpc_cidr.or(self.vpc_cidr),
            firewall_subnet_cidr: over.firewall_subnet_cidr.or(self.firewall_subnet_cidr),
            nat_subnet_cidr: over.nat_subnet_cidr.or(self.nat_subnet_cidr),
            sagemaker_subnet_cidr: over.sagemaker_subnet_cidr.or(self.sagemaker_subnet_cidr),
            allowed_domains: over.allowed_domains.or(self.allowed_domains),
            availability_zone: over.availability_zone.or(self.availability_zone),
            region: over.region.or(self.region),
            users: over.users.or(self.users),
            availability_zones: over.availability_zones.or(self.availability_zones),
            firewall_subnet_cidrs: over.firewall_subnet_cidrs.or(self.firewall_subnet_cidrs),
            nat_subnet_cidrs: over.nat_subnet_cidrs.or(self.nat_subnet_cidrs),
            sagemaker_subnet_cidrs: over.sagemaker_subnet_cidrs.or(self.sagemaker_subnet_cidrs),
        }
    }
}

/// Validated parameters.
#[derive(Debug, Clone)]
pub struct Settings {
    pub project: String,
    pub region: String,
    pub domain_name: String,
    pub user_profile_name: String,
    pub vpc_cidr: Ipv4Net,
    pub firewall_subnet_cidr: Ipv4Net,
    pub nat_subnet_cidr: Ipv4Net,
    pub sagemaker_subnet_cidr: Ipv4Net,
    pub allowed_domains: Vec<String>,
    pub availability_zone: String,
    /// All user profiles; `users[0] == user_profile_name`.
    pub users: Vec<String>,
    /// Every zone with its three subnets; `zones[0]` is `availability_zone`
    /// with the single-zone CIDRs above.
    pub zones: Vec<Zone>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub az: String,
    pub firewall: Ipv4Net,
    pub nat: Ipv4Net,
    pub sagemaker: Ipv4Net,
}

/// Most zones one stack spans.
pub const MAX_ZONES: usize = 6;

/// The CIDR of zone `i` when not given: zone 0's CIDR moved up by `i` × 16
/// blocks of its own size (10.2.1.0/24 → 10.2.17.0/24 → 10.2.33.0/24), so
/// each kind of subnet keeps its place in every zone's range.
pub fn carve(first: Ipv4Net, i: usize) -> Option<Ipv4Net> {
    let size = 1u64 << (32 - first.prefix_len());
    let start = u64::from(u32::from(first.network())) + (i as u64) * 16 * size;
    let start = u32::try_from(start).ok()?;
    Ipv4Net::new(std::net::Ipv4Addr::from(start), first.prefix_len()).ok()
}

/// All the rules the input broke.
#[derive(Debug)]
pub struct InvalidInput(pub Vec<String>);

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid input:")?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidInput {}

pub const DEFAULT_PROJECT: &str = "sagemaker-studio-anfw";

/// User profiles one stack may carry (each adds a profile and an app).
pub const MAX_USERS: usize = 100;

/// Longest account id AWS issues (12 digits): derived names are checked with it.
const ACCOUNT_PLACEHOLDER: &str = "123456789012";

impl Settings {
    /// Resolves raw parameters. `region` must already be known (from the raw
    /// params or the AWS config chain); `any_region` lifts the firewall-region rule.
    pub fn resolve(raw: RawParams, any_region: bool) -> Result<Settings, InvalidInput> {
        let mut errs = Vec::new();
        let project = raw.project.unwrap_or_else(|| DEFAULT_PROJECT.to_string());
        check_project(&project, &mut errs);

        let region = raw.region.unwrap_or_default();
        if region.is_empty() {
            errs.push("region: no region given (--region, AWS_REGION or the AWS config file)".into());
        } else if !is_region_like(&region) {
            errs.push(format!("region: '{region}' is not a region name (e.g. us-east-1)"));
        } else if !any_region && !FIREWALL_REGIONS.contains(&region.as_str()) {
            errs.push(format!(
                "region: '{region}' is not one where the stack is supported (Network Firewall regions: {}); pass --any-region to override",
                FIREWALL_REGIONS.join(", ")
            ));
        }

        let domain_name = raw.domain_name.unwrap_or_else(|| format!("sagemaker-anfw-domain-{region}"));
        check_sagemaker_name("domain_name", &domain_name, &mut errs);
        let users_param = if raw.users.is_some() { "users" } else { "user_profile_name" };
        let users = match (raw.users, raw.user_profile_name) {
            (Some(_), Some(u)) => {
                errs.push(format!(
                    "user_profile_name: '{u}' given together with users; give one (the first of users is the primary profile)"
                ));
                vec![u]
            }
            (Some(list), None) => list,
            (None, Some(u)) => vec![u],
            (None, None) => vec![format!("anfw-user-profile-{region}")],
        };
        if users.is_empty() {
            errs.push("users: the list is empty; give at least one user profile name".into());
        }
        if users.len() > MAX_USERS {
            errs.push(format!("users: {} profiles given, at most {MAX_USERS}", users.len()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for u in &users {
            check_sagemaker_name(users_param, u, &mut errs);
            if !seen.insert(u.as_str()) {
                errs.push(format!("users: '{u}' appears twice"));
            }
        }
        let user_profile_name = users.first().cloned().unwrap_or_default();

        let vpc_cidr = parse_cidr("vpc_cidr", raw.vpc_cidr.as_deref().unwrap_or("10.2.0.0/16"), &mut errs);

        // Zones: the list, or the single zone, or `{region}a`.
        let (zone_param, azs) = match (raw.availability_zones, raw.availability_zone) {
            (Some(list), Some(z)) if list.first() != Some(&z) => {
                errs.push(format!(
                    "availability_zone: '{z}' differs from the first of availability_zones {list:?}; give one, or make them agree"
                ));
                ("availability_zones", list)
            }
            (Some(list), _) => ("availability_zones", list),
            (None, Some(z)) => ("availability_zone", vec![z]),
            (None, None) => ("availability_zone", vec![format!("{region}a")]),
        };
        if azs.is_empty() {
            errs.push("availability_zones: the list is empty; give at least one zone".into());
        }
        if azs.len() > MAX_ZONES {
            errs.push(format!("availability_zones: {} zones given, at most {MAX_ZONES}", azs.len()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for az in &azs {
            if !seen.insert(az.as_str()) {
                errs.push(format!("availability_zones: '{az}' appears twice"));
            }
            if !region.is_empty() {
                let suffix = az.strip_prefix(region.as_str());
                if !matches!(suffix, Some(s) if s.len() == 1 && s.chars().all(|c| c.is_ascii_lowercase())) {
                    errs.push(format!(
                        "{zone_param}: '{az}' is not a zone of region '{region}' (expected {region}a, {region}b, ...)"
                    ));
                }
            }
        }

        // Subnets: for each kind, zone 0 from the single parameter (or the
        // list's first entry, or the default); further zones from the list or carved.
        let kinds = [
            ("firewall_subnet_cidr", raw.firewall_subnet_cidr, raw.firewall_subnet_cidrs, "10.2.1.0/24"),
            ("nat_subnet_cidr", raw.nat_subnet_cidr, raw.nat_subnet_cidrs, "10.2.2.0/24"),
            ("sagemaker_subnet_cidr", raw.sagemaker_subnet_cidr, raw.sagemaker_subnet_cidrs, "10.2.3.0/24"),
        ];
        // (parameter as named in messages, kind index, zone index, cidr)
        let mut subnets: Vec<(String, usize, usize, Option<Ipv4Net>)> = Vec::new();
        for (k, (param, single, list, default)) in kinds.into_iter().enumerate() {
            let list_param = format!("{param}s");
            if let Some(list) = &list {
                if list.len() > azs.len() {
                    errs.push(format!(
                        "{list_param}: {} CIDRs for {} zones; give at most one per zone (the rest are carved)",
                        list.len(),
                        azs.len()
                    ));
                }
                if let Some(single) = &single
                    && list.first() != Some(single)
                {
                    errs.push(format!("{param}: '{single}' differs from the first of {list_param} {list:?}"));
                }
            }
            let first_text = single.clone().or_else(|| list.as_ref().and_then(|l| l.first().cloned()));
            let first = parse_cidr(param, first_text.as_deref().unwrap_or(default), &mut errs);
            subnets.push((param.to_string(), k, 0, first));
            for (i, az) in azs.iter().enumerate().skip(1) {
                let (name, net) = match list.as_ref().and_then(|l| l.get(i)) {
                    Some(text) => {
                        let name = format!("{list_param}[{i}]");
                        let net = parse_cidr(&name, text, &mut errs);
                        (name, net)
                    }
                    None => {
                        let name = format!("{param} (carved for {az})");
                        let net = first.and_then(|f| carve(f, i));
                        if first.is_some() && net.is_none() {
                            errs.push(format!("{name}: no room to carve a subnet for zone {i}; give {list_param}"));
                        }
                        (name, net)
                    }
                };
                subnets.push((name, k, i, net));
            }
        }
        if let Some(vpc) = vpc_cidr {
            for (p, _, _, net) in &subnets {
                if let Some(net) = net
                    && !vpc.contains(net)
                {
                    errs.push(format!("{p}: '{net}' is not inside vpc_cidr '{vpc}'"));
                }
            }
        }
        for (i, (pa, _, _, a)) in subnets.iter().enumerate() {
            for (pb, _, _, b) in &subnets[i + 1..] {
                if let (Some(a), Some(b)) = (a, b)
                    && (a.contains(b) || b.contains(a))
                {
                    errs.push(format!("{pb}: '{b}' overlaps {pa} '{a}'"));
                }
            }
        }

        let allowed_domains =
            raw.allowed_domains.unwrap_or_else(|| vec![".kaggle.com".into(), ".amazonaws.com".into()]);
        errs.extend(domain_errors("allowed_domains", &allowed_domains));

        if !errs.is_empty() {
            return Err(InvalidInput(errs));
        }
        let cidr = |kind: usize, zone: usize| {
            subnets.iter().find(|(_, k, z, _)| *k == kind && *z == zone).and_then(|(_, _, _, n)| *n).expect("checked")
        };
        let zones: Vec<Zone> = azs
            .iter()
            .enumerate()
            .map(|(i, az)| Zone { az: az.clone(), firewall: cidr(0, i), nat: cidr(1, i), sagemaker: cidr(2, i) })
            .collect();
        let availability_zone = azs[0].clone();
        let [f, n, s] = [zones[0].firewall, zones[0].nat, zones[0].sagemaker];
        Ok(Settings {
            project,
            region,
            domain_name,
            user_profile_name,
            vpc_cidr: vpc_cidr.expect("checked"),
            firewall_subnet_cidr: f,
            nat_subnet_cidr: n,
            sagemaker_subnet_cidr: s,
            allowed_domains,
            availability_zone,
            users,
            zones,
        })
    }

    /// The stack's name: its state file and `provision:stack` tag.
    pub fn stack(&self) -> &str {
        &self.project
    }

    pub fn bucket_name(&self, account: &str, which: &str) -> String {
        format!("{}-{account}-{}-{which}", self.project, self.region)
    }

    pub fn role_name(&self) -> String {
        format!("{}-{}-sagemaker-execution-role", self.project, self.region)
    }

    pub fn policy_name(&self) -> String {
        format!("{}-{}-sagemaker-execution-policy", self.project, self.region)
    }

    /// The parameters as a map, for the state file and `plan`.
    pub fn as_map(&self) -> BTreeMap<String, serde_json::Value> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: serde_json::Value| {
            m.insert(k.to_string(), v);
        };
        put("project", self.project.clone().into());
        put("region", self.region.clone().into());
        put("domain_name", self.domain_name.clone().into());
        put("vpc_cidr", self.vpc_cidr.to_string().into());
        put("firewall_subnet_cidr", self.firewall_subnet_cidr.to_string().into());
        put("nat_subnet_cidr", self.nat_subnet_cidr.to_string().into());
        put("sagemaker_subnet_cidr", self.sagemaker_subnet_cidr.to_string().into());
        put("allowed_domains", self.allowed_domains.clone().into());
        put("availability_zone", self.availability_zone.clone().into());
        if self.zones.len() > 1 {
            let list =
                |f: fn(&Zone) -> String| -> serde_json::Value { self.zones.iter().map(f).collect::<Vec<_>>().into() };
            put("availability_zones", list(|z| z.az.clone()));
            put("firewall_subnet_cidrs", list(|z| z.firewall.to_string()));
            put("nat_subnet_cidrs", list(|z| z.nat.to_string()));
            put("sagemaker_subnet_cidrs", list(|z| z.sagemaker.to_string()));
        }
        if self.users.len() > 1 {
            put("users", self.users.clone().into());
        } else {
            put("user_profile_name", self.user_profile_name.clone().into());
        }
        m
    }
}

/// The `allowed_domains` rule: at least one, each a domain or a `.suffix`.
/// `param` names where the list came from in the messages.
pub fn domain_errors(param: &str, domains: &[String]) -> Vec<String> {
    let mut errs = Vec::new();
    if domains.is_empty() {
        errs.push(format!("{param}: the list is empty; give at least one domain"));
    }
    for d in domains {
        if !is_domain_pattern(d) {
            errs.push(format!(
                "{param}: '{d}' is not a domain name or a '.suffix' (letters, digits, '-', dot-separated labels)"
            ));
        }
    }
    errs
}

fn check_project(project: &str, errs: &mut Vec<String>) {
    let ok_chars = project.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if project.is_empty() || !project.starts_with(|c: char| c.is_ascii_lowercase()) || !ok_chars {
        errs.push(format!(
            "project: '{project}' must start with a lowercase letter and contain only lowercase letters, digits and '-'"
        ));
        return;
    }
    if project.ends_with('-') || project.contains("--") {
        errs.push(format!(
            "project: '{project}' must not end with '-' or contain '--' (it is part of S3 bucket names)"
        ));
    }
    // Derived names with the longest region and account they can have.
    let region = "ap-southeast-2";
    let bucket = format!("{project}-{ACCOUNT_PLACEHOLDER}-{region}-models");
    if bucket.len() > 63 {
        errs.push(format!(
            "project: '{project}' is too long: the bucket name '{bucket}' would be {} characters, S3 allows at most 63",
            bucket.len()
        ));
    }
    let role = format!("{project}-{region}-sagemaker-execution-role");
    if role.len() > 64 {
        errs.push(format!(
            "project: '{project}' is too long: the IAM role name '{role}' would be {} characters, IAM allows at most 64",
            role.len()
        ));
    }
}

/// SageMaker names: `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`.
fn check_sagemaker_name(param: &str, name: &str, errs: &mut Vec<String>) {
    let alnum = name.chars().filter(|c| c.is_ascii_alphanumeric()).count();
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && alnum <= 63;
    if !ok {
        errs.push(format!("{param}: '{name}' does not match SageMaker's name rule [a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}}"));
    }
}

fn parse_cidr(param: &str, value: &str, errs: &mut Vec<String>) -> Option<Ipv4Net> {
    match value.parse::<Ipv4Net>() {
        Err(_) => {
            errs.push(format!("{param}: '{value}' is not an IPv4 CIDR (a.b.c.d/n)"));
            None
        }
        Ok(net) if net != net.trunc() => {
            errs.push(format!("{param}: '{value}' has host bits set; did you mean '{}'?", net.trunc()));
            None
        }
        Ok(net) if !(16..=28).contains(&net.prefix_len()) => {
            errs.push(format!("{param}: '{value}' has prefix /{}, AWS allows /16 to /28", net.prefix_len()));
            None
        }
        Ok(net) => Some(net),
    }
}

fn is_region_like(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// A domain (`example.com`) or a suffix (`.example.com`), as Network Firewall
/// domain lists take them.
fn is_domain_pattern(d: &str) -> bool {
    let body = d.strip_prefix('.').unwrap_or(d);
    let labels: Vec<&str> = body.split('.').collect();
    !body.is_empty()
        && body.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawParams {
        RawParams { region: Some("us-east-1".into()), ..Default::default() }
    }

    #[test]
    fn defaults_are_the_spec_defaults() {
        let s = Settings::resolve(raw(), false).unwrap();
        assert_eq!(s.project, "sagemaker-studio-anfw");
        assert_eq!(s.domain_name, "sagemaker-anfw-domain-us-east-1");
        assert_eq!(s.user_profile_name, "anfw-user-profile-us-east-1");
        assert_eq!(s.vpc_cidr.to_string(), "10.2.0.0/16");
        assert_eq!(s.availability_zone, "us-east-1a");
        assert_eq!(s.allowed_domains, vec![".kaggle.com", ".amazonaws.com"]);
        assert_eq!(s.bucket_name("123456789012", "data"), "sagemaker-studio-anfw-123456789012-us-east-1-data");
    }

    #[test]
    fn all_errors_are_reported_together() {
        let r = RawParams {
            project: Some("Bad_Name".into()),
            vpc_cidr: Some("10.0.0.0/8".into()),
            nat_subnet_cidr: Some("10.2.1.0/24".into()),
            allowed_domains: Some(vec![]),
            ..raw()
        };
        let e = Settings::resolve(r, false).unwrap_err();
        let all = e.to_string();
        assert!(all.contains("project: 'Bad_Name'"), "{all}");
        assert!(all.contains("vpc_cidr: '10.0.0.0/8' has prefix /8"), "{all}");
        assert!(all.contains("nat_subnet_cidr: '10.2.1.0/24' overlaps firewall_subnet_cidr"), "{all}");
        assert!(all.contains("allowed_domains: the list is empty"), "{all}");
    }

    #[test]
    fn subnet_outside_vpc_and_long_project_are_refused() {
        let r = RawParams { sagemaker_subnet_cidr: Some("10.3.0.0/24".into()), project: Some("a".repeat(30)), ..raw() };
        let all = Settings::resolve(r, false).unwrap_err().to_string();
        assert!(all.contains("sagemaker_subnet_cidr: '10.3.0.0/24' is not inside vpc_cidr"), "{all}");
        assert!(all.contains("S3 allows at most 63"), "{all}");
    }

    #[test]
    fn region_and_zone_rules() {
        let r = RawParams { region: Some("sa-east-1".into()), ..Default::default() };
        assert!(Settings::resolve(r.clone(), false).unwrap_err().to_string().contains("--any-region"));
        assert!(Settings::resolve(r, true).is_ok());
        let r = RawParams { availability_zone: Some("us-west-2a".into()), ..raw() };
        assert!(Settings::resolve(r, false).unwrap_err().to_string().contains("availability_zone: 'us-west-2a'"));
    }

    #[test]
    fn zones_are_carved_and_checked() {
        let r = RawParams {
            availability_zones: Some(vec!["us-east-1a".into(), "us-east-1b".into(), "us-east-1c".into()]),
            ..raw()
        };
        let s = Settings::resolve(r, false).unwrap();
        let nat: Vec<String> = s.zones.iter().map(|z| z.nat.to_string()).collect();
        assert_eq!(nat, ["10.2.2.0/24", "10.2.18.0/24", "10.2.34.0/24"]);
        assert_eq!(s.zones[2].sagemaker.to_string(), "10.2.35.0/24");
        let r = RawParams {
            availability_zones: Some(vec!["us-east-1a".into(), "us-east-1a".into(), "us-west-2b".into()]),
            ..raw()
        };
        let all = Settings::resolve(r, false).unwrap_err().to_string();
        assert!(all.contains("availability_zones: 'us-east-1a' appears twice"), "{all}");
        assert!(all.contains("availability_zones: 'us-west-2b' is not a zone of region 'us-east-1'"), "{all}");
        let r = RawParams {
            availability_zones: Some(vec!["us-east-1a".into()]),
            nat_subnet_cidrs: Some(vec!["10.2.2.0/24".into(), "10.2.18.0/24".into()]),
            ..raw()
        };
        let one = Settings::resolve(r, false).unwrap_err().to_string();
        assert!(one.contains("nat_subnet_cidrs: 2 CIDRs for 1 zones"), "{one}");
        let seven: Vec<String> = "abcdefg".chars().map(|c| format!("us-east-1{c}")).collect();
        let r = RawParams { availability_zones: Some(seven), vpc_cidr: Some("10.2.0.0/16".into()), ..raw() };
        assert!(Settings::resolve(r, false).unwrap_err().to_string().contains("at most 6"));
        let r = RawParams {
            vpc_cidr: Some("10.2.0.0/20".into()),
            availability_zones: Some(vec!["us-east-1a".into(), "us-east-1b".into()]),
            ..raw()
        };
        let all = Settings::resolve(r, false).unwrap_err().to_string();
        assert!(
            all.contains("firewall_subnet_cidr (carved for us-east-1b): '10.2.17.0/24' is not inside vpc_cidr"),
            "{all}"
        );
    }

    #[test]
    fn domain_patterns() {
        assert!(is_domain_pattern(".kaggle.com"));
        assert!(is_domain_pattern("pypi.org"));
        assert!(!is_domain_pattern("localhost"));
        assert!(!is_domain_pattern("exa mple.com"));
        assert!(!is_domain_pattern("-bad.com"));
        assert!(!is_domain_pattern(""));
    }

    #[test]
    fn example_configs_are_valid() {
        for (name, text) in [
            ("defaults", include_str!("../examples/defaults.toml")),
            ("eu-west-1", include_str!("../examples/eu-west-1.toml")),
        ] {
            let r: RawParams = toml::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let r = RawParams { region: r.region.clone().or(Some("us-east-1".into())), ..r };
            Settings::resolve(r, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn config_file_unknown_key_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "project = \"x\"\nvpc_cidrr = \"10.0.0.0/16\"\n").unwrap();
        let e = RawParams::from_file(&p).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("vpc_cidrr"), "{e}");
    }
}

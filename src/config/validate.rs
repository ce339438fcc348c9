//! The parameters' rules: `Settings::resolve` checks every one and reports
//! every broken rule, naming the parameter, the value and the rule.

use ipnet::Ipv4Net;

use super::*;

/// Longest account id AWS issues (12 digits): derived names are checked with it.
const ACCOUNT_PLACEHOLDER: &str = "123456789012";

impl Settings {
    /// Resolves raw parameters. `region` must already be known (from the raw
    /// params or the AWS config chain). Only its shape is checked here: whether
    /// the region offers Network Firewall and SageMaker is the pre-flight's
    /// question to AWS (`preflight::services`), which `any_region` turns into a warning.
    pub fn resolve(raw: RawParams, any_region: bool) -> Result<Settings, InvalidInput> {
        let mut errs = Vec::new();
        let project = raw.project.unwrap_or_else(|| DEFAULT_PROJECT.to_string());
        check_project(&project, &mut errs);

        let region = raw.region.unwrap_or_default();
        if region.is_empty() {
            errs.push("region: no region given (--region, AWS_REGION or the AWS config file)".into());
        } else if !is_region_like(&region) {
            errs.push(format!("region: '{region}' is not a region name (e.g. us-east-1)"));
        } else if let Some(typo) = misspelled_direction(&region).filter(|_| !any_region) {
            errs.push(typo);
        }

        // Names derived from a missing or malformed region are not reported again: the
        // region's own error is the root (they are checked with a placeholder region).
        let named_region = if is_region_like(&region) { region.clone() } else { "us-east-1".to_string() };
        let domain_name = raw.domain_name.unwrap_or_else(|| default_domain_name(&project, &named_region));
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
            (None, None) => vec![format!("anfw-user-profile-{named_region}")],
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
            if u.len() > MAX_USER_NAME {
                errs.push(format!(
                    "{users_param}: '{u}' is {} characters; at most {MAX_USER_NAME}, so that its space '{}' fits SageMaker's 63",
                    u.len(),
                    Settings::space_name(u)
                ));
            }
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

        let allowed_domains = raw
            .allowed_domains
            .unwrap_or_else(|| super::DEFAULT_ALLOWED_DOMAINS.iter().map(|d| d.to_string()).collect());
        errs.extend(domain_errors("allowed_domains", &allowed_domains));

        // Ranges of the SageMaker API reference: IdleSettings.IdleTimeoutInMinutes
        // 60..525600; EbsStorageSettings.EbsVolumeSizeInGb 5..16384.
        let idle_timeout_minutes = in_range(
            "idle_timeout_minutes",
            raw.idle_timeout_minutes,
            DEFAULT_IDLE_TIMEOUT_MINUTES,
            60..=525_600,
            &mut errs,
        );
        let space_storage_gib =
            in_range("space_storage_gib", raw.space_storage_gib, DEFAULT_SPACE_STORAGE_GIB, 5..=16_384, &mut errs);
        let app_instance_type = raw.app_instance_type.unwrap_or_else(|| DEFAULT_APP_INSTANCE_TYPE.to_string());
        check_instance_type(&app_instance_type, &mut errs);
        // Checked against the region only when the region itself is sound.
        let app_image = match raw.app_image {
            Some(v) if is_region_like(&region) => match app_image::parse(&v, &region) {
                Ok(img) => Some(img),
                Err(why) => {
                    errs.push(format!("app_image: '{v}' {why}"));
                    None
                }
            },
            _ => None,
        };
        let logging = raw.logging.unwrap_or(true);
        let log_retention_days = raw.log_retention_days.unwrap_or(DEFAULT_LOG_RETENTION_DAYS);
        if !LOG_RETENTION_DAYS.contains(&log_retention_days) {
            let allowed: Vec<String> = LOG_RETENTION_DAYS.iter().map(i64::to_string).collect();
            errs.push(format!(
                "log_retention_days: {log_retention_days} is not a retention CloudWatch Logs accepts (one of {})",
                allowed.join(", ")
            ));
        }
        let expect_account = raw.expect_account;
        if let Some(a) = &expect_account
            && !(a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
        {
            errs.push(format!("expect_account: '{a}' is not an AWS account id (12 digits)"));
        }

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
            idle_timeout_minutes,
            space_storage_gib,
            app_instance_type,
            app_image,
            expect_account,
            logging,
            log_retention_days: log_retention_days as i32,
            network_isolation: raw.network_isolation.unwrap_or(false),
            any_region,
        })
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
            // A wildcard is how other tools say it; the firewall's domain list says it with a leading dot.
            let hint = match d.strip_prefix("*.") {
                Some(rest) if is_domain_pattern(rest) => {
                    format!("; write '.{rest}' (a leading dot matches {rest} and every name under it)")
                }
                _ => String::new(),
            };
            errs.push(format!(
                "{param}: '{d}' is not a domain name or a '.suffix' (letters, digits, '-', dot-separated labels){hint}"
            ));
        }
    }
    errs
}

/// The domain's name when none is given: the original stack's for the
/// default project, else derived from the project, so that a second stack
/// (`--project p3`) does not collide with the first on the domain's name.
pub fn default_domain_name(project: &str, region: &str) -> String {
    if project == DEFAULT_PROJECT {
        format!("sagemaker-anfw-domain-{region}")
    } else {
        format!("{project}-domain-{region}")
    }
}

/// The rule that no domain given admits all of AWS: none is one of
/// `AWS_WIDE_SUFFIXES` (a host or a narrower suffix names what it admits). Applied to what the user gives
/// (flags, config file, `firewall allow`), not to a record: a stack built
/// before keeps resolving, and `verify` names the suffix
/// (`firewall.allow_list`).
pub fn aws_wide_errors(param: &str, domains: &[String]) -> Vec<String> {
    domains
        .iter()
        .filter(|d| super::AWS_WIDE_SUFFIXES.contains(&d.as_str()))
        .map(|d| {
            format!(
                "{param}: '{d}' admits every AWS endpoint of every region (any account's bucket, past the S3 endpoint's policy); the stack reaches AWS through its VPC endpoints: name the hosts you need instead"
            )
        })
        .collect()
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

/// Longest user profile name: its space `{user}-space` must fit SageMaker's 63.
const MAX_USER_NAME: usize = 57;

fn in_range(
    param: &str,
    value: Option<i64>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
    errs: &mut Vec<String>,
) -> i32 {
    let v = value.unwrap_or(default);
    if !range.contains(&v) {
        errs.push(format!("{param}: {v} is outside {}..={} (SageMaker's range)", range.start(), range.end()));
        return default as i32;
    }
    v as i32
}

/// An instance type SageMaker's `AppInstanceType` lists (botocore's
/// sagemaker service model, the enum the SDK carries), `ml.` ones only.
fn check_instance_type(t: &str, errs: &mut Vec<String>) {
    use aws_sdk_sagemaker::types::AppInstanceType;
    if !t.starts_with("ml.") || !AppInstanceType::values().contains(&t) {
        errs.push(format!(
            "app_instance_type: '{t}' is not a SageMaker app instance type (e.g. ml.t3.medium, ml.m5.large, ml.g5.xlarge)"
        ));
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

/// Every region's code ends in a compass direction and a number
/// (`us-east-1`, `ap-southeast-7`, `us-gov-west-1`, `mx-central-1`): a region
/// whose next-to-last part is none is a typo, caught here because the first
/// call (STS, in that region) would only fail to connect. The nearest
/// direction is suggested; `--any-region` lets a region of another form through.
fn misspelled_direction(region: &str) -> Option<String> {
    const DIRECTIONS: &[&str] =
        &["east", "west", "north", "south", "central", "northeast", "southeast", "northwest", "southwest"];
    let parts: Vec<&str> = region.split('-').collect();
    let (word, number) = (parts[parts.len() - 2], parts[parts.len() - 1]);
    if DIRECTIONS.contains(&word) && number.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let near = DIRECTIONS.iter().map(|d| (edit_distance(d, word), *d)).min().filter(|(n, _)| *n <= 2);
    let suggestion = match near {
        Some((_, d)) => {
            let mut fixed = parts.clone();
            fixed[parts.len() - 2] = d;
            format!(" (did you mean {}?)", fixed.join("-"))
        }
        None => String::new(),
    };
    Some(format!(
        "region: '{region}' is not a region name: a region's code ends in a direction (east, west, north, south, central, northeast, ...) and a number{suggestion}; pass --any-region if it really is one"
    ))
}

/// Levenshtein distance of two short words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(row[j + 1]) };
            prev = cur;
        }
    }
    row[b.len()]
}

fn is_region_like(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// A domain (`example.com`) or a suffix (`.example.com`), as Network Firewall
/// domain lists take them.
pub(super) fn is_domain_pattern(d: &str) -> bool {
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

use super::validate::is_domain_pattern;
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
    assert_eq!(s.allowed_domains, vec![".kaggle.com", "pypi.org", "files.pythonhosted.org", "conda.anaconda.org"]);
    assert!(
        s.allowed_domains.iter().all(|d| aws_wide_errors("allowed_domains", std::slice::from_ref(d)).is_empty()),
        "the default admits no suffix of all of AWS"
    );
    assert_eq!(s.bucket_name("123456789012", "data"), "sagemaker-studio-anfw-123456789012-us-east-1-data");
}

#[test]
fn another_project_gets_its_own_domain_name() {
    let s = Settings::resolve(RawParams { project: Some("p3".into()), ..raw() }, false).unwrap();
    assert_eq!(s.domain_name, "p3-domain-us-east-1");
    // The longest project the role's name allows still gives a valid domain name.
    let long = "a".repeat(24);
    let s = Settings::resolve(
        RawParams { project: Some(long.clone()), region: Some("ap-southeast-2".into()), ..raw() },
        false,
    )
    .unwrap();
    assert_eq!(s.domain_name, format!("{long}-domain-ap-southeast-2"));
    // Given, it is kept whatever the project.
    let s = Settings::resolve(RawParams { project: Some("p3".into()), domain_name: Some("d".into()), ..raw() }, false)
        .unwrap();
    assert_eq!(s.domain_name, "d");
}

#[test]
fn a_missing_region_is_one_error_not_a_cascade() {
    let e = Settings::resolve(RawParams::default(), false).unwrap_err().to_string();
    assert!(e.contains("region: no region given"), "{e}");
    assert_eq!(e.matches(": ").count(), 1, "no knock-on errors: {e}");
}

#[test]
fn suffixes_of_all_of_aws_are_refused_by_name() {
    let given: Vec<String> = [".kaggle.com", ".amazonaws.com", ".aws.amazon.com", "s3.us-east-1.amazonaws.com"]
        .iter()
        .map(|d| d.to_string())
        .collect();
    let errs = aws_wide_errors("allowed_domains", &given);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("allowed_domains: '.amazonaws.com' admits every AWS endpoint"), "{errs:?}");
    assert!(errs[1].contains("'.aws.amazon.com'"), "{errs:?}");
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
    // Offline, only the shape: whether a region offers Network Firewall and
    // SageMaker is the pre-flight's question to AWS (tests/preflight.rs).
    for region in ["sa-east-1", "ca-central-1", "ap-southeast-7", "mx-central-1"] {
        let r = RawParams { region: Some(region.into()), ..Default::default() };
        let s = Settings::resolve(r, false).unwrap_or_else(|e| panic!("{region}: {e}"));
        assert!(!s.any_region);
    }
    let r = RawParams { region: Some("sa-east-1".into()), ..Default::default() };
    assert!(Settings::resolve(r, true).unwrap().any_region);
    for bad in ["us_east_1", "useast1", "US-EAST-1"] {
        let r = RawParams { region: Some(bad.into()), ..Default::default() };
        let e = Settings::resolve(r, false).unwrap_err().to_string();
        assert!(e.contains(&format!("region: '{bad}' is not a region name")), "{e}");
    }
    // Every region code ends in a direction and a number: a misspelled direction is a typo, named with
    // the nearest region of that form; a code of another form passes with --any-region.
    for region in ["us-gov-west-1", "eusc-de-east-1", "cn-northwest-1", "ap-northeast-3"] {
        let r = RawParams { region: Some(region.into()), ..Default::default() };
        Settings::resolve(r, false).unwrap_or_else(|e| panic!("{region}: {e}"));
    }
    for (typo, near) in
        [("us-eats-1", "us-east-1"), ("eu-sentral-1", "eu-central-1"), ("ap-southest-2", "ap-southeast-2")]
    {
        let r = RawParams { region: Some(typo.into()), ..Default::default() };
        let e = Settings::resolve(r, false).unwrap_err().to_string();
        assert!(e.contains(&format!("region: '{typo}' is not a region name")), "{e}");
        assert!(e.contains(&format!("(did you mean {near}?)")), "{e}");
    }
    let r = RawParams { region: Some("xx-moon-1".into()), ..Default::default() };
    let e = Settings::resolve(r.clone(), false).unwrap_err().to_string();
    assert!(e.contains("--any-region") && !e.contains("did you mean"), "{e}");
    Settings::resolve(r, true).unwrap();
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
        ("defaults", include_str!("../../examples/defaults.toml")),
        ("eu-west-1", include_str!("../../examples/eu-west-1.toml")),
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

#[test]
fn a_wildcard_domain_is_refused_with_the_leading_dot_form() {
    let errs = domain_errors("allowed_domains", &["*.github.com".to_string()]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("'*.github.com' is not a domain name") && errs[0].contains("write '.github.com'"),
        "{errs:?}"
    );
}

/// README.md's table of config-file keys ("### Every config-file key") is the
/// parser's: the same keys as `RawParams` (the one declaration that is the
/// TOML key and the flag), each with the flag clap defines, a type the parser
/// accepts (and no other), and the default its flag's help states. A key
/// added without a row, or a row without a key, fails here.
#[test]
fn readme_config_key_table_is_the_parsers() {
    use clap::Args;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split_once("### Every config-file key")
        .expect("README.md has the section '### Every config-file key'")
        .1;
    let rows: Vec<Vec<String>> = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| l.trim().trim_matches('|').split(" | ").map(|c| c.trim().to_string()).collect())
        .collect();
    let unquote = |c: &str| c.trim_matches('`').to_string();
    let documented: std::collections::BTreeSet<String> = rows.iter().map(|r| unquote(&r[0])).collect();
    assert_eq!(documented.len(), rows.len(), "a key has two rows");
    let parsed: std::collections::BTreeSet<String> = match serde_json::to_value(RawParams::default()).unwrap() {
        serde_json::Value::Object(m) => m.keys().cloned().collect(),
        _ => unreachable!(),
    };
    let undocumented: Vec<&String> = parsed.difference(&documented).collect();
    let unknown: Vec<&String> = documented.difference(&parsed).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "README.md's table of config-file keys: keys the parser accepts with no row: {undocumented:?}; rows for keys it does not accept: {unknown:?}"
    );

    let cmd = RawParams::augment_args(clap::Command::new("t"));
    for r in &rows {
        assert_eq!(r.len(), 5, "row {r:?}: key | type | default | flag | meaning");
        let key = unquote(&r[0]);
        let flag = unquote(&r[3]);
        assert_eq!(flag, format!("--{}", key.replace('_', "-")), "{key}'s flag");
        let arg = cmd.get_arguments().find(|a| a.get_long() == Some(&flag[2..])).unwrap_or_else(|| panic!("no {flag}"));
        // The type: a value of it parses, a value of every other type does not.
        let samples = [("text", "\"x\""), ("integer", "7"), ("boolean", "true"), ("list of text", "[\"x\"]")];
        assert!(samples.iter().any(|(t, _)| *t == r[1]), "{key}: unknown type {}", r[1]);
        for (t, v) in samples {
            let ok = toml::from_str::<RawParams>(&format!("{key} = {v}")).is_ok();
            assert_eq!(ok, t == r[1], "{key} = {v} ({t}) parses: {ok}; README says {}", r[1]);
        }
        // The default: the one the flag's help states, or none.
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let stated = help.split_once("[default: ").map(|(_, d)| d.trim_end_matches(['.', ']']).to_string());
        let cell = r[2].replace('`', "");
        match stated {
            Some(d) => assert_eq!(cell, d, "{key}'s default: README against --help"),
            None => assert_eq!(cell, "none", "{key}: the help states no default, the README says {cell}"),
        }
        assert!(!r[4].is_empty(), "{key} has no meaning");
    }
}

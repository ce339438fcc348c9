//! Where the state is kept: `--state FILE|s3://BUCKET/KEY` (or
//! `PROVISION_STATE`), parsed and checked before any store is opened.

use std::path::{Path, PathBuf};

/// Where the state is kept: `--state` (or `PROVISION_STATE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

impl Location {
    /// `s3://BUCKET/KEY` or a file path. A key that is empty or ends with
    /// `/` is a prefix: the state is `<prefix><project>.json` in it, as the
    /// default file is `state/<project>.json`.
    pub fn parse(s: &str, project: &str) -> std::result::Result<Location, String> {
        let Some(rest) = s.strip_prefix("s3://") else {
            if s.is_empty() {
                return Err("--state: empty location".into());
            }
            return Ok(Location::File(PathBuf::from(s)));
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket_name(bucket).map_err(|e| format!("--state '{s}': {e}"))?;
        let key = if key.is_empty() || key.ends_with('/') { format!("{key}{project}.json") } else { key.to_string() };
        if key.len() > 1000 || key.contains("//") {
            return Err(format!("--state '{s}': '{key}' is not a usable object key"));
        }
        Ok(Location::S3 { bucket: bucket.to_string(), key })
    }

    /// The default: `state/<project>.json`.
    pub fn default_for(project: &str) -> Location {
        Location::File(Path::new("state").join(format!("{project}.json")))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// S3's rules for a general purpose bucket's name (S3 user guide, "General
/// purpose bucket naming rules"): 3 to 63 characters, lowercase letters,
/// digits, dots and hyphens, beginning and ending with a letter or digit,
/// not shaped like an IP address.
pub fn check_bucket_name(b: &str) -> std::result::Result<(), String> {
    let ok_chars = b.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let edges = b.starts_with(|c: char| c.is_ascii_alphanumeric()) && b.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !(3..=63).contains(&b.len())
        || !ok_chars
        || !edges
        || b.contains("..")
        || b.parse::<std::net::Ipv4Addr>().is_ok()
    {
        return Err(format!(
            "'{b}' is not a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_as_files_or_s3_objects_with_a_prefix_meaning_the_projects_key() {
        assert_eq!(Location::parse("state/x.json", "p").unwrap(), Location::File("state/x.json".into()));
        assert_eq!(
            Location::parse("s3://team-state/envs/prod.json", "p").unwrap(),
            Location::S3 { bucket: "team-state".into(), key: "envs/prod.json".into() }
        );
        assert_eq!(
            Location::parse("s3://team-state/envs/", "p").unwrap(),
            Location::S3 { bucket: "team-state".into(), key: "envs/p.json".into() }
        );
        assert_eq!(
            Location::parse("s3://team-state", "p").unwrap(),
            Location::S3 { bucket: "team-state".into(), key: "p.json".into() }
        );
        for bad in [
            "s3://Team_State/x",
            "s3://ab/x",
            "s3://-x-/k",
            "s3://192.168.1.1/k",
            "s3://a..b/k",
            "s3://ok-name/a//b",
            "",
        ] {
            assert!(Location::parse(bad, "p").is_err(), "{bad}");
        }
        assert_eq!(Location::default_for("p").to_string(), "state/p.json");
    }
}

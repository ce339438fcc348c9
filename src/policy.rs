//! Policy documents as AWS returns them (IAM URL-encodes them, EC2 may
//! return the endpoint policy as a JSON string of JSON): parse, read their
//! statements, and compare them in one normal form (`normalized`).

use anyhow::{Context, Result};
use serde_json::Value;

/// A policy document as AWS returns it: IAM URL-encodes documents (RFC
/// 3986), EC2 may return the endpoint policy as a JSON string of JSON.
pub fn parse(doc: &str) -> Result<Value> {
    let v: Value = match serde_json::from_str(doc) {
        Ok(v) => v,
        Err(_) => {
            serde_json::from_str(&percent_decode(doc)).with_context(|| format!("policy document is not JSON: {doc}"))?
        }
    };
    match v {
        Value::String(inner) => parse(&inner),
        v => Ok(v),
    }
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex =
            b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The statements of a policy (`Statement` may be one object or a list).
pub fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    }
}

/// A policy element that is a string or a list of strings.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// The elements a statement is compared by, besides `Condition`.
const COMPARED: [&str; 7] = ["Effect", "Principal", "NotPrincipal", "Action", "Resource", "NotAction", "NotResource"];

/// A statement in the one form statements are compared in
/// (`same_statement`): the elements of `COMPARED`, a list-or-string one as
/// a sorted list, any other value (a `Principal` object) as it is, a
/// missing one as null; `Condition` as it is when there is one; nothing
/// else (not `Sid`).
pub fn normalized(s: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in COMPARED {
        let v = match s.get(k) {
            Some(Value::String(_) | Value::Array(_)) => {
                let mut v = strings(s.get(k));
                v.sort();
                Value::from(v)
            }
            other => other.cloned().unwrap_or(Value::Null),
        };
        out.insert(k.to_string(), v);
    }
    if let Some(c) = s.get("Condition") {
        out.insert("Condition".to_string(), c.clone());
    }
    Value::Object(out)
}

/// Statements compared with list-or-string elements normalised (`normalized`).
pub fn same_statement(a: &Value, b: &Value) -> bool {
    normalized(a) == normalized(b)
}

/// A statement with `Principal: "*"` written `{"AWS": "*"}`, as AWS may
/// return it in a bucket policy, where the two mean the same; any other
/// statement as it is. `same_statement` keeps the two apart: for some
/// services they differ.
pub fn star_principal_as_aws(s: &Value) -> Value {
    let mut s = s.clone();
    if let Some(o) = s.as_object_mut()
        && o.get("Principal") == Some(&Value::from("*"))
    {
        o.insert("Principal".into(), serde_json::json!({"AWS": "*"}));
    }
    s
}

/// The statements of `doc` that are none of `expected`'s, each as
/// `summary` says it.
pub fn extra_statements(doc: &Value, expected: &Value) -> Vec<String> {
    let want = statements(expected);
    statements(doc).into_iter().filter(|s| !want.iter().any(|w| same_statement(s, w))).map(summary).collect()
}

/// One line naming what a statement grants or denies: `Allow
/// AWS:arn:aws:iam::111122223333:root s3:GetObject on arn:aws:s3:::b/*`,
/// with its Sid and condition when it has them.
pub fn summary(s: &Value) -> String {
    let list = |k: &str| match s.get(k) {
        Some(v @ (Value::String(_) | Value::Array(_))) => Some(strings(Some(v)).join(",")),
        Some(v) => Some(v.to_string()),
        None => None,
    };
    let principal = |k: &str| match s.get(k) {
        Some(Value::Object(p)) => Some(
            p.iter()
                .flat_map(|(kind, v)| strings(Some(v)).into_iter().map(move |w| format!("{kind}:{w}")))
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => list(k),
    };
    let mut out = String::new();
    if let Some(sid) = s.get("Sid").and_then(Value::as_str) {
        out.push_str(&format!("[{sid}] "));
    }
    out.push_str(s.get("Effect").and_then(Value::as_str).unwrap_or("no Effect"));
    out.push(' ');
    out.push_str(&match (principal("Principal"), principal("NotPrincipal")) {
        (Some(p), _) => p,
        (None, Some(n)) => format!("everyone but {n}"),
        (None, None) => "(no principal)".into(),
    });
    out.push(' ');
    out.push_str(&match (list("Action"), list("NotAction")) {
        (Some(a), _) => a,
        (None, Some(n)) => format!("every action but {n}"),
        (None, None) => "(no action)".into(),
    });
    match (list("Resource"), list("NotResource")) {
        (Some(r), _) => out.push_str(&format!(" on {r}")),
        (None, Some(n)) => out.push_str(&format!(" on everything but {n}")),
        (None, None) => {}
    }
    if let Some(c) = s.get("Condition") {
        out.push_str(&format!(" when {c}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_read_plain_url_encoded_or_as_json_strings() {
        let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let want: Value = serde_json::from_str(plain).unwrap();
        assert_eq!(parse(plain).unwrap(), want);
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(parse(encoded).unwrap(), want);
        let string = serde_json::to_string(plain).unwrap();
        assert_eq!(parse(&string).unwrap(), want);
        assert!(parse("nope").is_err());
    }

    #[test]
    fn extra_statements_are_the_ones_not_expected_each_summarised() {
        let expected = serde_json::json!({"Statement": [
            {"Sid": "Stack", "Effect": "Deny", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": "arn:aws:s3:::b/*", "Condition": {"StringNotEquals": {"aws:sourceVpce": "vpce-1"}}}
        ]});
        // The same statement, lists reordered and without its Sid, is not an extra.
        let doc = serde_json::json!({"Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": ["s3:PutObject", "s3:GetObject"],
             "Resource": ["arn:aws:s3:::b/*"], "Condition": {"StringNotEquals": {"aws:sourceVpce": "vpce-1"}}},
            {"Sid": "Other", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]},
             "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "NotAction": "s3:DeleteBucket",
             "NotResource": "arn:aws:s3:::x", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
        ]});
        assert_eq!(
            extra_statements(&doc, &expected),
            [
                "[Other] Allow AWS:arn:aws:iam::111122223333:root s3:* on arn:aws:s3:::b/*",
                "Allow everyone but AWS:arn:aws:iam::1:root every action but s3:DeleteBucket on everything but \
                 arn:aws:s3:::x when {\"Bool\":{\"aws:SecureTransport\":\"true\"}}",
            ]
        );
        assert!(extra_statements(&expected, &expected).is_empty());
        // A condition or an effect of its own makes a statement another one.
        let mut changed = expected["Statement"][0].clone();
        changed["Condition"] = serde_json::json!({"StringNotEquals": {"aws:sourceVpce": "vpce-2"}});
        assert_eq!(extra_statements(&serde_json::json!({"Statement": [changed]}), &expected).len(), 1);
    }

    #[test]
    fn a_star_principal_is_its_aws_form_only_where_asked() {
        let star = serde_json::json!({"Sid": "A", "Effect": "Deny", "Principal": "*", "Action": "s3:*"});
        let aws = serde_json::json!({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:*"]});
        // Some services tell the two apart: a plain comparison does too.
        assert!(!same_statement(&star, &aws));
        assert!(same_statement(&star_principal_as_aws(&star), &aws));
        assert_eq!(normalized(&star_principal_as_aws(&star)), normalized(&star_principal_as_aws(&aws)));
        // Statements are the same exactly when their normal forms are.
        assert!(same_statement(&star, &serde_json::json!({"Effect": "Deny", "Principal": "*", "Action": ["s3:*"]})));
        assert_ne!(normalized(&star), normalized(&serde_json::json!({"Effect": "Deny", "Principal": "*"})));
    }
}

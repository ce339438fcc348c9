//! Policy documents as AWS returns them (IAM URL-encodes them, EC2 may
//! return the endpoint policy as a JSON string of JSON): parse, and read
//! their statements.

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

/// Statements compared with list-or-string elements normalised.
pub fn same_statement(a: &Value, b: &Value) -> bool {
    let key = |s: &Value| {
        ["Effect", "Principal", "Action", "Resource", "NotAction", "NotResource"].map(|k| match s.get(k) {
            Some(Value::String(_) | Value::Array(_)) => {
                let mut v = strings(s.get(k));
                v.sort();
                Value::from(v)
            }
            other => other.cloned().unwrap_or(Value::Null),
        })
    };
    key(a) == key(b) && a.get("Condition") == b.get("Condition")
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
}

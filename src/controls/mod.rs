//! The seed's security controls as commands. The original sample was a
//! security demonstration whose claims were checked by hand and whose demo
//! edited the S3 endpoint policy and the firewall's allow-list in the
//! console; here each is a command:
//!
//! - `verify`: reads the live stack and checks every control (`verify.rs`);
//! - `jumpstart enable|disable`: the S3 endpoint's JumpStart statement
//!   (`jumpstart.rs`);
//! - `firewall list|allow|remove`: the rule group's domain allow-list
//!   (`firewall.rs`);
//! - `iam-policy`: the least-privilege policy an operator needs, from the
//!   one list of operations the tool calls (`operations.rs`).

use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cli::FirewallAction;
use crate::resources::Ctx;

mod firewall;
pub use firewall::check_domains;
mod jumpstart;
mod operations;
mod verify;

pub async fn verify(ctx: Arc<Ctx>, json: bool) -> Result<()> {
    verify::run(&ctx, json).await
}

pub async fn jumpstart(ctx: Arc<Ctx>, enable: bool) -> Result<()> {
    jumpstart::run(&ctx, enable).await
}

pub async fn firewall(ctx: Arc<Ctx>, action: &FirewallAction) -> Result<()> {
    firewall::run(&ctx, action).await
}

/// Prints the operator policy; `RUST_LOG=info` also says which operation
/// needs each action, and when it is called.
pub fn iam_policy() -> Result<()> {
    for op in operations::OPS {
        let when = match op.when {
            operations::When::Run => "normal path",
            operations::When::Conditional(why) | operations::When::Leftover(why) => why,
        };
        tracing::info!("{} needs {} ({when})", op.call, op.actions.join(", "));
    }
    println!("{}", serde_json::to_string_pretty(&operations::policy())?);
    Ok(())
}

/// A policy document as AWS returns it: IAM URL-encodes documents (RFC
/// 3986), EC2 may return the endpoint policy as a JSON string of JSON.
pub fn parse_policy(doc: &str) -> Result<Value> {
    let v: Value = match serde_json::from_str(doc) {
        Ok(v) => v,
        Err(_) => {
            serde_json::from_str(&percent_decode(doc)).with_context(|| format!("policy document is not JSON: {doc}"))?
        }
    };
    match v {
        Value::String(inner) => parse_policy(&inner),
        v => Ok(v),
    }
}

fn percent_decode(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_read_plain_url_encoded_or_as_json_strings() {
        let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let want: Value = serde_json::from_str(plain).unwrap();
        assert_eq!(parse_policy(plain).unwrap(), want);
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(parse_policy(encoded).unwrap(), want);
        let string = serde_json::to_string(plain).unwrap();
        assert_eq!(parse_policy(&string).unwrap(), want);
        assert!(parse_policy("nope").is_err());
    }
}

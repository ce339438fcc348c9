//! `provision iam-policy`: the least-privilege policy an operator needs,
//! from the one list of operations the tool calls (`crate::operations`),
//! scoped to the stack's project, region and account (`*` for what is not
//! known); with a state in S3, also the state's calls, scoped to its key.

use std::time::Duration;

use anyhow::Result;

use super::resolve::{Invocation, loaded};
use crate::aws::Clients;
use crate::operations::{self, Scoping, When};
use crate::state::Location;

/// The stack the policy is for: the project (flag, config file, default),
/// the region (flag, config file, the AWS config chain) and the account the
/// credentials belong to (STS), each `*` when unknown. The only AWS call is
/// STS GetCallerIdentity, and only with credentials.
async fn scoping(inv: &Invocation<'_>) -> Scoping {
    let project = inv.project.clone();
    let sdk = loaded(&inv.conn(inv.region())).await;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "*".into());
    let account = match tokio::time::timeout(Duration::from_secs(15), Clients::new(&sdk).account()).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            tracing::info!("account unknown, the policy says `*`: {e:#}");
            "*".into()
        }
        Err(_) => "*".into(),
    };
    Scoping { project, region, account }
}

/// Prints the operator policy, as a JSON list of managed policy documents
/// (`operations::documents`); `RUST_LOG=info` also says which operation
/// needs each action, and when it is called.
pub async fn iam_policy(inv: &Invocation<'_>) -> Result<()> {
    for op in operations::OPS {
        let when = match op.when {
            When::Run => "normal path",
            When::Conditional(why) | When::Leftover(why) => why,
        };
        tracing::info!("{} needs {} ({when})", op.call, op.actions.join(", "));
    }
    let at = inv.location()?;
    let scoping = scoping(inv).await;
    let policy = match at {
        Location::File(_) => operations::policy_for(&scoping),
        Location::S3 { bucket, key } => {
            for op in operations::STATE_OPS.iter().filter(|o| o.on != operations::StateOn::Init) {
                tracing::info!("{} needs {} ({})", op.call, op.actions.join(", "), op.why);
            }
            operations::policy_with_state(&scoping, &bucket, &key, false)
        }
    };
    // More than one managed policy holds (IAM's 6,144 characters each): a list of documents.
    println!("{}", serde_json::to_string_pretty(&operations::documents(&policy))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawParams, Settings};

    /// The scoped ARNs name the resources the stack's own names give
    /// (`config::Settings`, the firewall kinds), and every ARN with a
    /// region and account field has them filled.
    #[test]
    fn the_scoped_policy_names_the_stacks_resources() {
        let raw = RawParams { region: Some("eu-west-1".into()), project: Some("p1".into()), ..Default::default() };
        let s = Settings::resolve(raw, false).unwrap();
        let account = "111122223333";
        let p = operations::policy_for(&Scoping {
            project: s.project.clone(),
            region: s.region.clone(),
            account: account.into(),
        });
        let resources: Vec<String> = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|st| match &st["Resource"] {
                serde_json::Value::Array(a) => a.iter().map(|r| r.as_str().unwrap().to_string()).collect(),
                r => vec![r.as_str().unwrap().to_string()],
            })
            .collect();
        for want in [
            format!("arn:aws:s3:::{}", s.bucket_name(account, "data")),
            format!("arn:aws:s3:::{}/*", s.bucket_name(account, "models")),
            format!("arn:aws:iam::{account}:role/p1-eu-west-1-*-role"), // the execution and flow logs roles
            format!("arn:aws:iam::{account}:policy/{}", s.policy_name()),
            format!("arn:aws:network-firewall:eu-west-1:{account}:firewall/network-firewall-p1"),
            format!("arn:aws:network-firewall:eu-west-1:{account}:stateful-rulegroup/domain-allow-p1"),
            format!("arn:aws:kms:eu-west-1:{account}:alias/kms-cmk-p1"),
            format!("arn:aws:kms:eu-west-1:{account}:key/*"),
        ] {
            assert!(resources.contains(&want), "{want} not in {resources:#?}");
        }
        for r in resources.iter().filter(|r| *r != "*") {
            assert!(!r.contains(":*:") && !r.contains("::*:") && !r.contains(":::*"), "{r} is not scoped");
        }
        // Without a region or an account, those parts are wildcards.
        let any = operations::policy_for(&Scoping { project: "p1".into(), region: "*".into(), account: "*".into() });
        assert!(any.to_string().contains("arn:aws:iam::*:role/p1-*-*-role"), "{any}");
    }
}

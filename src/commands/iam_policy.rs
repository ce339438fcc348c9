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
    // Said on stderr, so that the policy on stdout stays a document to attach.
    if region == "*" {
        crate::progress::say(
            "note: no region given (--region, the config file, AWS_REGION or the AWS config): the policy names every region (`*`); give the stack's region to scope it",
        );
    }
    if account == "*" {
        crate::progress::say(
            "note: no credentials answered sts:GetCallerIdentity: the policy names any account (`*`); run it with credentials of the stack's account to scope it",
        );
    }
    Scoping { project, region, account }
}

/// Prints the operator policy, as a JSON list of managed policy documents
/// (`operations::documents`); `RUST_LOG=info` also says which operation
/// needs each action, and when it is called; `--explain` prints that per
/// action instead of the policy (`explain`).
pub async fn iam_policy(inv: &Invocation<'_>, explain_it: bool) -> Result<()> {
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
    if explain_it {
        print!("{}", explain(&policy));
        return Ok(());
    }
    // More than one managed policy holds (IAM's 6,144 characters each): a list of documents.
    println!("{}", serde_json::to_string_pretty(&operations::documents(&policy))?);
    Ok(())
}

/// For each action of `policy`, in the order of its statements: where it is granted (the
/// statement's Sid, resources and condition), then every call that needs it (the operations
/// table, `operations::OPS` and `STATE_OPS`: the call itself, or authorised with it: tags,
/// a passed role, a dependent action or a documented extra), and when that call is made.
pub fn explain(policy: &serde_json::Value) -> String {
    let when = |w: When| match w {
        When::Run => "on the normal path of up, down, verify, jumpstart and firewall".to_string(),
        When::Conditional(why) => format!("only: {why}"),
        When::Leftover(why) => format!("when something is left over: {why}"),
    };
    let mut out = String::new();
    for st in crate::policy::statements(policy) {
        let sid = st["Sid"].as_str().unwrap_or("(no Sid)");
        let resources = crate::policy::strings(st.get("Resource")).join(", ");
        let condition = st.get("Condition").map(|c| format!(" if {c}")).unwrap_or_default();
        for action in crate::policy::strings(st.get("Action")) {
            out.push_str(&format!("{action}  [{sid}: {resources}{condition}]\n"));
            let mut needed = false;
            for op in operations::OPS.iter().filter(|o| o.actions.contains(&action.as_str())) {
                let how = if op.call == action { "called" } else { "authorised with" };
                out.push_str(&format!("    {how} {}: {}\n", op.call, when(op.when)));
                needed = true;
            }
            for op in operations::STATE_OPS.iter().filter(|o| o.actions.contains(&action.as_str())) {
                out.push_str(&format!("    the S3 state's {}: {}\n", op.call, op.why));
                needed = true;
            }
            if !needed {
                out.push_str("    (no call in the operations table needs it)\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawParams, Settings};

    /// The scoped ARNs name the resources the stack's own names give
    /// (`config::Settings`, the firewall kinds), and every ARN with a
    /// region and account field has them filled.
    /// Every action of the policy is explained by at least one call, with when it is made;
    /// an action authorised on the side names the call it comes with.
    #[test]
    fn explain_names_for_each_action_the_calls_that_need_it() {
        let p = operations::policy_with_state(&Scoping::any(), "team-state", "k.json", false);
        let text = explain(&p);
        assert!(!text.contains("no call in the operations table"), "{text}");
        let actions: usize =
            crate::policy::statements(&p).iter().map(|s| crate::policy::strings(s.get("Action")).len()).sum();
        assert_eq!(text.lines().filter(|l| !l.starts_with(' ')).count(), actions, "{text}");
        let block = |action: &str| {
            let start = text.find(&format!("{action}  [")).unwrap_or_else(|| panic!("{action} not explained: {text}"));
            text[start..].lines().skip(1).take_while(|l| l.starts_with(' ')).collect::<Vec<_>>().join("\n")
        };
        assert!(block("ec2:CreateVpc").contains("called ec2:CreateVpc: on the normal path"), "{text}");
        assert!(block("ec2:CreateTags").contains("authorised with ec2:CreateVpc"), "{text}");
        assert!(block("iam:UpdateAssumeRolePolicy").contains("only: iam_role restore"), "{text}");
        assert!(block("s3:PutObject").contains("the S3 state's"), "{text}");
    }

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
        // AWS's public parameters name no account: the region's services, asked where they answer.
        let public = "arn:aws:ssm:eu-west-1:*:parameter/aws/service/global-infrastructure/regions/eu-west-1/services/*";
        assert!(resources.iter().any(|r| r == public), "{public} not in {resources:#?}");
        for r in resources.iter().filter(|r| *r != "*" && *r != public) {
            assert!(!r.contains(":*:") && !r.contains("::*:") && !r.contains(":::*"), "{r} is not scoped");
        }
        // Without a region or an account, those parts are wildcards.
        let any = operations::policy_for(&Scoping { project: "p1".into(), region: "*".into(), account: "*".into() });
        assert!(any.to_string().contains("arn:aws:iam::*:role/p1-*-*-role"), "{any}");
    }
}

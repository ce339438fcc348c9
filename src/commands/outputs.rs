//! `provision outputs`: the original stack's output keys, read from the
//! state (no AWS call but the state's read when it is in S3).

use anyhow::{Context, Result, bail};

use super::resolve::Invocation;
use crate::error::{EXIT_INVALID, Exit};
use crate::state;
use crate::step_id::StepId;

/// The original stack's output keys, read from the state file (no AWS call).
pub fn output_values(doc: &state::StateDoc) -> Vec<(&'static str, Option<String>)> {
    let id = |s: StepId| doc.steps.get(s.as_str()).and_then(|r| r.id.clone());
    // The primary user profile's id is "{domain}/{name}".
    let user = id(StepId::USER).and_then(|u| u.split_once('/').map(|(_, name)| name.to_string()));
    let mut values = vec![
        ("VPCId", id(StepId::VPC)),
        ("S3VPCEndpointId", id(StepId::VPCE_S3)),
        ("SageMakerStudioSubnetId", id(StepId::SUBNET_SAGEMAKER)),
        ("SageMakerStudioSecurityGroupId", id(StepId::SG_SAGEMAKER)),
        ("SageMakerExecutionRoleArn", id(StepId::IAM_ROLE)),
        ("KMSKeyEBSArn", id(StepId::KMS_EBS)),
        ("KMSKeyS3bucketsArn", id(StepId::KMS_S3)),
        ("SageMakerS3bucketData", id(StepId::BUCKET_DATA)),
        ("SageMakerS3bucketModels", id(StepId::BUCKET_MODELS)),
        ("SageMakerStudioDomainId", id(StepId::DOMAIN)),
        ("UserProfileName", user),
        // Today's Studio: the primary user's private JupyterLab space ("{domain}/{space}").
        ("SpaceName", id(StepId::SPACE).and_then(|u| u.split_once('/').map(|(_, name)| name.to_string()))),
    ];
    // Logging (issue 14): the log groups and their key, when the stack has them.
    for (key, step) in [
        ("VpcFlowLogGroupName", StepId::LOGS_VPC_FLOW),
        ("FirewallAlertLogGroupName", StepId::LOGS_FIREWALL_ALERT),
        ("FirewallFlowLogGroupName", StepId::LOGS_FIREWALL_FLOW),
        ("KMSKeyLogsArn", StepId::KMS_LOGS),
    ] {
        if let Some(v) = id(step) {
            values.push((key, Some(v)));
        }
    }
    // Several users: every user's space, primary first.
    let mut spaces: Vec<(&String, String)> = doc
        .steps
        .iter()
        .filter(|(k, _)| StepId::recorded(k.as_str()).is_zone_of(&StepId::SPACE))
        .filter_map(|(k, r)| r.id.as_ref().and_then(|id| id.split_once('/')).map(|(_, name)| (k, name.to_string())))
        .collect();
    spaces.sort_by_key(|(k, _)| (k.as_str() != StepId::SPACE.as_str(), k.to_string()));
    if spaces.len() > 1 {
        values.push(("SpaceNames", Some(spaces.into_iter().map(|(_, n)| n).collect::<Vec<_>>().join(","))));
    }
    // A stack across several zones also lists every zone's SageMaker subnet.
    let mut zones: Vec<(&String, String)> = doc
        .steps
        .iter()
        .filter(|(k, _)| {
            StepId::recorded(k.as_str()).is_zone_of(&StepId::SUBNET_SAGEMAKER)
                && *k != StepId::SUBNET_SAGEMAKER.as_str()
        })
        .filter_map(|(k, r)| r.id.clone().map(|id| (k, id)))
        .collect();
    zones.sort();
    if !zones.is_empty()
        && let Some(first) = id(StepId::SUBNET_SAGEMAKER)
    {
        let all: Vec<String> = std::iter::once(first).chain(zones.into_iter().map(|(_, id)| id)).collect();
        values.push(("SageMakerStudioSubnetIds", Some(all.join(","))));
    }
    values
}

pub async fn outputs(inv: &Invocation<'_>, json: bool, key: Option<&str>) -> Result<()> {
    let store = inv.store()?;
    let doc = state::peek(&*store)?.with_context(|| format!("no {}: run `provision up` first", store.what()))?;
    let values = output_values(&doc);
    if let Some(k) = key {
        match values.iter().find(|(name, _)| *name == k) {
            // With --json, a JSON document (`{"VPCId": "vpc-..."}`) as without a key; else the bare value.
            Some((_, Some(v))) if json => println!("{}", serde_json::to_string_pretty(&serde_json::json!({ k: v }))?),
            Some((_, Some(v))) => println!("{v}"),
            Some((_, None)) => bail!("output {k} has no value yet (the resource does not exist)"),
            None => {
                let known: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
                return Err(Exit(EXIT_INVALID, format!("unknown output key '{k}'; keys: {}", known.join(", "))).into());
            }
        }
        return Ok(());
    }
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            values.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), serde_json::Value::String(v)))).collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        for (k, v) in values {
            println!("{k:<32} {}", v.unwrap_or_else(|| "-".into()));
        }
    }
    Ok(())
}

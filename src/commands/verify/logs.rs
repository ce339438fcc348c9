//! Controls on monitoring and logging (issue 14): the VPC's flow log, the
//! firewall's ALERT and FLOW logging, the log groups' key and retention,
//! and the key of Studio's home EFS.

use anyhow::{Context, Result};

use super::Verdict;
use crate::kinds::Ctx;
use crate::kinds::domain::home_key_problem;
use crate::kinds::firewall_logging::logging_read;
use crate::kinds::flow_log::vpc_flow_logs;
use crate::kinds::log_group::{group_drift, live_group};
use crate::step_id::StepId;

/// A flow log on the VPC capturing ALL traffic to the stack's flow log group.
pub(super) async fn vpc_flow_log(ctx: &Ctx) -> Verdict {
    let vpc = ctx.state.id(&StepId::VPC)?;
    let group = ctx.state.id(&StepId::LOGS_VPC_FLOW)?;
    let logs = vpc_flow_logs(ctx, &vpc).await.with_context(|| format!("reading the flow logs of {vpc}"))?;
    Ok(match logs.iter().find(|(_, traffic, g, _)| traffic == "ALL" && *g == group) {
        Some((id, ..)) => (true, format!("{vpc}: flow log {id}, ALL traffic to {group}")),
        None if logs.is_empty() => (false, format!("{vpc}: no flow log (expected ALL traffic to {group})")),
        None => {
            let seen: Vec<String> = logs.iter().map(|(id, t, g, _)| format!("{id} {t} to {g}")).collect();
            (false, format!("{vpc}: flow logs [{}], none with ALL traffic to {group}", seen.join("; ")))
        }
    })
}

/// The firewall's ALERT and FLOW logs, each to the stack's group, from one read.
pub(super) async fn firewall_logging(ctx: &Ctx) -> Result<[(bool, String); 2]> {
    let fw = ctx.state.id(&StepId::FIREWALL)?;
    let now = logging_read(ctx, &fw).await.with_context(|| format!("reading the logging configuration of {fw}"))?;
    let name = fw.rsplit('/').next().unwrap_or(&fw).to_string();
    let check = |log_type: &str, step: &StepId| -> Result<(bool, String)> {
        let group = ctx.state.id(step)?;
        Ok(match now.iter().find(|(t, _, _)| t == log_type) {
            Some((_, dt, g)) if dt == "CloudWatchLogs" && *g == group => {
                (true, format!("{name}: {log_type} logs to {group}"))
            }
            Some((_, dt, g)) => {
                (false, format!("{name}: {log_type} logs to {dt} {g}, expected CloudWatchLogs {group}"))
            }
            None => (false, format!("{name}: no {log_type} logging (expected CloudWatchLogs {group})")),
        })
    };
    Ok([check("ALERT", &StepId::LOGS_FIREWALL_ALERT)?, check("FLOW", &StepId::LOGS_FIREWALL_FLOW)?])
}

/// Each log group encrypted with the stack's logs key; each kept as long as asked.
pub(super) async fn log_groups(ctx: &Ctx) -> Result<[(bool, String); 2]> {
    let key = ctx.state.id(&StepId::KMS_LOGS)?;
    let (mut enc, mut ret) = ((true, Vec::new()), (true, Vec::new()));
    for (step, _) in StepId::LOG_GROUPS {
        let name = ctx.state.id(&step)?;
        let Some(live) = live_group(ctx, &name).await.with_context(|| format!("reading log group {name}"))? else {
            for v in [&mut enc, &mut ret] {
                v.0 = false;
                v.1.push(format!("{name}: missing"));
            }
            continue;
        };
        let drift = group_drift(ctx, &key, &live);
        let (keys, days): (Vec<&String>, Vec<&String>) = drift.iter().partition(|d| !d.starts_with("retention"));
        enc.0 &= keys.is_empty();
        enc.1.push(match keys.first() {
            None => format!("{name}: the stack's logs key"),
            Some(d) => format!("{name}: {d}"),
        });
        ret.0 &= days.is_empty();
        ret.1.push(match days.first() {
            None => format!("{name}: {} days", ctx.s.log_retention_days),
            Some(d) => format!("{name}: {d}"),
        });
    }
    Ok([(enc.0, enc.1.join("; ")), (ret.0, ret.1.join("; "))])
}

/// Studio's home EFS encrypted with the stack's key: the domain's KmsKeyId is `kms.ebs`.
pub(super) async fn domain_home_kms(ctx: &Ctx) -> Verdict {
    let id = ctx.state.id(&StepId::DOMAIN)?;
    let d = crate::kinds::domain::described(ctx, &id).await.with_context(|| format!("reading domain {id}"))?;
    Ok(match home_key_problem(ctx, d.kms_key_id(), &StepId::KMS_EBS)? {
        None => (true, format!("{id}: KmsKeyId {}", d.kms_key_id().unwrap_or_default())),
        Some(why) => (false, format!("{id}: {why}")),
    })
}

/// `efs.backup`: Studio's home EFS (the domain's `HomeEfsFileSystemId`) has
/// automatic backups on: DescribeBackupPolicy answers ENABLED (or ENABLING,
/// on its way there).
pub(super) async fn home_efs_backup(ctx: &Ctx) -> Verdict {
    let id = ctx.state.id(&StepId::DOMAIN)?;
    let d = crate::kinds::domain::described(ctx, &id).await.with_context(|| format!("reading domain {id}"))?;
    let Some(efs) = d.home_efs_file_system_id().filter(|e| !e.is_empty()) else {
        return Ok((false, format!("domain {id} reports no home EFS (weakens efs.backup)")));
    };
    let status = crate::kinds::domain::backup_status(ctx, efs)
        .await
        .with_context(|| format!("reading the backup policy of EFS {efs}"))?;
    Ok(match status.as_deref() {
        Some(s @ ("ENABLED" | "ENABLING")) => (true, format!("{efs} (home EFS of {id}): automatic backups {s}")),
        other => (
            false,
            format!(
                "{efs} (home EFS of {id}): automatic backups {}, not ENABLED (weakens efs.backup)",
                other.unwrap_or("never set")
            ),
        ),
    })
}

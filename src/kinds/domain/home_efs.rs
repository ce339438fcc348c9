//! The home EFS SageMaker makes for the domain: its automatic backups
//! (`efs.backup`) and its key.

use anyhow::{Context, Result};

use crate::error::{aws, has_code};
use crate::kinds::Ctx;
use crate::retry::CONSISTENCY_BOUND;
use crate::step_id::StepId;
use crate::wait::retry_while;

/// The home EFS's backup policy status (`None`: it never had one;
/// DescribeBackupPolicy answers PolicyNotFound, EFS API reference).
pub async fn backup_status(ctx: &Ctx, efs: &str) -> Result<Option<String>> {
    match ctx.aws.efs.describe_backup_policy().file_system_id(efs).send().await.map_err(aws) {
        Err(e) if has_code(&e, &["PolicyNotFound"]) => Ok(None),
        Err(e) => Err(e),
        Ok(o) => Ok(o.backup_policy().map(|p| p.status().as_str().to_string())),
    }
}

/// The home EFS SageMaker made for the domain (its `HomeEfsFileSystemId`,
/// learnt after `settle`), or found by SageMaker's tag on it.
pub(super) async fn home_efs_id(ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
    crate::kinds::efs_file_system::home_efs(ctx, me).await
}

/// Why the home EFS is not backed up (empty: it is, or there is no EFS yet).
pub(super) async fn home_backups_drift(ctx: &Ctx, me: &StepId) -> Result<Vec<String>> {
    let Some(efs) = home_efs_id(ctx, me).await? else { return Ok(Vec::new()) };
    Ok(match backup_status(ctx, &efs).await? {
        Some(s) if s == "ENABLED" || s == "ENABLING" => Vec::new(),
        s => vec![format!("home EFS {efs}: automatic backups {}, not ENABLED", s.as_deref().unwrap_or("never set"))],
    })
}

/// Turns on automatic backups of the home EFS: PutBackupPolicy ENABLED,
/// which puts it in AWS Backup's default daily plan, kept 35 days (EFS
/// user guide, "Automatic backups"; EFS API reference, PutBackupPolicy;
/// terraform-provider-aws `aws_efs_backup_policy`). SageMaker creates the
/// EFS without one; it holds the Studio Classic home directories and what
/// SageMaker keeps there. While the file system is not yet `available`
/// EFS answers IncorrectFileSystemLifeCycleState (409): retried within the
/// consistency bound.
pub(super) async fn enable_home_backups(ctx: &Ctx, efs: &str) -> Result<()> {
    use aws_sdk_efs::types::{BackupPolicy, Status};
    let policy = BackupPolicy::builder().status(Status::Enabled).build()?;
    retry_while(
        CONSISTENCY_BOUND,
        |e| has_code(e, &["IncorrectFileSystemLifeCycleState", "FileSystemNotFound"]),
        || async {
            ctx.aws.efs.put_backup_policy().file_system_id(efs).backup_policy(policy.clone()).send().await.map_err(aws)
        },
    )
    .await
    .with_context(|| format!("turning on automatic backups of the home EFS {efs}"))?;
    Ok(())
}

/// Why the domain's home EFS is not under the stack's key (None: it is).
/// A domain's key is fixed when it is created, and the domain holds the
/// users' home directories, so `up` never replaces it for this: the
/// message says how to get there.
pub fn home_key_problem(ctx: &Ctx, actual: Option<&str>, key: &StepId) -> Result<Option<String>> {
    let want = ctx.state.id(key)?;
    let want_id = want.rsplit('/').next().unwrap_or(&want);
    Ok(match actual {
        Some(k) if k == want || k.rsplit('/').next() == Some(want_id) => None,
        other => Some(format!(
            "home EFS encrypted with {}, not the stack's key {key} ({want}); a domain's KmsKeyId is fixed at creation and `up` does not replace a domain (it holds the users' home directories): back up the home directories, then `provision down --purge-efs` and `provision up` to get a domain under the stack's key",
            other.map(|k| format!("key {k}")).unwrap_or_else(|| "an AWS managed key".to_string())
        )),
    })
}

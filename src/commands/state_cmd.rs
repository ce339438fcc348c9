//! `provision state init|push|pull` and `provision force-unlock`: what a
//! team needs to keep its state in S3 (`--state s3://BUCKET/KEY`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::args::StateAction;
use super::resolve::{Invocation, loaded};
use crate::error::{EXIT_INVALID, Exit};
use crate::state::{self, FileStore, Location, LockInfo, StateDoc, StateStore};

fn invalid(msg: String) -> anyhow::Error {
    Exit(EXIT_INVALID, msg).into()
}

/// `provision force-unlock LOCK_ID`: removes exactly that lock.
pub fn force_unlock(inv: &Invocation<'_>, id: &str) -> Result<()> {
    let store = inv.store()?;
    let info = store.force_unlock(id)?;
    println!(
        "Removed the lock {id} of {} (it was held by {}). The next run resumes from what the state records.",
        store.what(),
        info.describe(state::now_ms())
    );
    Ok(())
}

pub async fn run(inv: &Invocation<'_>, action: &StateAction) -> Result<()> {
    match action {
        StateAction::Init { location } => init(inv, location).await,
        StateAction::Push { file, force } => push(inv, file.as_deref(), *force),
        StateAction::Pull { file, force } => pull(inv, file.as_deref(), *force),
    }
}

/// `provision state init s3://BUCKET[/PREFIX]`.
async fn init(inv: &Invocation<'_>, target: &str) -> Result<()> {
    let Some(rest) = target.strip_prefix("s3://") else {
        return Err(invalid(format!("state init: '{target}' is not an s3://BUCKET[/PREFIX] location")));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    state::check_bucket_name(bucket).map_err(|e| invalid(format!("state init: {e}")))?;
    let cfg = loaded(&inv.state_conn()).await;
    let region = cfg
        .region()
        .map(|r| r.to_string())
        .ok_or_else(|| invalid("state init: no region: pass --state-region (or --region)".into()))?;
    let s3 = crate::aws::s3_client(&cfg);
    let done = state::init_bucket(&s3, bucket, &region).await?;
    for c in &done.changed {
        println!("  changed: {c}");
    }
    for k in &done.kept {
        println!("  as required: {k}");
    }
    let prefix = if prefix.is_empty() || prefix.ends_with('/') { prefix.to_string() } else { format!("{prefix}/") };
    if done.changed.is_empty() {
        println!("State bucket {bucket} ({region}) is already as required: nothing changed.");
    } else {
        println!("State bucket {bucket} ({region}) is ready.");
    }
    println!(
        "Use it with `export PROVISION_STATE=s3://{bucket}/{prefix}` (each project's state is {prefix}<project>.json), \
         then move an existing local state there with `provision state push`."
    );
    Ok(())
}

/// The S3 side of push/pull: `--state` must name an S3 object.
fn remote(inv: &Invocation<'_>, project: &str) -> Result<(Location, Arc<dyn StateStore>)> {
    let loc = inv.location_for(project)?;
    if let Location::File(p) = &loc {
        return Err(invalid(format!(
            "--state names the file {}: push and pull move a state between a local file and the state --state s3://BUCKET/KEY (or PROVISION_STATE) names",
            p.display()
        )));
    }
    let store = inv.store_at(&loc)?;
    Ok((loc, store))
}

/// `Some(doc)` when two states are the same stack with the same content.
fn same(a: &StateDoc, b: &StateDoc) -> bool {
    a == b
}

fn when(doc: &StateDoc) -> String {
    match doc.last_change() {
        0 => "no change recorded".into(),
        s => format!("last change {}", state::rfc3339(s * 1000)),
    }
}

/// `provision state push [FILE]`: the local state into S3. Refuses to
/// replace a different state there unless `--force` (the replaced one stays
/// as a previous version); the write is conditional on what was read. The
/// file is then moved aside (`FILE.pushed`), so no run keeps using it.
fn push(inv: &Invocation<'_>, file: Option<&Path>, force: bool) -> Result<()> {
    let project_flag = inv.g.params.project.is_some() || inv.g.config.is_some();
    let project = inv.project.clone();
    let path: PathBuf = file.map(Path::to_path_buf).unwrap_or_else(|| match Location::default_for(&project) {
        Location::File(p) => p,
        Location::S3 { .. } => unreachable!("the default is a file"),
    });
    let local = FileStore::new(&path);
    let doc = state::peek(&local)?.ok_or_else(|| invalid(format!("no {}: nothing to push", local.what())))?;
    if project_flag && doc.stack != project {
        return Err(invalid(format!("{} is stack '{}', not '{project}': nothing pushed", local.what(), doc.stack)));
    }
    // A prefix in --state takes the stack's own name.
    let (_, remote) = remote(inv, &doc.stack)?;
    // Both locked: no run uses either meanwhile.
    let info = LockInfo::new("state push");
    let mut local_lock = local.lock(&info)?;
    let mut remote_lock = remote.lock(&info)?;
    let result = (|| -> Result<String> {
        let bytes = state::to_bytes(&doc)?;
        let expected = match remote.load()? {
            None => None,
            Some(cur) => {
                let there = state::parse_from(&*remote, &cur.bytes)?;
                if same(&there, &doc) {
                    return Ok(format!("{} already holds this state: nothing pushed", remote.what()));
                }
                if !force {
                    return Err(invalid(format!(
                        "{} already holds a different state (stack '{}', {} steps, {}); {} has {} steps, {}. \
                         Nothing was replaced: `provision state pull -` shows it; --force replaces it (the bucket keeps it as a previous version)",
                        remote.what(),
                        there.stack,
                        there.steps.len(),
                        when(&there),
                        local.what(),
                        doc.steps.len(),
                        when(&doc)
                    )));
                }
                Some(cur.version)
            }
        };
        remote.save(&bytes, expected.as_deref())?;
        Ok(format!("pushed {} to {}", local.what(), remote.what()))
    })();
    let released = remote_lock.release();
    let done = result?;
    released?;
    println!("{done}.");
    if done.starts_with("pushed") || done.contains("already holds this state") {
        let aside = PathBuf::from(format!("{}.pushed", path.display()));
        std::fs::rename(&path, &aside).with_context(|| format!("moving {} aside", path.display()))?;
        local_lock.release()?;
        println!(
            "{} moved to {}: runs with --state {} (or PROVISION_STATE) use the state in S3 now.",
            path.display(),
            aside.display(),
            remote.location()
        );
    }
    Ok(())
}

/// `provision state pull [FILE|-]`: the state in S3 into a local file (or
/// stdout). Refuses to replace a different file unless `--force` (the
/// replaced one stays as `.bak`). The state in S3 is left as it is.
fn pull(inv: &Invocation<'_>, file: Option<&Path>, force: bool) -> Result<()> {
    let (_, remote) = remote(inv, &inv.project)?;
    let stored = remote.load()?.ok_or_else(|| invalid(format!("no {}: nothing to pull", remote.what())))?;
    let doc = state::parse_from(&*remote, &stored.bytes)?;
    if file == Some(Path::new("-")) {
        println!("{}", String::from_utf8_lossy(&state::to_bytes(&doc)?));
        return Ok(());
    }
    let path: PathBuf = file.map(Path::to_path_buf).unwrap_or_else(|| match Location::default_for(&doc.stack) {
        Location::File(p) => p,
        Location::S3 { .. } => unreachable!("the default is a file"),
    });
    let local = FileStore::new(&path);
    let mut lock = local.lock(&LockInfo::new("state pull"))?;
    let result = (|| -> Result<String> {
        if let Some(cur) = local.load()? {
            let here = state::parse_from(&local, &cur.bytes)?;
            if same(&here, &doc) {
                return Ok(format!("{} already holds this state: nothing pulled", local.what()));
            }
            if !force {
                return Err(invalid(format!(
                    "{} holds a different state (stack '{}', {} steps, {}); {} has {} steps, {}. Nothing was replaced; \
                     --force replaces it (keeping it as {})",
                    local.what(),
                    here.stack,
                    here.steps.len(),
                    when(&here),
                    remote.what(),
                    doc.steps.len(),
                    when(&doc),
                    state::backup_path(&path).display()
                )));
            }
            local.backup(&cur)?;
        }
        local.save(&state::to_bytes(&doc)?, None)?;
        Ok(format!(
            "pulled {} to {}. The state in S3 stays as it is: runs with --state {} keep using it, runs without use the file",
            remote.what(),
            path.display(),
            remote.location()
        ))
    })();
    lock.release()?;
    println!("{}.", result?);
    Ok(())
}

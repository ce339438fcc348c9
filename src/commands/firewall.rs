//! `provision firewall list|allow DOMAIN...|remove DOMAIN...`: the rule
//! group's domain allow-list, edited in place with UpdateRuleGroup (the
//! stale-UpdateToken retry is `kinds::rule_group::edit_allow_list`).
//!
//! How edits and the `allowed_domains` parameter interact: parameters are
//! resolved as everywhere — flags over the config file over the parameters
//! the state records. `allow` and `remove` change the live list and make
//! the same change to the stack's `allowed_domains` recorded in the state,
//! so a bare `up`, `verify` and `status` take the edited list
//! as configured (and a rule group `up` has to create again gets it). A
//! domain on the firewall that is not configured (added out of band) is kept
//! there by an edit but never recorded: `verify` keeps failing on it. An
//! explicit `--allowed-domains` or config-file value still wins over the
//! recorded list: the command warns, and `verify`/`status` report the
//! difference until the config says the same. (`up` records the parameters
//! it ran with, an explicit list included, but leaves an existing rule
//! group's allow-list to this command.)

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde_json::json;

use super::args::FirewallAction;
use crate::error::{EXIT_INVALID, Exit};
use crate::kinds::Ctx;
use crate::kinds::rule_group::{edit_allow_list, read_allow_list};
use crate::step_id::StepId;

pub async fn run(ctx: &Ctx, action: &FirewallAction) -> Result<()> {
    let arn = ctx
        .state
        .id(&StepId::RULE_GROUP)
        .context("the stack has no firewall rule group yet; run `provision up` first")?;
    let (add, domains) = match action {
        FirewallAction::List => return list(ctx, &arn).await,
        FirewallAction::Allow { domains } => (true, dedup(domains)),
        FirewallAction::Remove { domains } => (false, dedup(domains)),
    };
    check_domains(&domains, add)?;
    // The recorded list, edited, is recorded again. Domains on the firewall
    // that it lacks (added out of band) stay there but are not blessed:
    // verify and status keep reporting them.
    let recorded = recorded_domains(ctx);
    let overridden = recorded.as_ref() != Some(&ctx.s.allowed_domains);
    let intended = apply(recorded.as_ref().unwrap_or(&ctx.s.allowed_domains), &domains, add);
    if intended.is_empty() {
        return Err(invalid(format!(
            "removing {} would leave allowed_domains empty; at least one domain must stay (allow another first)",
            domains.join(", ")
        )));
    }
    let (before, after) = edit_allow_list(ctx, &arn, |live| {
        let absent: Vec<&String> = domains.iter().filter(|d| !live.contains(d)).collect();
        if !add && !absent.is_empty() {
            return Err(invalid(format!("not in the allow-list: {}; it holds: {}", join(absent), live.join(", "))));
        }
        let out = apply(live, &domains, add);
        if out.is_empty() {
            return Err(invalid(format!(
                "removing {} would leave the allow-list empty; at least one domain must stay (allow another first)",
                domains.join(", ")
            )));
        }
        Ok(out)
    })
    .await?;
    ctx.state.update(|d| {
        d.params.insert("allowed_domains".into(), json!(intended));
        if !d.applying.is_empty() {
            d.applying.insert("allowed_domains".into(), json!(intended));
        }
    })?;
    if before == after {
        println!(
            "Nothing to change on the firewall: its allow-list already {} {}.",
            if add { "holds" } else { "lacks" },
            domains.join(", ")
        );
    } else {
        println!("Allow-list of {arn} is now: {}", after.join(", "));
    }
    println!("Recorded allowed_domains: {}", intended.join(", "));
    let (extra, _) = difference(&after, &intended);
    if !extra.is_empty() {
        eprintln!(
            "warning: the firewall also allows {}, which allowed_domains does not (added out of band?); `verify` reports it, `provision firewall remove` removes it",
            extra.join(", ")
        );
    }
    if overridden {
        eprintln!(
            "note: --allowed-domains or the config file sets allowed_domains ({}); it overrides the recorded list on every run (verify, status, up). Change it there to keep this edit.",
            ctx.s.allowed_domains.join(", ")
        );
    }
    Ok(())
}

/// `list` with `domains` added (at the end, in order) or removed.
fn apply(list: &[String], domains: &[String], add: bool) -> Vec<String> {
    let mut out: Vec<String> = list.iter().filter(|d| add || !domains.contains(d)).cloned().collect();
    if add {
        out.extend(domains.iter().filter(|d| !list.contains(d)).cloned());
    }
    out
}

/// The live list, one domain a line; a difference from the configured
/// `allowed_domains` is reported on stderr.
async fn list(ctx: &Ctx, arn: &str) -> Result<()> {
    let (live, _, _) = read_allow_list(ctx, arn).await?;
    for d in &live {
        println!("{d}");
    }
    let (extra, missing) = difference(&live, &ctx.s.allowed_domains);
    if !extra.is_empty() || !missing.is_empty() {
        eprintln!(
            "note: the firewall differs from allowed_domains ({}): not configured: [{}], missing: [{}]",
            ctx.s.allowed_domains.join(", "),
            extra.join(", "),
            missing.join(", ")
        );
    }
    Ok(())
}

/// Domains in `live` but not `configured`, and the other way round.
pub fn difference(live: &[String], configured: &[String]) -> (Vec<String>, Vec<String>) {
    let (l, c): (BTreeSet<&String>, BTreeSet<&String>) = (live.iter().collect(), configured.iter().collect());
    (l.difference(&c).map(|s| s.to_string()).collect(), c.difference(&l).map(|s| s.to_string()).collect())
}

fn dedup(domains: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in domains {
        if !out.contains(d) {
            out.push(d.clone());
        }
    }
    out
}

fn recorded_domains(ctx: &Ctx) -> Option<Vec<String>> {
    ctx.state.doc().params.get("allowed_domains").and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The `allowed_domains` rule (also checked before any AWS call, by
/// `commands::run`); what is allowed also admits no suffix of all of AWS
/// (removing `.amazonaws.com` from a stack built before is how it goes).
pub fn check_domains(domains: &[String], allow: bool) -> Result<()> {
    let mut errs = crate::config::domain_errors("domains", domains);
    if allow {
        errs.extend(crate::config::aws_wide_errors("domains", domains));
    }
    if errs.is_empty() { Ok(()) } else { Err(invalid(format!("invalid input:\n  - {}", errs.join("\n  - ")))) }
}

fn invalid(msg: String) -> anyhow::Error {
    Exit(EXIT_INVALID, msg).into()
}

fn join(v: Vec<&String>) -> String {
    v.into_iter().cloned().collect::<Vec<_>>().join(", ")
}

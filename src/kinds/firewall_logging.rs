//! The firewall's logging configuration (`nfw.logging`): ALERT logs to
//! `logs.firewall_alert`, FLOW logs to `logs.firewall_flow`. Id = the
//! firewall's ARN (a firewall has one logging configuration).
//!
//! AWS changes it one destination per call (Network Firewall API reference,
//! UpdateLoggingConfiguration: "You can perform only one of the following
//! actions in any call: create a new log destination object by adding a
//! single LogDestinationConfig ..., delete ... a single LogDestinationConfig
//! ..., change the LogDestination setting in a single LogDestinationConfig";
//! "You can't change the LogDestinationType or LogType ...: delete the
//! existing LogDestinationConfig object and create a new one, using two
//! separate calls"). So creating, restoring and removing it are each one
//! read and then a loop of single changes. `up` configures it while the
//! firewall provisions (`create`); teardown removes it before the firewall
//! (the original sample's clean-up asks the same).

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use aws_sdk_networkfirewall::types::{
    FirewallStatusValue, LogDestinationConfig, LogDestinationType, LogType, LoggingConfiguration,
};

use super::{Ctx, Health, Kind};
use crate::error::{aws, found, is_not_found};
use crate::latency::create_s;
use crate::step_id::StepId;
use crate::wait::{Poll, until};

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "nfw.logging";

impl StepId {
    pub const FIREWALL_LOGGING: StepId = StepId::of("nfw.logging");
}

/// The key of a CloudWatch Logs destination (API reference, LogDestinationConfig).
const LOG_GROUP_KEY: &str = "logGroup";

#[derive(Debug)]
pub struct FirewallLogging {
    pub firewall: StepId,
    pub alert: StepId,
    pub flow: StepId,
}

/// The firewall's log destinations: (log type, destination type, log group).
pub async fn live_logging(ctx: &Ctx, firewall_arn: &str) -> Result<Vec<(String, String, String)>> {
    let out = ctx.aws.nfw.describe_logging_configuration().firewall_arn(firewall_arn).send().await.map_err(aws)?;
    Ok(out
        .logging_configuration()
        .map(|l| l.log_destination_configs())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c.log_type().as_str().to_string(),
                c.log_destination_type().as_str().to_string(),
                c.log_destination().get(LOG_GROUP_KEY).cloned().unwrap_or_default(),
            )
        })
        .collect())
}

/// `live_logging`, once per read-only pass (`Reads::read`): `health`, `drift` and
/// `verify` read it once.
pub async fn logging_read(ctx: &Ctx, firewall_arn: &str) -> Result<std::sync::Arc<Vec<(String, String, String)>>> {
    let key = format!("network-firewall:DescribeLoggingConfiguration {firewall_arn}");
    ctx.reads.read(&key, || live_logging(ctx, firewall_arn)).await
}

fn destination(log_type: &str, group: &str) -> Result<LogDestinationConfig> {
    LogDestinationConfig::builder()
        .log_type(LogType::from(log_type))
        .log_destination_type(LogDestinationType::CloudwatchLogs)
        .log_destination(LOG_GROUP_KEY, group)
        .build()
        .context("building a log destination")
}

/// The one change that brings `now` a step closer to `want` (None: equal).
/// A destination of another type is removed first (it cannot be changed in
/// place), a wrong group changed in place, a missing one added.
fn next_change(now: &[(String, String, String)], want: &[(String, String)]) -> Option<Vec<(String, String, String)>> {
    let cwl = LogDestinationType::CloudwatchLogs.as_str();
    for (i, (t, dt, g)) in now.iter().enumerate() {
        match want.iter().find(|(wt, _)| wt == t) {
            None => {
                let mut next = now.to_vec();
                next.remove(i);
                return Some(next);
            }
            Some(_) if dt != cwl => {
                let mut next = now.to_vec();
                next.remove(i);
                return Some(next);
            }
            Some((_, wg)) if wg != g => {
                let mut next = now.to_vec();
                next[i].2 = wg.clone();
                return Some(next);
            }
            Some(_) => {}
        }
    }
    let (t, g) = want.iter().find(|(wt, _)| !now.iter().any(|(t, _, _)| t == wt))?;
    let mut next = now.to_vec();
    next.push((t.clone(), cwl.to_string(), g.clone()));
    Some(next)
}

/// What UpdateLoggingConfiguration sends for the destinations `next`: a
/// `LoggingConfiguration` holding them, or none at all when `next` is empty
/// (removing the last destination). The API reference documents the
/// latter: "LoggingConfiguration — Defines how Network Firewall performs
/// logging for a firewall. If you omit this setting, Network Firewall
/// disables logging for the firewall" (UpdateLoggingConfiguration request
/// parameters); it says nothing of an empty `LogDestinationConfigs` list,
/// which this used to send. terraform-provider-aws's
/// aws_networkfirewall_logging_configuration omits it the same way when it
/// removes the last destination.
fn logging_configuration(next: &[(String, String, String)]) -> Result<Option<LoggingConfiguration>> {
    if next.is_empty() {
        return Ok(None);
    }
    let configs = next.iter().map(|(t, _, g)| destination(t, g)).collect::<Result<Vec<_>>>()?;
    let config = LoggingConfiguration::builder()
        .set_log_destination_configs(Some(configs))
        .build()
        .context("building the logging configuration")?;
    Ok(Some(config))
}

/// Brings the firewall's logging to `want`, one destination per call: one
/// read, then each change (a successful update leaves the configuration it
/// sent, so it is not read again).
async fn converge(ctx: &Ctx, firewall_arn: &str, want: &[(String, String)]) -> Result<()> {
    let mut now = live_logging(ctx, firewall_arn).await?;
    // Each call settles one destination: at most one removal and one add per log type.
    for _ in 0..=2 * (want.len() + 3) {
        let Some(next) = next_change(&now, want) else { return Ok(()) };
        ctx.aws
            .nfw
            .update_logging_configuration()
            .firewall_arn(firewall_arn)
            .set_logging_configuration(logging_configuration(&next)?)
            .send()
            .await
            .map_err(aws)
            .with_context(|| format!("updating the logging configuration of {firewall_arn}"))?;
        now = next;
    }
    bail!("the logging configuration of {firewall_arn} did not settle")
}

/// A refusal that may mean "not while the firewall provisions".
fn refused_before_ready(e: &anyhow::Error) -> bool {
    matches!(crate::error::code(e), Some("InvalidRequestException" | "InvalidOperationException"))
}

/// Waits until the firewall is READY (the fallback when AWS refuses its
/// logging while it provisions).
async fn firewall_ready(ctx: &Ctx, arn: &str) -> Result<()> {
    until("firewall READY for its logging", Poll::expect(create_s(super::firewall::PROFILE), 30 * 60), || async {
        let out = ctx.aws.nfw.describe_firewall().firewall_arn(arn).send().await.map_err(aws)?;
        let status = out.firewall_status.map(|s| s.status);
        if status == Some(FirewallStatusValue::Deleting) {
            bail!("firewall {arn} is being deleted (deleted out of band?)");
        }
        Ok((status == Some(FirewallStatusValue::Ready)).then_some(()))
    })
    .await
}

impl FirewallLogging {
    fn want(&self, ctx: &Ctx) -> Result<Vec<(String, String)>> {
        Ok(vec![
            (LogType::Alert.as_str().to_string(), ctx.state.id(&self.alert)?),
            (LogType::Flow.as_str().to_string(), ctx.state.id(&self.flow)?),
        ])
    }
}

/// What differs between the firewall's logging and the stack's (empty: same).
pub fn logging_drift(now: &[(String, String, String)], want: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (t, g) in want {
        match now.iter().find(|(nt, _, _)| nt == t) {
            None => out.push(format!("{t} logs not configured (should go to {g})")),
            Some((_, dt, ng)) if dt != LogDestinationType::CloudwatchLogs.as_str() || ng != g => {
                out.push(format!("{t} logs go to {dt} {ng}, not CloudWatchLogs {g}"))
            }
            Some(_) => {}
        }
    }
    for (t, dt, g) in now.iter().filter(|(t, _, _)| !want.iter().any(|(wt, _)| wt == t)) {
        out.push(format!("extra {t} logs to {dt} {g}"));
    }
    out
}

#[async_trait]
impl Kind for FirewallLogging {
    fn name(&self) -> &'static str {
        "firewall logging configuration"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.firewall.clone(), self.alert.clone(), self.flow.clone()]
    }

    /// Configured while the firewall provisions (see `create`).
    fn needs_existing(&self) -> Vec<StepId> {
        vec![self.firewall.clone()]
    }

    /// Configured as the stack wants it already (a create whose answer was lost).
    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        let arn = ctx.state.id(&self.firewall)?;
        let Some(now) = found(live_logging(ctx, &arn).await)? else { return Ok(None) };
        Ok(logging_drift(&now, &self.want(ctx)?).is_empty().then_some(arn))
    }

    /// Starts as soon as the firewall exists (`needs_existing`), while it
    /// provisions, so the logging ends long before the firewall is READY
    /// and never delays the routes or the end of `up` (issue 14). Right
    /// after CreateFirewall reads may not show the firewall yet (eventual
    /// consistency; terraform-provider-aws waitFirewallCreated treats
    /// ResourceNotFoundException as pending): not-found is retried within
    /// the consistency bound. The API reference of UpdateLoggingConfiguration
    /// names no firewall status it needs; should AWS still refuse a
    /// PROVISIONING firewall (InvalidRequest/InvalidOperation), the logging
    /// is configured once the firewall is READY, the order terraform's
    /// aws_networkfirewall_logging_configuration gets after the firewall's
    /// create waiter.
    async fn create(&self, ctx: &Ctx, _me: &StepId, _token: &str) -> Result<String> {
        let arn = ctx.state.id(&self.firewall)?;
        let want = self.want(ctx)?;
        let early =
            crate::wait::retry_while(crate::retry::CONSISTENCY_BOUND, is_not_found, || converge(ctx, &arn, &want))
                .await;
        match early {
            Err(e) if refused_before_ready(&e) => {
                tracing::info!(%arn, "logging refused before the firewall is READY ({e:#}); configuring it once READY");
                firewall_ready(ctx, &arn).await?;
                converge(ctx, &arn, &want).await?;
            }
            r => r?,
        }
        Ok(arn)
    }

    /// Missing when the firewall, or every destination of the stack, is gone.
    async fn health(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<Health> {
        let now = match logging_read(ctx, arn).await {
            Err(e) if is_not_found(&e) => return Ok(Health::Missing),
            r => r?,
        };
        let want = self.want(ctx)?;
        let any = now.iter().any(|(t, _, g)| want.iter().any(|(wt, wg)| wt == t && wg == g));
        Ok(if any { Health::Present } else { Health::Missing })
    }

    /// Every destination removed, one per call; a firewall gone is done.
    async fn delete(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        match converge(ctx, arn, &[]).await {
            Err(e) if is_not_found(&e) => Ok(()),
            r => r,
        }
    }

    async fn drift(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<Vec<String>> {
        Ok(logging_drift(&logging_read(ctx, arn).await?, &self.want(ctx)?))
    }

    fn restores_drift(&self) -> bool {
        true
    }

    async fn restore(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<()> {
        converge(ctx, arn, &self.want(ctx)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(t: &str, dt: &str, g: &str) -> (String, String, String) {
        (t.into(), dt.into(), g.into())
    }

    #[test]
    fn one_destination_per_change_until_the_stack_wants() {
        let want = vec![("ALERT".to_string(), "/a".to_string()), ("FLOW".to_string(), "/f".to_string())];
        let mut now: Vec<(String, String, String)> =
            vec![cfg("FLOW", "S3", "bucket"), cfg("ALERT", "CloudWatchLogs", "/x")];
        let mut steps = 0;
        while let Some(next) = next_change(&now, &want) {
            let changed = next.len().abs_diff(now.len())
                + next.iter().filter(|n| now.iter().any(|o| o.0 == n.0 && o != *n)).count();
            assert_eq!(changed, 1, "{now:?} -> {next:?} is one change");
            now = next;
            steps += 1;
            assert!(steps < 10);
        }
        assert_eq!(steps, 3, "remove S3 FLOW, point ALERT at /a, add FLOW");
        assert!(logging_drift(&now, &want).is_empty());
        let mut empty = now.clone();
        let mut removals = 0;
        while let Some(next) = next_change(&empty, &[]) {
            assert_eq!(next.len() + 1, empty.len());
            empty = next;
            removals += 1;
        }
        assert_eq!(removals, 2);
    }

    #[test]
    fn the_last_destination_is_removed_by_omitting_the_configuration() {
        assert_eq!(logging_configuration(&[]).unwrap(), None, "no LoggingConfiguration at all");
        let one = logging_configuration(&[cfg("FLOW", "CloudWatchLogs", "/f")]).unwrap().unwrap();
        assert_eq!(one.log_destination_configs().len(), 1);
    }
}

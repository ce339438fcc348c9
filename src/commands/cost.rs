//! `provision cost [--json]`: the monthly cost of the stack the parameters
//! describe, built or not (no state is needed). And the one-line figures
//! `plan` (the result and the change), `status` (the live run-rate) and
//! `down` (what it stops paying for, what the kept storage still costs) print.
//!
//! The counts are the step graph's: every step of `graph::build_teardown`
//! (the `up` graph plus the home EFS SageMaker makes) says what it is
//! billed for (`Kind::priced`); `crate::cost` prices and adds them.

use anyhow::Result;
use serde_json::json;

use super::args::CostAssumptions;
use super::resolve::{Invocation, loaded};
use crate::config::{RawParams, Settings};
use crate::cost::{self, Assumptions, Estimate, Prices, Shape, Usage, Use, price_list};
use crate::graph;
use crate::kinds::Ctx;
use crate::step_id::StepId;

impl CostAssumptions {
    fn resolve(&self) -> Result<Assumptions> {
        let mut a = Assumptions::default();
        for (flag, v, slot) in [
            ("--app-hours", self.app_hours, &mut a.app_hours_per_user),
            ("--internet-gb", self.internet_gb, &mut a.internet_gb_per_user),
            ("--endpoint-gb", self.endpoint_gb, &mut a.endpoint_gb_per_user),
            ("--bucket-gb", self.bucket_gb, &mut a.bucket_gb),
            ("--efs-gb", self.efs_gb, &mut a.home_efs_gb),
            ("--log-gb", self.log_gb, &mut a.log_gb),
        ] {
            if let Some(v) = v {
                if !v.is_finite() || v < 0.0 {
                    return Err(crate::error::Exit(
                        crate::error::EXIT_INVALID,
                        format!("{flag} {v}: must be a number of 0 or more"),
                    )
                    .into());
                }
                *slot = v;
            }
        }
        if a.app_hours_per_user > cost::HOURS_PER_MONTH {
            return Err(crate::error::Exit(
                crate::error::EXIT_INVALID,
                format!("--app-hours {}: a month has {} hours", a.app_hours_per_user, cost::HOURS_PER_MONTH),
            )
            .into());
        }
        Ok(a)
    }
}

/// What the steps of the settings' graph are billed for; `keep` chooses the steps.
pub(super) fn uses(s: &Settings, keep: impl Fn(&StepId) -> bool) -> Vec<Use> {
    graph::build_teardown(s).steps.iter().filter(|st| keep(&st.id)).flat_map(|st| st.kind.priced(s)).collect()
}

pub(super) fn shape(s: &Settings) -> Shape {
    Shape { zones: s.zones.len(), users: s.users.len() }
}

/// The prices of the meters of `uses` in the settings' region (API, else table).
pub(super) async fn prices(client: &aws_sdk_pricing::Client, s: &Settings, uses: &[Use]) -> Prices {
    price_list::prices(client, &cost::table(), &s.region, &price_list::meters_of(uses)).await
}

pub(super) fn estimate(s: &Settings, uses: &[Use], prices: &Prices) -> Estimate {
    cost::estimate(uses, prices, &cost::table(), &Assumptions::default(), shape(s))
}

/// `provision cost`.
pub async fn cost(inv: &Invocation<'_>, json: bool, assume: &CostAssumptions) -> Result<()> {
    let a = assume.resolve()?;
    let resolved = inv.resolve().await?;
    let s = &resolved.settings;
    let sdk = loaded(&resolved.conn).await;
    let all = uses(s, |_| true);
    let p = prices(&crate::aws::pricing_client(&sdk), s, &all).await;
    let e = cost::estimate(&all, &p, &cost::table(), &a, shape(s));
    if json {
        let doc = json!({
            "monthly_usd": e.monthly_usd,
            "items": e.items,
            "prices": {"source": p.source(), "as_of": p.as_of, "region": s.region, "fallback_reason": p.fallback},
            "assumptions": a,
            "shape": {"zones": s.zones.len(), "users": s.users.len(), "logging": s.logging},
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!(
        "Stack {} in {}: {} zone(s), {} user(s), logging {}",
        s.project,
        s.region,
        s.zones.len(),
        s.users.len(),
        if s.logging { "on" } else { "off" }
    );
    for l in cost::render(&e, shape(s)) {
        println!("{l}");
    }
    println!("Prices: {} (as of {}).", p.source(), p.as_of);
    println!("Assumed: {}.", a.describe());
    Ok(())
}

/// `plan`'s line: the result's monthly cost and, on a live stack, the
/// change from the recorded parameters ("+$96.00/month: 1 zone added").
pub(super) async fn plan_line(ctx: &Ctx) -> String {
    let now = uses(&ctx.s, |_| true);
    let doc = ctx.state.doc();
    let before = (!doc.steps.is_empty())
        .then(|| Settings::resolve(RawParams::from_recorded(doc.params.clone()), true).ok())
        .flatten();
    let mut all = now.clone();
    let was = before.as_ref().map(|b| uses(b, |_| true));
    all.extend(was.clone().unwrap_or_default());
    let p = prices(&ctx.aws.pricing, &ctx.s, &all).await;
    let after = estimate(&ctx.s, &now, &p);
    let mut line = format!("Cost: {}/month once applied", cost::dollars(after.monthly_usd));
    if let (Some(b), Some(was)) = (&before, &was) {
        let old = estimate(b, was, &p);
        let what = changes(b, &ctx.s);
        line.push_str(&format!(
            "; {}{}",
            cost::delta(&old, &after),
            if what.is_empty() { String::new() } else { format!(": {}", what.join(", ")) }
        ));
    }
    format!("{line} (`provision cost` itemises it; prices: {}).", p.source())
}

/// What changed between two parameter sets that changes the bill.
fn changes(before: &Settings, after: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    let n = |d: isize, one: &str, verb_more: &str, verb_less: &str| -> Option<String> {
        (d != 0).then(|| {
            let k = d.unsigned_abs();
            format!("{k} {one}{} {}", if k == 1 { "" } else { "s" }, if d > 0 { verb_more } else { verb_less })
        })
    };
    out.extend(n(after.zones.len() as isize - before.zones.len() as isize, "zone", "added", "removed"));
    out.extend(n(after.users.len() as isize - before.users.len() as isize, "user", "added", "removed"));
    if after.logging != before.logging {
        out.push(format!("logging {}", if after.logging { "on" } else { "off" }));
    }
    if after.app_instance_type != before.app_instance_type {
        out.push(format!("apps on {}", after.app_instance_type));
    }
    if after.space_storage_gib != before.space_storage_gib {
        out.push(format!("space volumes {} GiB", after.space_storage_gib));
    }
    out
}

/// `status`'s line: the monthly run-rate of the steps `live` (present now);
/// of those `retained` by a plain `down`, only their storage (no traffic
/// reaches them any more).
pub(super) async fn run_rate_line(ctx: &Ctx, live: &[StepId], retained: &[StepId]) -> String {
    let mut u = uses(&ctx.s, |id| live.contains(id) && !retained.contains(id));
    u.extend(uses(&ctx.s, |id| retained.contains(id)).into_iter().filter(is_storage));
    let p = prices(&ctx.aws.pricing, &ctx.s, &u).await;
    let e = estimate(&ctx.s, &u, &p);
    format!(
        "Run-rate: {}/month for what exists now (`provision cost` itemises the full stack; prices: {}).",
        cost::dollars(e.monthly_usd),
        p.source()
    )
}

/// Billed whether or not anything runs: keys, volumes, stored GB.
fn is_storage(u: &Use) -> bool {
    matches!(u.usage, Usage::Monthly | Usage::Stored(_))
}

/// `down`'s line: what it stops paying for a month (the removed steps, and
/// the traffic and hours of the kept ones: nothing flows once the network
/// is gone), and what the kept storage (volumes, the home EFS, buckets,
/// logs, keys) still costs a month.
pub(super) async fn down_line(ctx: &Ctx, removed: &[StepId], kept: &[StepId]) -> String {
    let (kept_uses, kept_running): (Vec<Use>, Vec<Use>) =
        uses(&ctx.s, |id| kept.contains(id)).into_iter().partition(is_storage);
    let mut stopped = uses(&ctx.s, |id| removed.contains(id));
    stopped.extend(kept_running);
    let mut all = stopped.clone();
    all.extend(kept_uses.clone());
    let p = prices(&ctx.aws.pricing, &ctx.s, &all).await;
    let (re, ke) = (estimate(&ctx.s, &stopped, &p), estimate(&ctx.s, &kept_uses, &p));
    let kept_line = if kept_uses.is_empty() {
        String::new()
    } else {
        let what: Vec<String> = ke.items.iter().filter(|i| i.monthly_usd != 0.0).map(|i| i.what.clone()).collect();
        format!(
            "; what it kept still costs {}/month ({})",
            cost::dollars(ke.monthly_usd),
            if what.is_empty() { "nothing billed".to_string() } else { what.join(", ") }
        )
    };
    format!("no longer paying {}/month{kept_line} (prices: {})", cost::dollars(re.monthly_usd), p.source())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(zones: &[&str], users: usize, logging: bool) -> Settings {
        let r = RawParams {
            region: Some("us-east-1".into()),
            availability_zones: Some(zones.iter().map(|z| z.to_string()).collect()),
            users: Some((0..users).map(|i| format!("user-{i}")).collect()),
            logging: Some(logging),
            ..Default::default()
        };
        Settings::resolve(r, false).unwrap()
    }

    fn month(s: &Settings, a: &Assumptions) -> Estimate {
        let u = uses(s, |_| true);
        let p = Prices::from_table(&cost::table(), &s.region, None);
        cost::estimate(&u, &p, &cost::table(), a, shape(s))
    }

    fn count(e: &Estimate, meter: &str) -> f64 {
        e.items.iter().find(|i| i.meter == meter).map(|i| i.count).unwrap_or(0.0)
    }

    const IDLE: Assumptions = Assumptions {
        app_hours_per_user: 0.0,
        internet_gb_per_user: 0.0,
        endpoint_gb_per_user: 0.0,
        bucket_gb: 0.0,
        home_efs_gb: 0.0,
        log_gb: 0.0,
    };

    #[test]
    fn the_counts_are_the_graphs() {
        let one = month(&settings(&["us-east-1a"], 1, true), &Assumptions::default());
        // Every interface endpoint of the graph, one interface per zone.
        assert_eq!(count(&one, "interface-endpoint-hour"), graph::INTERFACE_ENDPOINTS.len() as f64);
        assert_eq!(count(&one, cost::FIREWALL_HOURS), 1.0);
        assert_eq!(count(&one, cost::NAT_HOURS), 1.0);
        assert_eq!(count(&one, "public-ipv4-hour"), 1.0);
        assert_eq!(count(&one, "kms-key-month"), 3.0); // s3, ebs, logs
        let three = month(&settings(&["us-east-1a", "us-east-1b", "us-east-1c"], 1, false), &Assumptions::default());
        assert_eq!(count(&three, "interface-endpoint-hour"), 3.0 * graph::INTERFACE_ENDPOINTS.len() as f64);
        assert_eq!(count(&three, cost::FIREWALL_HOURS), 3.0);
        assert_eq!(count(&three, cost::NAT_HOURS), 3.0);
        assert_eq!(count(&three, "public-ipv4-hour"), 3.0);
        assert_eq!(count(&three, "kms-key-month"), 2.0); // no logs key without logging
        assert_eq!(count(&three, "logs-ingest-gb"), 0.0);
    }

    #[test]
    fn one_zone_idles_at_the_issues_arithmetic_and_three_zones_at_three_times() {
        // Issue 31: firewall endpoint $0.395/h (~$288), ten interface endpoints $0.01/h (~$73),
        // a public IPv4 $0.005/h, KMS keys $1 each, the NAT gateway waived: $370-400 a month.
        let one = month(&settings(&["us-east-1a"], 1, true), &IDLE);
        let expected = 0.395 * 730.0 + 10.0 * 0.01 * 730.0 + 0.005 * 730.0 + 3.0 + 5.0 * 0.14;
        assert!((one.monthly_usd - expected).abs() < 0.01, "{} vs {expected}", one.monthly_usd);
        // "Roughly $370-400": within a few dollars of it.
        assert!((365.0..=400.0).contains(&one.monthly_usd), "{}", one.monthly_usd);
        let three = month(&settings(&["us-east-1a", "us-east-1b", "us-east-1c"], 1, true), &IDLE);
        let ratio = three.monthly_usd / one.monthly_usd;
        assert!((2.9..=3.0).contains(&ratio), "three zones {} = {ratio} × one", three.monthly_usd);
        assert!(three.items.iter().any(|i| i.meter == "nat-gateway-hour-waived" && i.monthly_usd < 0.0));
    }

    #[test]
    fn ten_users_cost_more_than_one() {
        let a = Assumptions::default();
        let one = month(&settings(&["us-east-1a"], 1, true), &a);
        let ten = month(&settings(&["us-east-1a"], 10, true), &a);
        let app = |e: &Estimate| e.items.iter().find(|i| i.meter.starts_with("studio-app-hour")).unwrap().clone();
        assert_eq!(app(&ten).count, 10.0);
        assert_eq!(app(&ten).monthly_usd, 10.0 * app(&one).monthly_usd);
        assert!(ten.monthly_usd > one.monthly_usd + 80.0, "{} vs {}", ten.monthly_usd, one.monthly_usd);
    }

    #[test]
    fn plan_names_what_changed() {
        let one = settings(&["us-east-1a"], 1, true);
        let more = settings(&["us-east-1a", "us-east-1b"], 3, false);
        assert_eq!(changes(&one, &more), ["1 zone added", "2 users added", "logging off"]);
        assert_eq!(changes(&more, &one), ["1 zone removed", "2 users removed", "logging on"]);
        assert!(changes(&one, &one).is_empty());
    }

    #[test]
    fn bad_assumptions_are_refused_by_flag() {
        let a = CostAssumptions {
            app_hours: Some(-1.0),
            internet_gb: None,
            endpoint_gb: None,
            bucket_gb: None,
            efs_gb: None,
            log_gb: None,
        };
        let e = a.resolve().unwrap_err().to_string();
        assert!(e.contains("--app-hours -1"), "{e}");
        let a = CostAssumptions { app_hours: Some(800.0), ..a };
        assert!(a.resolve().unwrap_err().to_string().contains("730 hours"));
    }
}

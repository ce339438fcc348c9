//! What the stack costs a month: the arithmetic, the assumptions and the
//! price table. Pure, but for `price_list` (the AWS Price List Query API).
//!
//! A kind says what it is billed for (`Kind::priced`: a list of `Use`s,
//! each naming a meter of `prices.json`, how many, per what, and on what
//! usage); the command layer walks the step graph the parameters build and
//! hands every use here. Adding a priced kind is its `priced` line, and a
//! meter row in `prices.json` when the meter is new.
//!
//! Usage-based parts (GB through the firewall and the endpoints, the hours
//! apps run, what the buckets, the home EFS and the logs hold) come from
//! `Assumptions`: stated defaults, each a flag of `provision cost`.
//!
//! The NAT gateway's hourly and per-GB charges are waived one for one when
//! it is chained with a Network Firewall endpoint: AWS Network Firewall
//! pricing, "NAT gateway with Network Firewall" ("If you create a NAT
//! gateway with a Network Firewall endpoint, standard NAT gateway processing
//! and per-hour usage charges are waived on a one-to-one basis with the
//! processing per GB and usage hours charged for your firewall"). In this
//! stack every NAT gateway's traffic leaves through its zone's firewall
//! endpoint, so `estimate` waives min(NAT, endpoint) hours and
//! min(NAT GB, firewall GB), each on a line of its own that says so.

pub mod price_list;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// AWS bills a month as 730 hours (its pricing pages' and calculator's convention).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The meters whose charges the NAT waiver cancels, and what cancels them.
pub const NAT_HOURS: &str = "nat-gateway-hour";
pub const NAT_GB: &str = "nat-gateway-gb";
pub const FIREWALL_HOURS: &str = "firewall-endpoint-hour";
pub const FIREWALL_GB: &str = "firewall-gb";

/// How a use's count grows with the parameters (what the line says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    Zone,
    User,
    Stack,
}

/// Traffic a use carries: a share of the stack's monthly GB (`Assumptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// To the internet: through the NAT gateways and the firewall.
    Internet,
    /// To AWS services through the interface endpoints.
    Endpoints,
    /// Into CloudWatch Logs (flow logs, the firewall's logs).
    Logs,
}

/// What a use holds at rest (`Assumptions`, GB-months).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Buckets,
    HomeEfs,
    Logs,
}

/// What a meter's quantity is for a month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Usage {
    /// Billed every hour it exists: count × 730 hours.
    Always,
    /// Billed per unit-month: count units (keys, GB of a fixed volume).
    Monthly,
    /// An app's hours: count × `Assumptions::app_hours`.
    AppHours,
    /// The stack's traffic of that flow (its uses share it: the count only says how many carry it).
    Traffic(Flow),
    /// The stack's data of that store (its uses share it).
    Stored(Store),
}

/// One thing a kind is billed for.
#[derive(Debug, Clone, PartialEq)]
pub struct Use {
    /// A meter of `prices.json`.
    pub meter: String,
    pub count: f64,
    pub per: Per,
    pub usage: Usage,
}

impl Use {
    pub fn new(meter: &str, count: usize, per: Per, usage: Usage) -> Use {
        Use { meter: meter.to_string(), count: count as f64, per, usage }
    }
}

/// The usage a price list cannot know, with defaults that can be defended
/// (each a flag of `provision cost`).
#[derive(Debug, Clone, Serialize)]
pub struct Assumptions {
    /// Hours a user's JupyterLab app runs a month: 8 hours on 22 working
    /// days; idle shutdown (on by default) stops it when unused.
    pub app_hours_per_user: f64,
    /// GB a user sends to and fetches from the internet a month (packages,
    /// datasets from the allowed domains), through NAT and firewall.
    pub internet_gb_per_user: f64,
    /// GB a user moves through the interface endpoints a month (SageMaker
    /// API, ECR, logs, metrics).
    pub endpoint_gb_per_user: f64,
    /// GB held in the two buckets (S3 Standard).
    pub bucket_gb: f64,
    /// GB on the home EFS (today's Studio keeps a user's files on the
    /// space's volume, so the EFS holds little).
    pub home_efs_gb: f64,
    /// GB of logs a month (flow logs and the firewall's), ingested and held.
    pub log_gb: f64,
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            app_hours_per_user: 8.0 * 22.0,
            internet_gb_per_user: 5.0,
            endpoint_gb_per_user: 10.0,
            bucket_gb: 10.0,
            home_efs_gb: 1.0,
            log_gb: 5.0,
        }
    }
}

impl Assumptions {
    fn traffic_gb(&self, f: Flow, users: usize) -> f64 {
        match f {
            Flow::Internet => self.internet_gb_per_user * users as f64,
            Flow::Endpoints => self.endpoint_gb_per_user * users as f64,
            Flow::Logs => self.log_gb,
        }
    }

    fn stored_gb(&self, s: Store) -> f64 {
        match s {
            Store::Buckets => self.bucket_gb,
            Store::HomeEfs => self.home_efs_gb,
            Store::Logs => self.log_gb,
        }
    }

    /// Every value, for `--json` and the text's footer.
    pub fn describe(&self) -> String {
        format!(
            "apps {} h/month per user, internet {} GB and endpoints {} GB per user a month, buckets {} GB, home EFS {} GB, logs {} GB a month",
            self.app_hours_per_user,
            self.internet_gb_per_user,
            self.endpoint_gb_per_user,
            self.bucket_gb,
            self.home_efs_gb,
            self.log_gb
        )
    }
}

/// The shipped price table (`src/cost/prices.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct Table {
    pub as_of: String,
    /// Region → its usage-type prefix in the price list (`USE2`).
    pub regions: BTreeMap<String, String>,
    pub meters: BTreeMap<String, Meter>,
}

/// One billed unit: what it is, how the Price List Query API finds it, and
/// its price per region with the source.
#[derive(Debug, Clone, Deserialize)]
pub struct Meter {
    pub what: String,
    /// "hour", "GB", "GB-month", "month".
    pub unit: String,
    pub service_code: String,
    /// Attribute TERM_MATCH filters besides `regionCode` (`productFamily`, ...).
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// The usage type without its region prefix (`NatGateway-Hours`): the
    /// product whose `usagetype` is this, or ends with `-` and this.
    pub usagetype: String,
    pub source: String,
    pub usd: BTreeMap<String, f64>,
}

pub const PRICES_JSON: &str = include_str!("prices.json");

/// The meters of an app's hours: `studio-app-hour:{instance type}`.
pub const APP_HOURS: &str = "studio-app-hour:";
/// The instance type whose row the other types' meters are made from.
const APP_TEMPLATE: &str = "ml.t3.medium";

impl Table {
    /// A meter by name. An app instance type the table has no row for is
    /// the ml.t3.medium row with its instance type (and no price): the
    /// Price List API can price it, the table cannot.
    pub fn meter(&self, name: &str) -> Option<Meter> {
        if let Some(m) = self.meters.get(name) {
            return Some(m.clone());
        }
        let instance = name.strip_prefix(APP_HOURS)?;
        let mut m = self.meters.get(&format!("{APP_HOURS}{APP_TEMPLATE}"))?.clone();
        let swap = |s: &str| s.replace(APP_TEMPLATE, instance);
        m.what = swap(&m.what);
        m.usagetype = swap(&m.usagetype);
        m.filters = m.filters.iter().map(|(k, v)| (k.clone(), swap(v))).collect();
        m.usd.clear();
        m.source = format!("{} (no row for {instance} in the table)", m.source);
        Some(m)
    }
}

pub fn table() -> Table {
    serde_json::from_str(PRICES_JSON).expect("src/cost/prices.json parses (a unit test holds it)")
}

/// Where a price came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    PriceList,
    Table,
}

#[derive(Debug, Clone, Serialize)]
pub struct Price {
    pub usd: f64,
    pub source: Source,
}

/// The prices of one region: the Price List API's where it answered, else the table's.
#[derive(Debug, Clone, Default)]
pub struct Prices {
    pub by_meter: BTreeMap<String, Price>,
    /// Why the table was used (the API's error), when it was.
    pub fallback: Option<String>,
    /// The table's date, or the price list's publication date.
    pub as_of: String,
}

impl Prices {
    /// Every price from the table, for `region` (with why).
    pub fn from_table(t: &Table, region: &str, why: Option<String>) -> Prices {
        let by_meter = t
            .meters
            .iter()
            .filter_map(|(k, m)| m.usd.get(region).map(|&usd| (k.clone(), Price { usd, source: Source::Table })))
            .collect();
        Prices { by_meter, fallback: why, as_of: t.as_of.clone() }
    }

    /// What the output says of the prices' origin.
    pub fn source(&self) -> String {
        let api = self.by_meter.values().filter(|p| p.source == Source::PriceList).count();
        let all = self.by_meter.len();
        let table = "the price table shipped with provision (src/cost/prices.json)";
        match (api, &self.fallback) {
            (0, Some(why)) => format!("{table}: the AWS Price List Query API did not answer ({why})"),
            (0, None) => table.to_string(),
            (n, _) if n == all => "the AWS Price List Query API (pricing:GetProducts)".to_string(),
            (n, _) => format!("the AWS Price List Query API for {n} of {all} prices, {table} for the rest"),
        }
    }
}

/// One line of the estimate.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub meter: String,
    pub what: String,
    pub count: f64,
    pub per: Per,
    pub unit: String,
    pub unit_usd: f64,
    /// Hours, GB, GB-months or months in a month.
    pub quantity: f64,
    pub monthly_usd: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_source: Option<Source>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub monthly_usd: f64,
    pub items: Vec<Item>,
}

/// The stack's shape the per-zone and per-user lines are read against.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub zones: usize,
    pub users: usize,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The month's cost of `uses` at `prices`: one item per meter (the uses of
/// one meter summed), the NAT waiver on lines of its own, the total.
pub fn estimate(uses: &[Use], prices: &Prices, t: &Table, a: &Assumptions, shape: Shape) -> Estimate {
    let mut grouped: Vec<(String, f64, Per, Usage)> = Vec::new();
    for u in uses {
        match grouped.iter_mut().find(|(m, ..)| *m == u.meter) {
            Some(g) => g.1 += u.count,
            None => grouped.push((u.meter.clone(), u.count, u.per, u.usage)),
        }
    }
    let mut items: Vec<Item> = grouped
        .into_iter()
        .map(|(meter, count, per, usage)| {
            let quantity = match usage {
                Usage::Always => count * HOURS_PER_MONTH,
                Usage::Monthly => count,
                Usage::AppHours => count * a.app_hours_per_user,
                Usage::Traffic(f) => a.traffic_gb(f, shape.users),
                Usage::Stored(s) => a.stored_gb(s),
            };
            let m = t.meter(&meter);
            let m = m.as_ref();
            let price = prices.by_meter.get(&meter);
            let unit_usd = price.map(|p| p.usd).unwrap_or(0.0);
            let note = match (m, price) {
                (None, _) => format!("no meter {meter} in the price table: not priced"),
                (Some(_), None) => "no price in the table or the price list: not priced".to_string(),
                _ => String::new(),
            };
            Item {
                what: m.map(|m| m.what.clone()).unwrap_or_else(|| meter.clone()),
                unit: m.map(|m| m.unit.clone()).unwrap_or_default(),
                meter,
                count,
                per,
                unit_usd,
                quantity,
                monthly_usd: round2(quantity * unit_usd),
                price_source: price.map(|p| p.source.clone()),
                note,
            }
        })
        .collect();
    // Each waiver right after the charge it cancels.
    for w in nat_waiver(&items) {
        let base = w.meter.trim_end_matches("-waived").to_string();
        let at = items.iter().position(|i| i.meter == base).map_or(items.len(), |p| p + 1);
        items.insert(at, w);
    }
    let monthly_usd = round2(items.iter().map(|i| i.monthly_usd).sum());
    Estimate { monthly_usd, items }
}

/// The NAT gateway's charges the firewall endpoints cancel, one for one
/// (module documentation): negative lines.
fn nat_waiver(items: &[Item]) -> Vec<Item> {
    let get = |m: &str| items.iter().find(|i| i.meter == m);
    let mut out = Vec::new();
    for (nat, nfw, what) in [
        (NAT_HOURS, FIREWALL_HOURS, "NAT gateway hours waived"),
        (NAT_GB, FIREWALL_GB, "NAT gateway processing waived"),
    ] {
        let (Some(n), Some(f)) = (get(nat), get(nfw)) else { continue };
        let quantity = n.quantity.min(f.quantity);
        if quantity <= 0.0 {
            continue;
        }
        out.push(Item {
            meter: format!("{nat}-waived"),
            what: what.to_string(),
            count: n.count.min(f.count),
            per: n.per,
            unit: n.unit.clone(),
            unit_usd: -n.unit_usd,
            quantity,
            monthly_usd: -round2(quantity * n.unit_usd),
            price_source: n.price_source.clone(),
            note: "chained with a firewall endpoint: waived one for one (AWS Network Firewall pricing, \"NAT gateway with Network Firewall\")".to_string(),
        });
    }
    out
}

/// "$1,234.56" (negative: "-$12.00").
pub fn dollars(x: f64) -> String {
    let cents = (x.abs() * 100.0).round() as u64;
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}${grouped}.{:02}", if x < 0.0 { "-" } else { "" }, cents % 100)
}

/// The text lines of an estimate: what, how many, unit price, quantity, month; the total.
pub fn render(e: &Estimate, shape: Shape) -> Vec<String> {
    let mut out = Vec::new();
    for i in &e.items {
        let each = match i.per {
            Per::Zone if shape.zones > 0 => format!(" ({} per zone)", fmt_num(i.count / shape.zones as f64)),
            Per::User if shape.users > 0 => format!(" ({} per user)", fmt_num(i.count / shape.users as f64)),
            _ => String::new(),
        };
        let qty_unit = match i.unit.as_str() {
            "hour" => "h",
            "month" => "mo",
            u => u,
        };
        let note = if i.note.is_empty() { String::new() } else { format!("  [{}]", i.note) };
        out.push(format!(
            "{:<40} {:>16}  {:>8}/{:<8} × {:>6} {:<8} {:>11}{note}",
            i.what,
            format!("{}{each}", fmt_num(i.count)),
            format!("${}", trim_price(i.unit_usd.abs())),
            i.unit,
            fmt_num(i.quantity),
            qty_unit,
            dollars(i.monthly_usd),
        ));
    }
    out.push(format!("{:<40} {:>73}", "Total a month", dollars(e.monthly_usd)));
    out
}

fn fmt_num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{}", x.round() as i64) } else { format!("{x:.2}") }
}

fn trim_price(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0');
    let s = if s.ends_with('.') { format!("{s}00") } else { s.to_string() };
    // At least two decimals: $0.05, $0.395, $1.00.
    match s.split_once('.') {
        Some((_, d)) if d.len() < 2 => format!("{s}0"),
        _ => s,
    }
}

/// The difference between two estimates as `plan` says it: "+$96.00/month".
pub fn delta(before: &Estimate, after: &Estimate) -> String {
    let d = round2(after.monthly_usd - before.monthly_usd);
    format!("{}{}/month", if d >= 0.0 { "+" } else { "" }, dollars(d))
}

#[cfg(test)]
mod tests;

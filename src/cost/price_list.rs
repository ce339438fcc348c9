//! Prices from the AWS Price List Query API (`pricing:GetProducts`), for
//! the stack's region; what it does not answer comes from the shipped table.
//!
//! GetProducts (AWS Price List Query API reference, "GetProducts"): a
//! `ServiceCode`, TERM_MATCH `Filters` on product attributes, `FormatVersion`
//! `aws_v1`; the answer's `PriceList` is a list of JSON *strings*, each a
//! product: `{"product": {"productFamily", "attributes": {"usagetype",
//! "regionCode", ...}, "sku"}, "terms": {"OnDemand": {"<sku>.<term>":
//! {"priceDimensions": {"<sku>.<term>.<rate>": {"unit", "beginRange",
//! "pricePerUnit": {"USD": "0.3950000000"}}}}}}, "publicationDate"}`.
//! The API has endpoints in a few regions only (us-east-1 among them:
//! "Using the AWS Price List Query API", AWS Billing user guide) and answers
//! for every region's prices, so the client is always us-east-1's
//! (`aws::pricing_client`).
//!
//! A meter is the product of its service code whose `usagetype` is the
//! meter's, region prefix aside (`USE2-NatGateway-Hours`; EC2's us-east-1
//! usage types carry none), queried with `regionCode` and the meter's own
//! filters; its price the first tier of its on-demand term.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use aws_sdk_pricing::types::{Filter, FilterType};
use serde_json::Value;

use super::{Meter, Price, Prices, Source, Table};

/// Pages read per meter at most (a filter too loose is a meter error, not a long wait).
const MAX_PAGES: usize = 10;

/// How long all the price queries may take together before the table is used (wall clock).
const BOUND: Duration = Duration::from_secs(30);

/// A GetProducts question: the service code and the filters besides `regionCode`.
type Query = (String, Vec<(String, String)>);

/// The prices of `meters` in `region`: the API's for each meter it
/// answered, the table's for the rest. If it answered none, the table's
/// with the first error as the reason.
pub async fn prices(client: &aws_sdk_pricing::Client, t: &Table, region: &str, meters: &[String]) -> Prices {
    let mut out = Prices::from_table(t, region, None);
    let Some(prefix) = t.regions.get(region) else {
        out.fallback = Some(format!("region {region} is not in the price table"));
        return out;
    };
    // One query per service code and filters: the meters sharing them (a
    // NAT gateway's hours and GB) come from the same answer.
    let mut queries: BTreeMap<Query, Vec<(String, Meter)>> = BTreeMap::new();
    for name in meters {
        let Some(m) = t.meter(name) else { continue };
        let filters = m.filters.iter().map(|(k, v)| (k.clone(), v.replace("{prefix}", prefix))).collect();
        queries.entry((m.service_code.clone(), filters)).or_default().push((name.clone(), m.clone()));
    }
    let mut set = tokio::task::JoinSet::new();
    for ((service, filters), wanted) in queries {
        let (client, region) = (client.clone(), region.to_string());
        set.spawn(async move { (wanted, query(&client, &service, &filters, &region).await) });
    }
    let answers = match tokio::time::timeout(BOUND, set.join_all()).await {
        Ok(a) => a,
        Err(_) => {
            out.fallback = Some(format!("no answer within {}s", BOUND.as_secs()));
            return out;
        }
    };
    let mut errors = Vec::new();
    let mut dates = Vec::new();
    for (wanted, r) in answers {
        let docs = match r {
            Ok(docs) => docs,
            Err(e) => {
                errors.push(format!("{e:#}"));
                continue;
            }
        };
        for (name, m) in wanted {
            match docs.iter().find_map(|d| price_of(d, &m.usagetype).transpose()) {
                Some(Ok((usd, date))) => {
                    out.by_meter.insert(name, Price { usd, source: Source::PriceList });
                    dates.push(date);
                }
                Some(Err(e)) => errors.push(format!("{name}: {e:#}")),
                None => errors.push(format!("{name}: no product with usage type {}", m.usagetype)),
            }
        }
    }
    if dates.is_empty() {
        out.fallback = errors.into_iter().next().or(Some("no price answered".into()));
    } else {
        dates.sort();
        out.as_of = dates.pop().unwrap_or_default();
        if !errors.is_empty() {
            out.fallback = Some(errors.join("; "));
        }
    }
    out
}

/// Every product (a JSON string) of `service` in `region` that `filters` match.
async fn query(
    client: &aws_sdk_pricing::Client,
    service: &str,
    filters: &[(String, String)],
    region: &str,
) -> Result<Vec<String>> {
    let mut all = vec![term("regionCode", region)?];
    for (field, value) in filters {
        all.push(term(field, value)?);
    }
    let mut docs = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = client
            .get_products()
            .service_code(service)
            .set_filters(Some(all.clone()))
            .format_version("aws_v1")
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(crate::error::aws)
            .with_context(|| format!("pricing:GetProducts {service} in {region}"))?;
        docs.extend(page.price_list().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(docs)
}

fn term(field: &str, value: &str) -> Result<Filter> {
    Ok(Filter::builder().r#type(FilterType::TermMatch).field(field).value(value).build()?)
}

/// The price of one price-list product (a JSON string) if its usage type is `usagetype`.
pub fn price_of(doc: &str, usagetype: &str) -> Result<Option<(f64, String)>> {
    let v: Value = serde_json::from_str(doc).context("a PriceList entry that is not JSON")?;
    let ut = v["product"]["attributes"]["usagetype"].as_str().unwrap_or_default();
    if ut != usagetype && !ut.ends_with(&format!("-{usagetype}")) {
        return Ok(None);
    }
    let on_demand = v["terms"]["OnDemand"].as_object().ok_or_else(|| anyhow!("product {ut}: no OnDemand term"))?;
    let mut dims: Vec<&Value> =
        on_demand.values().filter_map(|t| t["priceDimensions"].as_object()).flat_map(|d| d.values()).collect();
    // The first tier: beginRange 0 (or none given).
    dims.sort_by_key(|d| d["beginRange"].as_str().and_then(|b| b.parse::<f64>().ok()).map(|b| b as u64).unwrap_or(0));
    let Some(d) = dims.first() else { return Ok(None) };
    let usd = d["pricePerUnit"]["USD"]
        .as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| anyhow!("product {ut}: no USD price"))?;
    let date = v["publicationDate"].as_str().unwrap_or_default().to_string();
    Ok(Some((usd, date)))
}

/// The meters in `uses`, once each.
pub fn meters_of(uses: &[super::Use]) -> Vec<String> {
    let mut m: Vec<String> = uses.iter().map(|u| u.meter.clone()).collect();
    m.sort();
    m.dedup();
    m
}

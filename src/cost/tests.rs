use super::*;

fn table_prices(region: &str) -> (Table, Prices) {
    let t = table();
    let p = Prices::from_table(&t, region, None);
    (t, p)
}

fn item<'a>(e: &'a Estimate, meter: &str) -> &'a Item {
    e.items.iter().find(|i| i.meter == meter).unwrap_or_else(|| panic!("no {meter} in {:#?}", e.items))
}

/// The uses of a firewall and NAT gateway in `zones` zones (as their kinds say them).
fn egress(zones: usize) -> Vec<Use> {
    let mut u = vec![
        Use::new(FIREWALL_HOURS, zones, Per::Zone, Usage::Always),
        Use::new(FIREWALL_GB, zones, Per::Zone, Usage::Traffic(Flow::Internet)),
    ];
    for _ in 0..zones {
        u.push(Use::new(NAT_HOURS, 1, Per::Zone, Usage::Always));
        u.push(Use::new(NAT_GB, 1, Per::Zone, Usage::Traffic(Flow::Internet)));
    }
    u
}

#[test]
fn every_supported_region_has_every_meter_with_a_source() {
    let t = table();
    assert!(!t.as_of.is_empty());
    let regions = [
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "eu-north-1",
        "ap-southeast-2",
        "ap-northeast-1",
    ];
    for (name, m) in &t.meters {
        assert!(m.source.starts_with("https://aws.amazon.com/"), "{name}: {}", m.source);
        assert!(["hour", "GB", "GB-month", "month"].contains(&m.unit.as_str()), "{name}: {}", m.unit);
        for r in regions {
            let usd = m.usd.get(r).unwrap_or_else(|| panic!("{name}: no price for {r}"));
            assert!(*usd > 0.0, "{name} {r}");
        }
    }
    for r in regions {
        assert!(t.regions.contains_key(r), "no usage-type prefix for {r}");
    }
}

#[test]
fn nat_hours_and_gb_are_waived_one_for_one_beside_firewall_endpoints() {
    let (t, p) = table_prices("us-east-1");
    let a = Assumptions::default();
    let e = estimate(&egress(2), &p, &t, &a, Shape { zones: 2, users: 1 });
    let nat = item(&e, NAT_HOURS);
    assert_eq!(nat.count, 2.0);
    assert_eq!(nat.monthly_usd, 65.7); // 2 × 730 h × $0.045
    let waived = item(&e, "nat-gateway-hour-waived");
    assert_eq!(waived.monthly_usd, -65.7);
    assert!(waived.note.contains("NAT gateway with Network Firewall"), "{}", waived.note);
    let gb = item(&e, "nat-gateway-gb-waived");
    assert_eq!(gb.quantity, 5.0); // one user's internet GB
    assert_eq!(gb.monthly_usd, -item(&e, NAT_GB).monthly_usd);
    // What remains is the firewall's: 2 × 730 h × $0.395 + 5 GB × $0.065.
    assert_eq!(e.monthly_usd, 577.03);
}

#[test]
fn without_a_firewall_endpoint_nothing_is_waived() {
    let (t, p) = table_prices("us-east-1");
    let uses = vec![Use::new(NAT_HOURS, 1, Per::Zone, Usage::Always)];
    let e = estimate(&uses, &p, &t, &Assumptions::default(), Shape { zones: 1, users: 1 });
    assert_eq!(e.items.len(), 1);
    assert_eq!(e.monthly_usd, 32.85);
}

#[test]
fn waiver_is_capped_by_the_endpoints_hours() {
    let (t, p) = table_prices("us-east-1");
    // Three NAT gateways, one firewall endpoint: one NAT gateway's hours are waived.
    let mut uses = vec![Use::new(FIREWALL_HOURS, 1, Per::Zone, Usage::Always)];
    uses.extend((0..3).map(|_| Use::new(NAT_HOURS, 1, Per::Zone, Usage::Always)));
    let e = estimate(&uses, &p, &t, &Assumptions::default(), Shape { zones: 3, users: 1 });
    assert_eq!(item(&e, "nat-gateway-hour-waived").monthly_usd, -32.85);
    assert_eq!(item(&e, NAT_HOURS).monthly_usd, 98.55);
}

#[test]
fn per_zone_hours_scale_and_shared_traffic_does_not_multiply() {
    let (t, p) = table_prices("us-east-1");
    let a = Assumptions::default();
    let one = estimate(&egress(1), &p, &t, &a, Shape { zones: 1, users: 1 });
    let three = estimate(&egress(3), &p, &t, &a, Shape { zones: 3, users: 1 });
    assert!((item(&three, FIREWALL_HOURS).monthly_usd - 3.0 * item(&one, FIREWALL_HOURS).monthly_usd).abs() < 0.01);
    // The same users' traffic, split over three zones' endpoints: the same GB.
    assert_eq!(item(&three, FIREWALL_GB).quantity, item(&one, FIREWALL_GB).quantity);
}

#[test]
fn usage_assumptions_drive_app_hours_and_traffic() {
    let (t, p) = table_prices("us-east-1");
    let uses: Vec<Use> = (0..10)
        .flat_map(|_| {
            [
                Use::new("studio-app-hour:ml.t3.medium", 1, Per::User, Usage::AppHours),
                Use::new("interface-endpoint-gb", 1, Per::Stack, Usage::Traffic(Flow::Endpoints)),
            ]
        })
        .collect();
    let a = Assumptions::default();
    let e = estimate(&uses, &p, &t, &a, Shape { zones: 1, users: 10 });
    let app = item(&e, "studio-app-hour:ml.t3.medium");
    assert_eq!(app.quantity, 10.0 * 176.0);
    assert_eq!(app.monthly_usd, 88.0); // 1,760 h × $0.05
    assert_eq!(item(&e, "interface-endpoint-gb").quantity, 100.0); // 10 users × 10 GB
    let idle = Assumptions { app_hours_per_user: 0.0, ..a };
    assert_eq!(
        item(&estimate(&uses, &p, &t, &idle, Shape { zones: 1, users: 10 }), "studio-app-hour:ml.t3.medium")
            .monthly_usd,
        0.0
    );
}

#[test]
fn another_app_instance_type_is_asked_of_the_price_list_not_guessed() {
    let t = table();
    let m = t.meter("studio-app-hour:ml.m5.large").unwrap();
    assert_eq!(m.usagetype, "Studio:ml.m5.large");
    assert_eq!(m.filters["usagetype"], "{prefix}-Studio:ml.m5.large");
    assert_eq!(m.what, "JupyterLab app ml.m5.large");
    assert!(m.usd.is_empty());
    assert!(t.meter("no-such-meter").is_none());
}

#[test]
fn an_unknown_meter_is_shown_unpriced_not_guessed() {
    let (t, p) = table_prices("us-east-1");
    let uses = vec![Use::new("studio-app-hour:ml.p5.48xlarge", 1, Per::User, Usage::AppHours)];
    let e = estimate(&uses, &p, &t, &Assumptions::default(), Shape { zones: 1, users: 1 });
    assert_eq!(e.monthly_usd, 0.0);
    assert!(e.items[0].note.contains("not priced"), "{}", e.items[0].note);
}

#[test]
fn a_price_list_product_is_read_at_its_first_tier() {
    let doc = r#"{"product":{"productFamily":"NAT Gateway","attributes":{"usagetype":"USE2-NatGateway-Hours","regionCode":"us-east-2"},"sku":"X"},
        "terms":{"OnDemand":{"X.T":{"priceDimensions":{"X.T.R2":{"unit":"Hrs","beginRange":"100","pricePerUnit":{"USD":"0.0100000000"}},
        "X.T.R1":{"unit":"Hrs","beginRange":"0","pricePerUnit":{"USD":"0.0450000000"}}}}}},"publicationDate":"2026-11-01T00:00:00Z"}"#;
    assert_eq!(price_list::price_of(doc, "NatGateway-Hours").unwrap(), Some((0.045, "2026-11-01T00:00:00Z".into())));
    assert_eq!(price_list::price_of(doc, "NatGateway-Bytes").unwrap(), None);
    // A usage type that merely ends the same way is not the meter's.
    assert_eq!(price_list::price_of(doc, "Gateway-Hours").unwrap(), None);
}

#[test]
fn prices_say_their_source() {
    let t = table();
    let mut p = Prices::from_table(&t, "eu-west-1", Some("AccessDeniedException: no".into()));
    assert!(p.source().contains("shipped with provision"), "{}", p.source());
    assert!(p.source().contains("AccessDeniedException"), "{}", p.source());
    for v in p.by_meter.values_mut() {
        v.source = Source::PriceList;
    }
    p.fallback = None;
    assert_eq!(p.source(), "the AWS Price List Query API (pricing:GetProducts)");
}

#[test]
fn dollars_and_delta_read_as_money() {
    assert_eq!(dollars(1234.5), "$1,234.50");
    assert_eq!(dollars(-12.0), "-$12.00");
    assert_eq!(dollars(0.004), "$0.00");
    let e = |x| Estimate { monthly_usd: x, items: Vec::new() };
    assert_eq!(delta(&e(380.0), &e(476.0)), "+$96.00/month");
    assert_eq!(delta(&e(476.0), &e(380.0)), "-$96.00/month");
}

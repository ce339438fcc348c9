"""The Price List Query API (pricing.py): GetProducts through boto3 answers the stack's products in
the API's shape (PriceList entries are JSON strings), filters by TERM_MATCH, pages, refuses what the
API refuses, and serves a price a test changed through /_emulator/prices."""
import json

import pytest
from botocore.exceptions import ClientError

from helpers import err


def products(pricing, **kw):
    out, token = [], None
    while True:
        page = pricing.get_products(FormatVersion="aws_v1", **kw, **({"NextToken": token} if token else {}))
        assert page["FormatVersion"] == "aws_v1"
        assert all(isinstance(p, str) for p in page["PriceList"])  # JSON strings, as the API answers
        out += [json.loads(p) for p in page["PriceList"]]
        token = page.get("NextToken")
        if not token:
            return out


def usd(product):
    (term,) = product["terms"]["OnDemand"].values()
    (dim,) = term["priceDimensions"].values()
    return float(dim["pricePerUnit"]["USD"]), dim["unit"]


def term(field, value):
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


def test_nat_gateway_products_by_region(emulator):
    pricing = emulator.client("pricing")
    found = products(pricing, ServiceCode="AmazonEC2",
                     Filters=[term("regionCode", "us-east-2"), term("productFamily", "NAT Gateway")])
    by_type = {p["product"]["attributes"]["usagetype"]: p for p in found}
    assert set(by_type) == {"USE2-NatGateway-Hours", "USE2-NatGateway-Bytes"}
    assert usd(by_type["USE2-NatGateway-Hours"]) == (0.045, "Hrs")
    assert by_type["USE2-NatGateway-Hours"]["product"]["attributes"]["location"] == "US East (Ohio)"
    # EC2's us-east-1 usage types carry no region prefix; the other services' do.
    east = products(pricing, ServiceCode="AmazonEC2", Filters=[term("regionCode", "us-east-1")])
    assert {p["product"]["attributes"]["usagetype"] for p in east} == {"NatGateway-Hours", "NatGateway-Bytes"}
    nfw = products(pricing, ServiceCode="AWSNetworkFirewall",
                   Filters=[term("regionCode", "us-east-1"), term("usagetype", "USE1-Endpoint-Hour")])
    assert [usd(p) for p in nfw] == [(0.395, "Hrs")]


def test_paging_and_unknown_service(emulator):
    pricing = emulator.client("pricing")
    first = pricing.get_products(ServiceCode="AmazonVPC", FormatVersion="aws_v1", MaxResults=5)
    assert len(first["PriceList"]) == 5 and first["NextToken"]
    everything = products(pricing, ServiceCode="AmazonVPC", MaxResults=5)
    assert len(everything) == 3 * 8  # three VPC meters, eight regions
    assert len({p["product"]["sku"] for p in everything}) == len(everything)
    assert pricing.get_products(ServiceCode="AmazonRDS", FormatVersion="aws_v1")["PriceList"] == []


def test_refusals(emulator):
    pricing = emulator.client("pricing")
    with pytest.raises(ClientError) as e:
        pricing.get_products(ServiceCode="AmazonEC2", FormatVersion="aws_v2")
    assert err(e) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as e:
        pricing.get_products(ServiceCode="AmazonEC2", FormatVersion="aws_v1", NextToken="forged")
    assert err(e) == ("InvalidNextTokenException", 400)
    with pytest.raises(ClientError) as e:
        pricing.get_products(ServiceCode="AmazonEC2", FormatVersion="aws_v1",
                             Filters=[{"Type": "ANY_OF", "Field": "regionCode", "Value": "us-east-1"}])
    assert err(e) == ("InvalidParameterException", 400)


def test_a_changed_price_is_served_until_reset(make_emulator):
    emu = make_emulator()
    pricing = emu.client("pricing")
    q = dict(ServiceCode="AWSNetworkFirewall", Filters=[term("regionCode", "eu-west-1"), term("usagetype", "EU-Endpoint-Hour")])
    assert [usd(p)[0] for p in products(pricing, **q)] == [0.395]
    status, out = emu.control("POST", "prices", {"service_code": "AWSNetworkFirewall", "usagetype": "Endpoint-Hour",
                                                 "region": "eu-west-1", "usd": 0.5})
    assert status == 200 and out["usd"] == 0.5
    assert [usd(p)[0] for p in products(pricing, **q)] == [0.5]
    assert emu.get("prices")["overrides"] == [out]
    # Only that region's product changed.
    other = products(pricing, ServiceCode="AWSNetworkFirewall",
                     Filters=[term("regionCode", "us-east-1"), term("usagetype", "USE1-Endpoint-Hour")])
    assert [usd(p)[0] for p in other] == [0.395]
    status, bad = emu.control("POST", "prices", {"service_code": "AmazonEC2", "usagetype": "Nope", "region": "us-east-1",
                                                 "usd": 1})
    assert status == 400 and "no product AmazonEC2 Nope" in bad["error"]
    emu.control("POST", "reset")
    assert [usd(p)[0] for p in products(pricing, **q)] == [0.395]


def test_calls_are_logged_and_faults_apply(make_emulator):
    emu = make_emulator()
    pricing = emu.client("pricing")
    emu.post("faults", {"operation": "pricing:GetProducts", "error_code": "AccessDeniedException", "status": 400})
    with pytest.raises(ClientError) as e:
        pricing.get_products(ServiceCode="AmazonEC2", FormatVersion="aws_v1")
    assert err(e) == ("AccessDeniedException", 400)
    pricing.get_products(ServiceCode="AmazonEC2", FormatVersion="aws_v1")
    calls = [c for c in emu.get("calls")["calls"] if c["operation"] == "pricing:GetProducts"]
    assert [c["status"] for c in calls] == [400, 200]

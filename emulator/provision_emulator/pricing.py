"""The AWS Price List Query API's GetProducts, for the products the stack uses (moto has no pricing).

``provision cost`` (and the cost lines of plan, status and down) asks GetProducts for each meter of
``src/cost/prices.json``: a ServiceCode, TERM_MATCH filters (``regionCode``, ``productFamily``,
``volumeType``, ``usagetype``), FormatVersion ``aws_v1``, MaxResults/NextToken. This module serves
that catalogue, in the API's own shape (AWS Price List Query API reference, "GetProducts"):

- the answer is ``{"FormatVersion": "aws_v1", "PriceList": [...], "NextToken": ...}`` where each
  PriceList entry is a JSON *string* (the reference types it "array of strings", each "a JSON string
  of a product": ``{"product": {"productFamily", "attributes": {...}, "sku"}, "serviceCode",
  "terms": {"OnDemand": {"<sku>.<offerTermCode>": {"priceDimensions": {"<sku>.<offerTermCode>.
  <rateCode>": {"unit", "beginRange", "endRange", "pricePerUnit": {"USD": "0.0450000000"},
  "description", "rateCode", "appliesTo"}}, "sku", "effectiveDate", "offerTermCode",
  "termAttributes"}}}, "version", "publicationDate"}``); botocore's pricing model declares
  ``PriceList`` a list of ``SynthesizedJsonPriceListJsonItem`` strings the same way;
- ``TERM_MATCH`` keeps the products whose attribute (``productFamily`` being the product's own
  field) equals the value; other filter types, and a FormatVersion other than ``aws_v1``, are
  ``InvalidParameterException``; MaxResults 1..100 (default 100); a NextToken not issued here is
  ``InvalidNextTokenException`` (the reference's error list);
- usage types carry the region's prefix (``USE2-NatGateway-Hours``), except EC2's in us-east-1,
  which carry none, as AWS's price list and Cost and Usage Reports name them;
- the on-demand offer term code is ``JRTCKXETXF`` and the rate code's suffix ``6YS6EN2CT7``, the
  codes AWS's price list uses for on-demand terms.

A service code the stack does not use answers an empty PriceList: the emulator does not model the
rest of AWS's catalogue.

Control path (tests change a price and see it in ``provision cost``):

  POST   /_emulator/prices {"service_code": "AWSNetworkFirewall", "usagetype": "Endpoint-Hour",
                            "region": "us-east-1", "usd": 0.5}
         -> the product as now served (usagetype without the region prefix, as in prices.json)
  GET    /_emulator/prices -> {"overrides": [...]}
  DELETE /_emulator/prices -> clears them (a reset does too)
"""
import hashlib
import json
import os
import threading

from . import control

PRICES_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "cost", "prices.json")
FORMAT_VERSION = "aws_v1"
ON_DEMAND_TERM = "JRTCKXETXF"
RATE_CODE = "6YS6EN2CT7"
PUBLICATION_DATE = "2026-12-01T00:00:00Z"
_UNITS = {"hour": "Hrs", "GB": "GB", "GB-month": "GB-Mo", "month": "Keys"}
LOCATIONS = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-2": "US West (Oregon)",
             "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)", "eu-north-1": "EU (Stockholm)",
             "ap-southeast-2": "Asia Pacific (Sydney)", "ap-northeast-1": "Asia Pacific (Tokyo)"}

_lock = threading.Lock()
_overrides = {}  # (service_code, usagetype, region) -> usd


def _table():
    with open(PRICES_JSON) as f:
        return json.load(f)


def usage_type(service_code, prefix, usagetype):
    """The region-prefixed usage type AWS lists (EC2's in us-east-1 without a prefix)."""
    if service_code == "AmazonEC2" and prefix == "USE1":
        return usagetype
    return f"{prefix}-{usagetype}"


def products(service_code):
    """Every product of ``service_code`` the stack uses, in every region, as (attributes, doc) pairs."""
    t = _table()
    out = []
    for meter, m in sorted(t["meters"].items()):
        if m["service_code"] != service_code:
            continue
        for region, usd in sorted(m["usd"].items()):
            prefix = t["regions"][region]
            with _lock:
                usd = _overrides.get((service_code, m["usagetype"], region), usd)
            ut = usage_type(service_code, prefix, m["usagetype"])
            attrs = {k: v.replace("{prefix}", prefix) for k, v in m.get("filters", {}).items() if k != "productFamily"}
            attrs.update({"usagetype": ut, "regionCode": region, "location": LOCATIONS.get(region, region),
                          "locationType": "AWS Region", "servicecode": service_code})
            family = m.get("filters", {}).get("productFamily", "")
            sku = hashlib.sha1(f"{service_code}/{ut}/{region}".encode()).hexdigest()[:16].upper()
            term = f"{sku}.{ON_DEMAND_TERM}"
            doc = {
                "product": {"productFamily": family, "attributes": attrs, "sku": sku},
                "serviceCode": service_code,
                "terms": {"OnDemand": {term: {
                    "priceDimensions": {f"{term}.{RATE_CODE}": {
                        "unit": _UNITS.get(m["unit"], m["unit"]), "beginRange": "0", "endRange": "Inf",
                        "description": f"{m['what']} ({region})", "rateCode": f"{term}.{RATE_CODE}",
                        "appliesTo": [], "pricePerUnit": {"USD": f"{usd:.10f}"}}},
                    "sku": sku, "effectiveDate": PUBLICATION_DATE, "offerTermCode": ON_DEMAND_TERM,
                    "termAttributes": {}}}},
                "version": PUBLICATION_DATE.replace("-", "").replace(":", "")[:14],
                "publicationDate": PUBLICATION_DATE,
            }
            out.append((dict(attrs, productFamily=family), doc))
    return out


class PricingError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def get_products(body):
    """GetProducts: (answer dict) or PricingError."""
    version = body.get("FormatVersion", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise PricingError("InvalidParameterException", f"FormatVersion {version!r} is not supported: aws_v1")
    service = body.get("ServiceCode")
    if not service:
        raise PricingError("InvalidParameterException", "ServiceCode is required with Filters")
    filters = body.get("Filters") or []
    for f in filters:
        if f.get("Type") != "TERM_MATCH":
            raise PricingError("InvalidParameterException", f"filter type {f.get('Type')!r}: this emulator serves TERM_MATCH")
    size = int(body.get("MaxResults") or 100)
    if not 1 <= size <= 100:
        raise PricingError("InvalidParameterException", "MaxResults must be within 1..100")
    matched = [doc for attrs, doc in products(service)
               if all(attrs.get(f["Field"]) == f["Value"] for f in filters)]
    start = 0
    token = body.get("NextToken")
    if token:
        if not token.startswith("page:") or not token[5:].isdigit():
            raise PricingError("InvalidNextTokenException", "The NextToken is not valid")
        start = int(token[5:])
    page = matched[start:start + size]
    out = {"FormatVersion": FORMAT_VERSION, "PriceList": [json.dumps(d) for d in page]}
    if start + size < len(matched):
        out["NextToken"] = f"page:{start + size}"
    return out


def set_price(data):
    """POST /_emulator/prices: change what GetProducts answers for one product."""
    if not isinstance(data, dict):
        raise ValueError("prices: expected an object")
    missing = [k for k in ("service_code", "usagetype", "region", "usd") if k not in data]
    if missing:
        raise ValueError(f"prices: missing {', '.join(missing)}")
    usd = data["usd"]
    if not isinstance(usd, (int, float)) or usd < 0:
        raise ValueError(f"prices: usd must be a number >= 0, got {usd!r}")
    known = {(m["service_code"], m["usagetype"]) for m in _table()["meters"].values()}
    if (data["service_code"], data["usagetype"]) not in known:
        raise ValueError(f"prices: no product {data['service_code']} {data['usagetype']} (known: "
                         f"{', '.join(sorted(f'{s} {u}' for s, u in known))})")
    if data["region"] not in LOCATIONS:
        raise ValueError(f"prices: unknown region {data['region']!r}")
    with _lock:
        _overrides[(data["service_code"], data["usagetype"], data["region"])] = float(usd)
    return {"service_code": data["service_code"], "usagetype": data["usagetype"], "region": data["region"],
            "usd": float(usd)}


def overrides(clear=False):
    with _lock:
        if clear:
            _overrides.clear()
        return {"overrides": [{"service_code": s, "usagetype": u, "region": r, "usd": v}
                              for (s, u, r), v in sorted(_overrides.items())]}


def _reset():
    overrides(clear=True)


def install(app):
    """Answers the Price List Query API (JSON 1.1, target prefix AWSPriceListService) before moto."""
    control.on_reset(_reset)

    def pricing_app(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("AWSPriceListService."):
            return app(environ, start_response)
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        operation = target.split(".", 1)[1]
        status, out = 200, None
        try:
            if operation != "GetProducts":
                raise PricingError("InvalidParameterException", f"{operation}: this emulator serves GetProducts only")
            out = get_products(json.loads(raw or b"{}"))
        except PricingError as e:
            status, out = 400, {"__type": e.code, "Message": e.message}
        body = json.dumps(out).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))]
        if status != 200:
            headers.append(("x-amzn-ErrorType", out["__type"]))
        start_response(f"{status} {'OK' if status == 200 else 'Bad Request'}", headers)
        return [body]

    return pricing_app

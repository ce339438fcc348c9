"""The account quotas `provision`'s pre-flight checks, enforced at create time (moto enforces none).

A pre-flight that reads a quota proves nothing if the emulator lets the create through anyway:
on AWS, the create past the quota is refused. Enforced, per account and region, each with the
Service Quotas code the pre-flight reads and AWS's documented default:

| quota | code | default | refused call → error |
|---|---|---|---|
| VPCs per Region (the default VPC counts) | vpc L-F678F1CE | 5 | CreateVpc → ``VpcLimitExceeded`` |
| Internet gateways per Region | vpc L-A4707A72 | 5 | CreateInternetGateway → ``InternetGatewayLimitExceeded`` |
| NAT gateways per Availability Zone (pending, available and deleting ones count) | vpc L-FE5A380F | 5 | CreateNatGateway → ``NatGatewayLimitExceeded`` |
| EC2-VPC Elastic IPs | ec2 L-0263D0A3 | 5 | AllocateAddress → ``AddressLimitExceeded`` |
| Network Firewall firewalls per account per Region | network-firewall (none) | 5 | CreateFirewall → ``LimitExceededException`` |

Sources: Amazon VPC User Guide, "Amazon VPC quotas" (VPCs, internet gateways and NAT gateways
per AZ, 5 each by default; "NAT gateways in the pending, active, and deleting states count
toward your quota"); Amazon EC2 User Guide, "Elastic IP address quota" (5 per Region); AWS
Network Firewall Developer Guide, "AWS Network Firewall quotas" (firewalls per account per
Region); the error codes from "Error codes for the Amazon EC2 API" (VpcLimitExceeded,
InternetGatewayLimitExceeded, NatGatewayLimitExceeded, AddressLimitExceeded) and botocore's
network-firewall model (CreateFirewall errors: LimitExceededException, "Unable to perform the
operation because doing so would violate a limit setting.").

A limit is moto's Service Quotas value where moto has one (its vpc defaults, 5 each), else the
default above; ``POST /_emulator/quotas`` {"L-F678F1CE": 10, ...} sets applied values (as a granted
quota increase would), which GetServiceQuota then answers too, so the pre-flight and the refusal
agree. A reset restores the defaults.
"""
import copy
import threading

from moto.core.exceptions import ServiceException
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend
from moto.networkfirewall.models import NetworkFirewallBackend
from moto.servicequotas.models import ServiceQuotasBackend
from moto.servicequotas.resources.default_quotas.vpc import VPC_DEFAULT_QUOTAS

from . import control

# code -> (service code, name, documented default)
QUOTAS = {
    "L-F678F1CE": ("vpc", "VPCs per Region", 5),
    "L-A4707A72": ("vpc", "Internet gateways per Region", 5),
    "L-FE5A380F": ("vpc", "NAT gateways per Availability Zone", 5),
    "L-0263D0A3": ("ec2", "EC2-VPC Elastic IPs", 5),
    "NFW-FIREWALLS": ("network-firewall", "Firewalls per account per Region", 5),
}

_lock = threading.Lock()
_applied = {}  # quota code -> value set through the control path


def limit(code):
    with _lock:
        if code in _applied:
            return _applied[code]
    service, _, default = QUOTAS[code]
    if service == "vpc":
        for q in VPC_DEFAULT_QUOTAS:
            if q["QuotaCode"] == code:
                return int(q["Value"])
    return default


def status():
    return {code: {"service": s, "name": n, "limit": limit(code)} for code, (s, n, _) in QUOTAS.items()}


def tune(data):
    if not isinstance(data, dict):
        raise ValueError("quotas: expected an object of quota code -> value")
    for code, value in data.items():
        if code not in QUOTAS:
            raise ValueError(f"quotas: unknown quota code {code!r} (known: {', '.join(QUOTAS)})")
        if not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"quotas: {code} must be a number >= 0, got {value!r}")
    with _lock:
        _applied.update({c: int(v) for c, v in data.items()})
    return status()


def _reset():
    with _lock:
        _applied.clear()


class _NfwLimitExceeded(ServiceException):
    code = "LimitExceededException"


def _check(code, in_use, error):
    if in_use >= limit(code):
        raise error


# The methods these wrap, taken at install time (after ec2, nfw and realistic patched theirs).
_orig = {}

def create_vpc(self, *args, **kwargs):
    _check("L-F678F1CE", len(self.vpcs),
           EC2ClientError("VpcLimitExceeded", "The maximum number of VPCs has been reached."))
    return _orig["create_vpc"](self, *args, **kwargs)


def create_internet_gateway(self, *args, **kwargs):
    _check("L-A4707A72", len(self.internet_gateways),
           EC2ClientError("InternetGatewayLimitExceeded", "The maximum number of internet gateways has been reached."))
    return _orig["create_internet_gateway"](self, *args, **kwargs)


def allocate_address(self, *args, **kwargs):
    _check("L-0263D0A3", len(self.addresses),
           EC2ClientError("AddressLimitExceeded", "The maximum number of addresses has been reached."))
    return _orig["allocate_address"](self, *args, **kwargs)


def _zone_of(backend, subnet_id):
    try:
        return backend.get_subnet(subnet_id).availability_zone
    except EC2ClientError:
        return None


def create_nat_gateway(self, subnet_id, *args, **kwargs):
    subnet = self.get_subnet(subnet_id)  # InvalidSubnetID.NotFound as before
    zone = subnet.availability_zone
    in_zone = sum(1 for n in self.nat_gateways.values()
                  if n.state in ("pending", "available", "deleting") and _zone_of(self, n.subnet_id) == zone)
    _check("L-FE5A380F", in_zone,
           EC2ClientError("NatGatewayLimitExceeded",
                          f"The maximum number of NAT Gateways has been reached in Availability Zone {zone}."))
    return _orig["create_nat_gateway"](self, subnet_id, *args, **kwargs)


def create_firewall(self, **kw):
    _check("NFW-FIREWALLS", len(self.firewalls),
           _NfwLimitExceeded("Unable to perform the operation because doing so would violate a limit setting. "
                             "Firewalls per account per Region"))
    return _orig["create_firewall"](self, **kw)


def get_service_quota(self, service_code, quota_code):
    """An applied value (a granted increase) is what GetServiceQuota answers; EC2's quota, which
    moto does not know, is answered once one is applied."""
    with _lock:
        applied = _applied.get(quota_code)
    if applied is None or quota_code not in QUOTAS or QUOTAS[quota_code][0] != service_code:
        return _orig["get_service_quota"](self, service_code, quota_code)
    try:
        quota = copy.deepcopy(_orig["get_service_quota"](self, service_code, quota_code))
    except Exception:  # moto's NoSuchResource: a quota moto has no default for
        _, name, _ = QUOTAS[quota_code]
        quota = {"ServiceCode": service_code, "QuotaCode": quota_code, "QuotaName": name, "Adjustable": True,
                 "GlobalQuota": False, "Unit": "None",
                 "QuotaArn": f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:{service_code}/{quota_code}"}
    quota["Value"] = float(applied)
    return quota


def install(app):
    # After ec2 and nfw (EXTENSIONS order): these wrap their overrides.
    for cls, name, fn in ((EC2Backend, "create_vpc", create_vpc),
                          (EC2Backend, "create_internet_gateway", create_internet_gateway),
                          (EC2Backend, "allocate_address", allocate_address),
                          (EC2Backend, "create_nat_gateway", create_nat_gateway),
                          (NetworkFirewallBackend, "create_firewall", create_firewall),
                          (ServiceQuotasBackend, "get_service_quota", get_service_quota)):
        _orig[name] = getattr(cls, name)
        setattr(cls, name, fn)
    control.on_reset(_reset)
    return None

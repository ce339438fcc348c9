"""Account quotas (quotas.py): the create past a quota is refused with AWS's error, as the
pre-flight expects; an applied value (a granted increase) moves the limit and is what
GetServiceQuota answers. Each test has an emulator of its own (the session's runs with raised
quotas)."""
import pytest
from botocore.exceptions import ClientError


def refused(call, code, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    return e.value


def test_vpcs_per_region_count_the_default_vpc(make_emulator):
    emu = make_emulator()
    ec2 = emu.client("ec2")
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1  # the default VPC
    for i in range(4):
        ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")
    refused(ec2.create_vpc, "VpcLimitExceeded", CidrBlock="10.9.0.0/16")
    assert len(ec2.describe_vpcs()["Vpcs"]) == 5  # nothing was made
    assert emu.post("quotas", {"L-F678F1CE": 6})["L-F678F1CE"]["limit"] == 6
    sq = emu.client("service-quotas")
    assert sq.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"] == 6.0
    ec2.create_vpc(CidrBlock="10.9.0.0/16")
    refused(ec2.create_vpc, "VpcLimitExceeded", CidrBlock="10.10.0.0/16")


def test_internet_gateways_and_addresses(make_emulator):
    emu = make_emulator()
    ec2 = emu.client("ec2")
    have = len(ec2.describe_internet_gateways()["InternetGateways"])  # the default VPC's
    for _ in range(5 - have):
        ec2.create_internet_gateway()
    refused(ec2.create_internet_gateway, "InternetGatewayLimitExceeded")
    for _ in range(5 - len(ec2.describe_addresses()["Addresses"])):
        ec2.allocate_address(Domain="vpc")
    refused(ec2.allocate_address, "AddressLimitExceeded", Domain="vpc")
    # EC2's quota is answered once applied (moto knows none of its own).
    sq = emu.client("service-quotas")
    refused(sq.get_service_quota, "NoSuchResourceException", ServiceCode="ec2", QuotaCode="L-0263D0A3")
    emu.post("quotas", {"L-0263D0A3": 7})
    assert sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-0263D0A3")["Quota"]["Value"] == 7.0
    ec2.allocate_address(Domain="vpc")
    # A reset restores the defaults.
    emu.control("POST", "reset")
    assert emu.get("quotas")["L-0263D0A3"]["limit"] == 5


def test_nat_gateways_per_zone_count_pending_available_and_deleting(make_emulator):
    emu = make_emulator()
    emu.post("quotas", {"L-0263D0A3": 20})
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]

    def nat(subnet):
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        return ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"]

    first = [nat(a) for _ in range(5)]
    e = refused(nat, "NatGatewayLimitExceeded", subnet=a)
    assert "us-east-1a" in str(e)
    nat(b)  # another zone has its own quota
    ec2.delete_nat_gateway(NatGatewayId=first[0])  # at scale 0 it is deleted at once: it no longer counts
    assert [n["State"] for n in ec2.describe_nat_gateways(NatGatewayIds=[first[0]])["NatGateways"]] == ["deleted"]
    nat(a)


def test_firewalls_per_region(make_emulator):
    emu = make_emulator()
    emu.post("quotas", {"NFW-FIREWALLS": 1})
    ec2, nfw = emu.client("ec2"), emu.client("network-firewall")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    pol = nfw.create_firewall_policy(FirewallPolicyName="p", FirewallPolicy={
        "StatelessDefaultActions": ["aws:forward_to_sfe"], "StatelessFragmentDefaultActions": ["aws:forward_to_sfe"]})
    arn = pol["FirewallPolicyResponse"]["FirewallPolicyArn"]
    nfw.create_firewall(FirewallName="one", FirewallPolicyArn=arn, VpcId=vpc, SubnetMappings=[{"SubnetId": sub}])
    refused(nfw.create_firewall, "LimitExceededException", FirewallName="two", FirewallPolicyArn=arn, VpcId=vpc,
            SubnetMappings=[{"SubnetId": sub}])
    assert [f["FirewallName"] for f in nfw.list_firewalls()["Firewalls"]] == ["one"]


def test_unknown_quota_codes_and_bad_values_are_refused(make_emulator):
    emu = make_emulator()
    status, out = emu.control("POST", "quotas", {"L-NOPE": 3})
    assert status == 400 and "L-NOPE" in out["error"]
    status, out = emu.control("POST", "quotas", {"L-F678F1CE": -1})
    assert status == 400 and "L-F678F1CE" in out["error"]

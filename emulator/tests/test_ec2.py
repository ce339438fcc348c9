"""EC2 realism: NAT/endpoint lifecycles, DependencyViolation refusals, request-rate throttling."""
import json
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from provision_emulator import ec2 as ec2_ext
from provision_emulator import profile
from helpers import err, wait_for

SCALE = 0.01  # NAT: 105 s -> 1.05 s up, 55 s -> 0.55 s down; interface endpoint: 0.9 s up, 0.6 s down


def vpc_with_subnet(ec2, cidr="10.2.0.0/16", subnet_cidr="10.2.3.0/24"):
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=subnet_cidr, AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    return vpc, subnet


def nat_state(ec2, nat_id):
    return ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]["State"]


def test_nat_gateway_lifecycle_and_its_eni(make_emulator):
    ec2 = make_emulator(scale=SCALE).client("ec2")
    vpc, subnet = vpc_with_subnet(ec2)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]
    assert nat["State"] == "pending"
    eni_id = nat["NatGatewayAddresses"][0]["NetworkInterfaceId"]
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    assert eni["InterfaceType"] == "nat_gateway" and eni["SubnetId"] == subnet and eni["Groups"] == []
    assert wait_for(lambda: nat_state(ec2, nat["NatGatewayId"]) == "available")
    assert ec2.describe_nat_gateways(Filter=[{"Name": "state", "Values": ["available"]}])["NatGateways"]

    with pytest.raises(ClientError) as e:  # its EIP is mapped in the VPC
        ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert err(e) == ("DependencyViolation", 400)

    ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
    assert nat_state(ec2, nat["NatGatewayId"]) == "deleting"
    with pytest.raises(ClientError) as e:  # the NAT's ENI is still in the subnet
        ec2.delete_subnet(SubnetId=subnet)
    assert err(e) == ("DependencyViolation", 400)
    assert wait_for(lambda: nat_state(ec2, nat["NatGatewayId"]) == "deleted")
    assert nat_state(ec2, nat["NatGatewayId"]) == "deleted"  # still listed, as in AWS
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"] == []
    assert "AssociationId" not in ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_subnet(SubnetId=subnet)


def test_a_refused_nat_gateway_leaves_no_interface(emulator):
    """CreateNatGateway refused (an allocation id no address has) makes nothing: no ENI is left
    in the subnet to block its deletion (moto built the gateway's ENI before the EIP lookup)."""
    ec2 = emulator.client("ec2")
    vpc, subnet = vpc_with_subnet(ec2)
    with pytest.raises(ClientError) as e:
        ec2.create_nat_gateway(SubnetId=subnet, AllocationId="eipalloc-0123456789abcdef0")
    assert err(e)[0] == "InvalidAllocationID.NotFound"
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"] == []
    ec2.delete_subnet(SubnetId=subnet)


def test_delete_unknown_nat_gateway(emulator):
    with pytest.raises(ClientError) as e:
        emulator.client("ec2").delete_nat_gateway(NatGatewayId="nat-0123456789abcdef0")
    assert err(e) == ("NatGatewayNotFound", 400)


def test_interface_endpoint_lifecycle_enis_and_dependencies(make_emulator):
    ec2 = make_emulator(scale=SCALE).client("ec2")
    vpc, subnet = vpc_with_subnet(ec2)
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # private DNS needs it
    sg = ec2.create_security_group(VpcId=vpc, GroupName="vpce", Description="Allow TLS for VPC Endpoint")["GroupId"]
    ep = ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Interface", ServiceName="com.amazonaws.us-east-1.sts",
                                 SubnetIds=[subnet], SecurityGroupIds=[sg], PrivateDnsEnabled=True)["VpcEndpoint"]
    assert ep["State"] == "pending" and len(ep["NetworkInterfaceIds"]) == 1
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"][0]
    assert eni["SubnetId"] == subnet and [g["GroupId"] for g in eni["Groups"]] == [sg]
    assert eni["InterfaceType"] == "vpc_endpoint" and eni["RequesterManaged"] is True
    state = lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["VpcEndpoints"][0]["State"]  # noqa: E731
    assert wait_for(lambda: state() == "available")

    for call in (lambda: ec2.delete_security_group(GroupId=sg), lambda: ec2.delete_subnet(SubnetId=subnet),
                 lambda: ec2.delete_vpc(VpcId=vpc)):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("DependencyViolation", 400)

    out = ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"], "vpce-0000000000000000f"])
    assert [u["ResourceId"] for u in out["Unsuccessful"]] == ["vpce-0000000000000000f"]
    assert out["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcEndpoint.NotFound"
    assert state() == "deleting"
    with pytest.raises(ClientError) as e:  # ENI stays until the endpoint is gone
        ec2.delete_subnet(SubnetId=subnet)
    assert err(e) == ("DependencyViolation", 400)

    assert wait_for(lambda: state() == "deleted")  # still listed, as in AWS
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["VpcEndpoints"][0]["NetworkInterfaceIds"] == []
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"] == []
    ec2.delete_security_group(GroupId=sg)
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)


def test_gateway_endpoint_lifecycle_blocks_vpc(make_emulator):
    ec2 = make_emulator(scale=SCALE * 10).client("ec2")  # 6 s -> 0.6 s up, 5 s -> 0.5 s down
    vpc = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ep = ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Gateway", ServiceName="com.amazonaws.us-east-1.s3",
                                 RouteTableIds=[rt])["VpcEndpoint"]
    assert ep["State"] == "pending"
    state = lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["VpcEndpoints"][0]["State"]  # noqa: E731
    assert wait_for(lambda: state() == "available")
    ec2.delete_route_table(RouteTableId=rt)
    with pytest.raises(ClientError) as e:
        ec2.delete_vpc(VpcId=vpc)
    assert err(e) == ("DependencyViolation", 400)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])
    assert state() == "deleting"
    assert wait_for(lambda: state() == "deleted")  # still listed, as in AWS, and no longer blocks the VPC
    ec2.delete_vpc(VpcId=vpc)


def test_dependency_violations(emulator):
    ec2 = emulator.client("ec2")
    vpc, subnet = vpc_with_subnet(ec2, "10.4.0.0/16", "10.4.1.0/24")
    sm = ec2.create_security_group(VpcId=vpc, GroupName="sm", Description="sm")["GroupId"]
    vpce = ec2.create_security_group(VpcId=vpc, GroupName="vpce", Description="vpce")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sm, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sm}]}])  # self reference
    ec2.authorize_security_group_ingress(GroupId=vpce, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": sm}]}])
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[vpce])["NetworkInterface"]["NetworkInterfaceId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)

    def refused(call):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("DependencyViolation", 400)

    refused(lambda: ec2.delete_subnet(SubnetId=subnet))        # ENI in the subnet
    refused(lambda: ec2.delete_security_group(GroupId=sm))     # referenced by vpce's rule
    refused(lambda: ec2.delete_security_group(GroupId=vpce))   # used by the ENI
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    ec2.delete_subnet(SubnetId=subnet)
    refused(lambda: ec2.delete_vpc(VpcId=vpc))                 # IGW attached, groups left
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    refused(lambda: ec2.delete_vpc(VpcId=vpc))                 # non-default groups left
    ec2.delete_security_group(GroupId=vpce)
    ec2.delete_security_group(GroupId=sm)                      # its self reference does not block
    ec2.delete_vpc(VpcId=vpc)
    assert not ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"]


def test_bucket_classification():
    profile.configure()
    assert ec2_ext.bucket_for("CreateVpcEndpoint", []).startswith("CreateVpcEndpoint,")
    assert ec2_ext.bucket_for("DeleteNatGateway", []).startswith("CreateNatGateway,")
    assert ec2_ext.bucket_for("CreateVpc", []) == "mutating (default)"
    assert ec2_ext.bucket_for("DescribeVpcs", []).startswith("non-mutating")
    assert ec2_ext.bucket_for("DescribeSecurityGroups", ["Action", "Version"]).startswith("unfiltered")
    assert ec2_ext.bucket_for("DescribeNetworkInterfaces", ["Filter.1.Name", "Filter.1.Value.1"]).startswith("non-mutating")


def test_throttling_request_limit_exceeded_and_refill(make_emulator):
    emu = make_emulator(scale=0.1, throttle=True)  # 0.3 tokens/s at scale 1 -> 3 tokens/s
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]

    def create():
        return ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Gateway", ServiceName="com.amazonaws.us-east-1.s3")

    for _ in range(4):  # the bucket holds 4
        create()
    with pytest.raises(ClientError) as e:
        for _ in range(3):
            create()
    assert err(e) == ("RequestLimitExceeded", 503)
    ec2.describe_vpcs()  # other buckets are unaffected
    time.sleep(0.5)  # 1.5 tokens back at 3/s; at scale 1 this would take over 3 s
    create()
    calls = json.load(urllib.request.urlopen(emu.url + "/_emulator/calls"))["calls"]
    assert {"operation": "ec2:CreateVpcEndpoint", "status": 503} in [
        {"operation": c["operation"], "status": c["status"]} for c in calls]


# --- rules AWS enforces (issue 12) --------------------------------------------------------------

def network_with_igw(ec2, cidr, subnet_cidr, igw=True, dns=False):
    vpc, subnet = vpc_with_subnet(ec2, cidr, subnet_cidr)
    gw = None
    if igw:
        gw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=gw, VpcId=vpc)
    if dns:
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    return vpc, subnet, gw


def test_client_token_returns_the_same_resource_or_refuses_other_parameters(emulator):
    ec2 = emulator.client("ec2")
    vpc, subnet, _ = network_with_igw(ec2, "10.20.0.0/16", "10.20.1.0/24", dns=True)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]

    def mismatch(call):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("IdempotentParameterMismatch", 400)

    first = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc, ClientToken="nat-1")
    again = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc, ClientToken="nat-1")
    assert first["ClientToken"] == again["ClientToken"] == "nat-1"
    assert again["NatGateway"]["NatGatewayId"] == first["NatGateway"]["NatGatewayId"]
    assert len(ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NatGateways"]) == 1
    mismatch(lambda: ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc, ClientToken="nat-1",
                                            ConnectivityType="private"))

    rt = ec2.create_route_table(VpcId=vpc, ClientToken="rt-1")["RouteTable"]["RouteTableId"]
    assert ec2.create_route_table(VpcId=vpc, ClientToken="rt-1")["RouteTable"]["RouteTableId"] == rt
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    assert len(tables) == 2  # the main table and ours, once
    other_vpc = ec2.create_vpc(CidrBlock="10.21.0.0/16")["Vpc"]["VpcId"]
    mismatch(lambda: ec2.create_route_table(VpcId=other_vpc, ClientToken="rt-1"))

    kw = dict(VpcId=vpc, VpcEndpointType="Interface", ServiceName="com.amazonaws.us-east-1.sts", SubnetIds=[subnet])
    ep = ec2.create_vpc_endpoint(ClientToken="ep-1", **kw)["VpcEndpoint"]
    repeat = ec2.create_vpc_endpoint(ClientToken="ep-1", **kw)["VpcEndpoint"]
    assert repeat["VpcEndpointId"] == ep["VpcEndpointId"]
    assert repeat["NetworkInterfaceIds"] == ep["NetworkInterfaceIds"]  # no second ENI
    assert len(ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]) == 1
    mismatch(lambda: ec2.create_vpc_endpoint(ClientToken="ep-1", **dict(kw, ServiceName="com.amazonaws.us-east-1.ssm")))
    # Without a token (boto3 sends a fresh one every call) two calls make two endpoints.
    ec2.create_vpc_endpoint(**dict(kw, ServiceName="com.amazonaws.us-east-1.logs"))
    ec2.create_vpc_endpoint(**dict(kw, ServiceName="com.amazonaws.us-east-1.logs"))
    assert len(ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]) == 3


def test_managed_enis_are_in_use_and_not_deletable_and_go_with_their_owner(emulator):
    ec2, efs, nfw = emulator.client("ec2"), emulator.client("efs"), emulator.client("network-firewall")
    vpc, subnet, _ = network_with_igw(ec2, "10.22.0.0/16", "10.22.1.0/24", dns=True)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    ep = ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Interface", ServiceName="com.amazonaws.us-east-1.sts",
                                 SubnetIds=[subnet])["VpcEndpoint"]["VpcEndpointId"]
    fs = efs.create_file_system(CreationToken="managed-enis")["FileSystemId"]
    mt = efs.create_mount_target(FileSystemId=fs, SubnetId=subnet)["MountTargetId"]
    pol = nfw.create_firewall_policy(FirewallPolicyName="managed-enis", FirewallPolicy={
        "StatelessDefaultActions": ["aws:forward_to_sfe"], "StatelessFragmentDefaultActions": ["aws:pass"]})
    nfw.create_firewall(FirewallName="managed-enis", VpcId=vpc, SubnetMappings=[{"SubnetId": subnet}],
                        FirewallPolicyArn=pol["FirewallPolicyResponse"]["FirewallPolicyArn"], DeleteProtection=False)
    mine = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]

    fw_ep = nfw.describe_firewall(FirewallName="managed-enis")["FirewallStatus"]["SyncStates"]["us-east-1a"][
        "Attachment"]["EndpointId"]
    owned = {  # ENI id -> its owner
        ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["NatGatewayAddresses"][0][
            "NetworkInterfaceId"]: nat,
        ec2.describe_vpc_endpoints(VpcEndpointIds=[ep])["VpcEndpoints"][0]["NetworkInterfaceIds"][0]: ep,
        ec2.describe_vpc_endpoints(VpcEndpointIds=[fw_ep])["VpcEndpoints"][0]["NetworkInterfaceIds"][0]: fw_ep,
        efs.describe_mount_targets(MountTargetId=mt)["MountTargets"][0]["NetworkInterfaceId"]: mt,
    }
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"]
    assert sorted(e["NetworkInterfaceId"] for e in enis) == sorted(list(owned) + [mine])
    for eni in enis:
        if eni["NetworkInterfaceId"] == mine:
            assert eni["Status"] == "available" and eni["RequesterManaged"] is False
            continue
        assert eni["Status"] == "in-use" and eni["RequesterManaged"] is True, eni
        with pytest.raises(ClientError) as e:
            ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
        assert err(e) == ("InvalidParameterValue", 400)
        assert "currently in use" in e.value.response["Error"]["Message"]
    in_use = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]},
                                                      {"Name": "status", "Values": ["in-use"]}])["NetworkInterfaces"]
    assert len(in_use) == 4
    ec2.delete_network_interface(NetworkInterfaceId=mine)  # one of ours, not attached: deletable

    # Deleting the owners takes the ENIs away (instant emulator).
    ec2.delete_nat_gateway(NatGatewayId=nat)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep])
    efs.delete_mount_target(MountTargetId=mt)
    nfw.delete_firewall(FirewallName="managed-enis")
    assert wait_for(lambda: ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"] == [])
    ec2.delete_subnet(SubnetId=subnet)


def test_nat_gateway_in_a_vpc_without_an_attached_internet_gateway_fails(make_emulator):
    ec2 = make_emulator(scale=SCALE).client("ec2")
    vpc, subnet, _ = network_with_igw(ec2, "10.23.0.0/16", "10.23.1.0/24", igw=False)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]
    assert nat["State"] == "pending"
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat["NatGatewayId"])
    assert wait_for(lambda: nat_state(ec2, nat["NatGatewayId"]) == "failed")
    failed = ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]
    assert failed["FailureCode"] == "Gateway.NotAttached"
    assert failed["FailureMessage"] == f"Network {vpc} has no Internet gateway attached"
    # A failed gateway holds nothing: its ENI is gone, its address is free, its route a blackhole.
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"] == []
    assert "AssociationId" not in ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]
    (route,) = [r for r in ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]
                if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert route["State"] == "blackhole"
    ec2.release_address(AllocationId=alloc)
    ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
    assert wait_for(lambda: nat_state(ec2, nat["NatGatewayId"]) == "deleted")
    assert ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]["FailureCode"] == \
        "Gateway.NotAttached"

    # A private gateway needs no internet gateway; with one attached a public gateway becomes available.
    private = ec2.create_nat_gateway(SubnetId=subnet, ConnectivityType="private")["NatGateway"]["NatGatewayId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    alloc2 = ec2.allocate_address(Domain="vpc")["AllocationId"]
    public = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc2)["NatGateway"]["NatGatewayId"]
    assert wait_for(lambda: {nat_state(ec2, private), nat_state(ec2, public)} == {"available"})


def test_routes_turn_blackhole_when_their_target_goes(make_emulator):
    ec2 = make_emulator(scale=SCALE).client("ec2")
    vpc, subnet, igw = network_with_igw(ec2, "10.24.0.0/16", "10.24.1.0/24")
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    assert wait_for(lambda: nat_state(ec2, nat) == "available")
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="192.0.2.0/24", GatewayId=igw)

    def states():
        routes = ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]
        return {r["DestinationCidrBlock"]: r["State"] for r in routes}

    assert states() == {"10.24.0.0/16": "active", "0.0.0.0/0": "active", "192.0.2.0/24": "active"}
    ec2.delete_nat_gateway(NatGatewayId=nat)
    assert states()["0.0.0.0/0"] == "active"  # deleting: not yet gone
    assert wait_for(lambda: nat_state(ec2, nat) == "deleted")
    assert states() == {"10.24.0.0/16": "active", "0.0.0.0/0": "blackhole", "192.0.2.0/24": "active"}
    (route,) = [r for r in ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]
                if r["DestinationCidrBlock"] == "0.0.0.0/0"]
    assert route["NatGatewayId"] == nat  # still pointing at it
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert states()["192.0.2.0/24"] == "blackhole"
    # ReplaceRoute puts the route back on a live target.
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.replace_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assert states() == {"10.24.0.0/16": "active", "0.0.0.0/0": "active", "192.0.2.0/24": "active"}


def test_create_route_to_a_missing_target(emulator):
    ec2 = emulator.client("ec2")
    vpc, _, _ = network_with_igw(ec2, "10.25.0.0/16", "10.25.1.0/24", igw=False)
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    for call, target, code in (
            (ec2.create_route, {"GatewayId": "igw-0123456789abcdef0"}, "InvalidGatewayID.NotFound"),
            (ec2.create_route, {"NatGatewayId": "nat-0123456789abcdef0"}, "InvalidNatGatewayID.NotFound"),
            (ec2.replace_route, {"NatGatewayId": "nat-0123456789abcdef0"}, "InvalidNatGatewayID.NotFound")):
        with pytest.raises(ClientError) as e:
            call(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", **target)
        assert err(e) == (code, 400)
    assert [r["DestinationCidrBlock"] for r in ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]] \
        == ["10.25.0.0/16"]


def test_describe_unknown_nat_gateway(emulator):
    ec2 = emulator.client("ec2")
    with pytest.raises(ClientError) as e:
        ec2.describe_nat_gateways(NatGatewayIds=["nat-0123456789abcdef0"])
    assert err(e) == ("NatGatewayNotFound", 400)
    assert isinstance(ec2.describe_nat_gateways()["NatGateways"], list)  # no ids: a list, as before


def test_release_of_an_associated_address_is_refused(emulator):
    ec2 = emulator.client("ec2")
    _, subnet, _ = network_with_igw(ec2, "10.26.0.0/16", "10.26.1.0/24")
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    assoc = ec2.associate_address(AllocationId=alloc, NetworkInterfaceId=eni)["AssociationId"]
    with pytest.raises(ClientError) as e:
        ec2.release_address(AllocationId=alloc)
    assert err(e) == ("InvalidIPAddress.InUse", 400)
    assert ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]["AssociationId"] == assoc  # untouched
    ec2.disassociate_address(AssociationId=assoc)
    ec2.release_address(AllocationId=alloc)
    assert ec2.describe_addresses()["Addresses"] == [] or alloc not in [
        a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]]


def test_create_vpc_endpoint_refusals(emulator):
    ec2 = emulator.client("ec2")
    vpc, subnet, _ = network_with_igw(ec2, "10.27.0.0/16", "10.27.1.0/24", igw=False)
    sts = dict(VpcId=vpc, VpcEndpointType="Interface", ServiceName="com.amazonaws.us-east-1.sts", SubnetIds=[subnet])

    def refused(code, **kw):
        with pytest.raises(ClientError) as e:
            ec2.create_vpc_endpoint(**kw)
        assert err(e) == (code, 400)

    refused("InvalidServiceName", **dict(sts, ServiceName="com.amazonaws.us-east-1.no-such-service"))
    refused("InvalidServiceName", VpcId=vpc, VpcEndpointType="Gateway", ServiceName="com.amazonaws.eu-west-1.s3")
    # Private DNS (the default for an interface endpoint) needs DNS support and DNS hostnames.
    refused("InvalidParameter", **sts)
    refused("InvalidParameter", **dict(sts, PrivateDnsEnabled=True))
    assert ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"] == []
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"] == []
    ec2.create_vpc_endpoint(**dict(sts, PrivateDnsEnabled=False))
    ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Gateway", ServiceName="com.amazonaws.us-east-1.s3")
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    ec2.create_vpc_endpoint(**dict(sts, ServiceName="aws.sagemaker.us-east-1.notebook"))
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": False})
    refused("InvalidParameter", **dict(sts, ServiceName="com.amazonaws.us-east-1.logs"))


def test_modify_vpc_attribute_takes_one_attribute_per_call(emulator):
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.28.0.0/16")["Vpc"]["VpcId"]
    with pytest.raises(ClientError) as e:
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True}, EnableDnsHostnames={"Value": True})
    assert err(e) == ("InvalidParameterCombination", 400)
    assert "enableDnsSupport, enableDnsHostnames" in e.value.response["Error"]["Message"]
    hostnames = lambda: ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")[  # noqa: E731
        "EnableDnsHostnames"]["Value"]
    assert hostnames() is False  # nothing was changed
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    assert hostnames() is True


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_known_endpoint_services_are_what_describe_vpc_endpoint_services_lists(make_emulator, region):
    """vpc_endpoint_services.json (the names CreateVpcEndpoint accepts) is moto's list, region by region."""
    ec2 = make_emulator().client("ec2", region=region)
    names, token = [], None
    while True:
        page = ec2.describe_vpc_endpoint_services(**({"NextToken": token} if token else {}))
        names += page["ServiceNames"]
        token = page.get("NextToken")
        if not token:
            break
    assert ec2_ext.known_endpoint_services(region) == set(names)


def test_network_acls_start_closed_follow_their_subnets_and_block_the_vpc(emulator):
    # VPC user guide, "Custom network ACLs for your VPC": a custom ACL starts closed, its `*` rule (32767)
    # denying both ways; ReplaceNetworkAclAssociation moves a subnet; DeleteNetworkAcl refuses while a subnet
    # is associated (DependencyViolation); a deleted subnet's association goes with it; DeleteVpc refuses
    # while a custom ACL exists (DependencyViolation, as for the VPC's other resources).
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.3.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    entries = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
    assert sorted((e["RuleNumber"], e["Egress"], e["RuleAction"]) for e in entries) == [
        (32767, False, "deny"), (32767, True, "deny")]
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=200, Protocol="6", RuleAction="allow", Egress=True,
                                 CidrBlock="0.0.0.0/0", PortRange={"From": 443, "To": 443})
    current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [sub]}])["NetworkAcls"]
    assoc = [a for a in current[0]["Associations"] if a["SubnetId"] == sub][0]["NetworkAclAssociationId"]
    assert current[0]["IsDefault"] is True
    ec2.replace_network_acl_association(AssociationId=assoc, NetworkAclId=acl)
    ours = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]
    assert [a["SubnetId"] for a in ours["Associations"]] == [sub]
    with pytest.raises(ClientError) as e:
        ec2.delete_network_acl(NetworkAclId=acl)
    assert e.value.response["Error"]["Code"] == "DependencyViolation"
    ec2.delete_subnet(SubnetId=sub)
    assert ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Associations"] == []
    with pytest.raises(ClientError) as e:
        ec2.delete_vpc(VpcId=vpc)
    assert e.value.response["Error"]["Code"] == "DependencyViolation"
    ec2.delete_network_acl(NetworkAclId=acl)
    ec2.delete_vpc(VpcId=vpc)


def test_network_acl_entries_are_limited_per_direction_and_a_missing_one_is_not_found(emulator):
    # VPC user guide, "Amazon VPC quotas": 20 inbound and 20 outbound rules per network ACL, the `*` rule
    # not counted (NetworkAclEntryLimitExceeded beyond); a replaced entry keeps its slot; deleting or
    # replacing an entry that is not there is InvalidNetworkAclEntry.NotFound (EC2 API reference, "Error codes").
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]

    def entry(n, egress, port=443, replace=False):
        call = ec2.replace_network_acl_entry if replace else ec2.create_network_acl_entry
        call(NetworkAclId=acl, RuleNumber=n, Protocol="6", RuleAction="allow", Egress=egress,
             CidrBlock="0.0.0.0/0", PortRange={"From": port, "To": port})

    for n in range(100, 120):
        entry(n, False)
    with pytest.raises(ClientError) as e:
        entry(120, False)
    assert e.value.response["Error"]["Code"] == "NetworkAclEntryLimitExceeded"
    entry(100, True)  # the other direction has its own 20
    entry(100, False, port=80, replace=True)  # a replacement takes no new slot
    got = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
    assert [e["PortRange"]["From"] for e in got if e["RuleNumber"] == 100 and not e["Egress"]] == [80]
    assert len([e for e in got if not e["Egress"]]) == 21  # 20 and the `*` rule
    for call in (lambda: ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=150, Egress=False),
                 lambda: entry(150, True, replace=True)):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "InvalidNetworkAclEntry.NotFound"
    ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=119, Egress=False)
    entry(120, False)
    ec2.delete_network_acl(NetworkAclId=acl)
    ec2.delete_vpc(VpcId=vpc)

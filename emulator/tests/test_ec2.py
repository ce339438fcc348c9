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


def test_delete_unknown_nat_gateway(emulator):
    with pytest.raises(ClientError) as e:
        emulator.client("ec2").delete_nat_gateway(NatGatewayId="nat-0123456789abcdef0")
    assert err(e) == ("NatGatewayNotFound", 400)


def test_interface_endpoint_lifecycle_enis_and_dependencies(make_emulator):
    ec2 = make_emulator(scale=SCALE).client("ec2")
    vpc, subnet = vpc_with_subnet(ec2)
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

    def gone():
        return ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"] == []

    assert wait_for(gone)
    with pytest.raises(ClientError) as e:
        ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])
    assert err(e)[0] == "InvalidVpcEndpointId.NotFound"
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
    assert wait_for(lambda: not ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"])
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

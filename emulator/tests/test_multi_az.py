"""Multi-AZ growth of a live stack: firewall subnet (dis)associations, endpoint subnets and route
tables, domain subnets, with the side effects each has in EC2 and EFS."""
import uuid

import pytest
from botocore.exceptions import ClientError
from helpers import JUPYTERLAB_IMAGE, err, wait_for

SCALE = 0.002  # nfw.firewall 330 s -> 0.66 s up, 450 s -> 0.9 s down; sm.domain 120 s -> 0.24 s
ROLE = "arn:aws:iam::123456789012:role/studio-exec"
S3 = "com.amazonaws.us-east-1.s3"


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def network(ec2, azs):
    """A VPC and one subnet per entry of `azs` (letters; repeat a letter for two subnets in one AZ)."""
    vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # private DNS of interface endpoints
    return vpc, [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.4.{i + 1}.0/24",
                                   AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"]
                 for i, az in enumerate(azs)]


def enis_in(ec2, subnet):
    return ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"]


# --- Network Firewall -------------------------------------------------------------------------------

def firewall(nfw, vpc, subnets, **kw):
    pol = nfw.create_firewall_policy(FirewallPolicyName=name("pol"), FirewallPolicy={
        "StatelessDefaultActions": ["aws:forward_to_sfe"], "StatelessFragmentDefaultActions": ["aws:pass"]})
    kw.setdefault("SubnetChangeProtection", False)
    return nfw.create_firewall(FirewallName=name("fw"), VpcId=vpc,
                               FirewallPolicyArn=pol["FirewallPolicyResponse"]["FirewallPolicyArn"],
                               SubnetMappings=[{"SubnetId": s} for s in subnets], **kw)["Firewall"]


def fw_status(nfw, fw):
    return nfw.describe_firewall(FirewallArn=fw["FirewallArn"])["FirewallStatus"]


def test_associate_subnets_adds_an_endpoint_per_new_az(make_emulator):
    emu = make_emulator(scale=SCALE)
    nfw, ec2 = emu.client("network-firewall"), emu.client("ec2")
    vpc, (sub_a, sub_b, sub_c) = network(ec2, "abc")
    fw = firewall(nfw, vpc, [sub_a], DeleteProtection=False)
    assert wait_for(lambda: fw_status(nfw, fw)["Status"] == "READY")
    described = nfw.describe_firewall(FirewallArn=fw["FirewallArn"])
    endpoint_a = described["FirewallStatus"]["SyncStates"]["us-east-1a"]["Attachment"]["EndpointId"]

    out = nfw.associate_subnets(FirewallArn=fw["FirewallArn"], UpdateToken=described["UpdateToken"],
                                SubnetMappings=[{"SubnetId": sub_b}])
    out.pop("ResponseMetadata")
    assert set(out) == {"FirewallArn", "FirewallName", "SubnetMappings", "UpdateToken"}
    assert out["FirewallArn"] == fw["FirewallArn"] and out["FirewallName"] == fw["FirewallName"]
    assert out["SubnetMappings"] == [{"SubnetId": sub_a, "IPAddressType": "IPV4"},
                                     {"SubnetId": sub_b, "IPAddressType": "IPV4"}]
    assert out["UpdateToken"] != described["UpdateToken"]

    status = fw_status(nfw, fw)
    assert status["Status"] == "PROVISIONING" and status["ConfigurationSyncStateSummary"] == "PENDING"
    assert sorted(status["SyncStates"]) == ["us-east-1a", "us-east-1b"]
    att_a, att_b = (status["SyncStates"][f"us-east-1{z}"]["Attachment"] for z in "ab")
    assert att_a == {"SubnetId": sub_a, "EndpointId": endpoint_a, "Status": "READY"}  # the old zone is untouched
    assert att_b["SubnetId"] == sub_b and att_b["Status"] == "CREATING" and att_b["EndpointId"] != endpoint_a
    assert {v["SyncStatus"] for v in status["SyncStates"]["us-east-1a"]["Config"].values()} == {"IN_SYNC"}
    assert {v["SyncStatus"] for v in status["SyncStates"]["us-east-1b"]["Config"].values()} == {"PENDING"}

    # The new zone's endpoint is a real GWLB endpoint with its ENI in the new subnet.
    ep = ec2.describe_vpc_endpoints(VpcEndpointIds=[att_b["EndpointId"]])["VpcEndpoints"][0]
    assert ep["VpcEndpointType"] == "GatewayLoadBalancer" and ep["SubnetIds"] == [sub_b] and ep["State"] == "pending"
    assert {"Key": "Firewall", "Value": fw["FirewallArn"]} in ep["Tags"]
    assert [e["NetworkInterfaceId"] for e in enis_in(ec2, sub_b)] == ep["NetworkInterfaceIds"]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", VpcEndpointId=att_b["EndpointId"])

    assert wait_for(lambda: fw_status(nfw, fw)["Status"] == "READY")
    ready = fw_status(nfw, fw)
    assert ready["ConfigurationSyncStateSummary"] == "IN_SYNC"
    assert {s["Attachment"]["Status"] for s in ready["SyncStates"].values()} == {"READY"}
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[att_b["EndpointId"]])["VpcEndpoints"][0]["State"] == "available"

    with pytest.raises(ClientError) as e:  # the token of before the association is stale
        nfw.associate_subnets(FirewallArn=fw["FirewallArn"], UpdateToken=described["UpdateToken"],
                              SubnetMappings=[{"SubnetId": sub_c}])
    assert err(e) == ("InvalidTokenException", 400)
    by_name = nfw.associate_subnets(FirewallName=fw["FirewallName"], SubnetMappings=[{"SubnetId": sub_c}])
    assert [m["SubnetId"] for m in by_name["SubnetMappings"]] == [sub_a, sub_b, sub_c]
    assert sorted(fw_status(nfw, fw)["SyncStates"]) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    described = nfw.describe_firewall(FirewallArn=fw["FirewallArn"])
    assert described["Firewall"]["SubnetMappings"] == by_name["SubnetMappings"]

    # DeleteFirewall takes every zone's endpoint with it.
    nfw.delete_firewall(FirewallArn=fw["FirewallArn"])
    assert wait_for(lambda: {e["State"] for e in ec2.describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]} == {"deleted"})  # still listed, as in AWS
    ec2.delete_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0")
    for sub in (sub_a, sub_b, sub_c):
        ec2.delete_subnet(SubnetId=sub)


def test_subnet_association_refusals(emulator):
    nfw, ec2 = emulator.client("network-firewall"), emulator.client("ec2")
    vpc, (sub_a, sub_a2, sub_b, sub_b2) = network(ec2, "aabb")
    fw = firewall(nfw, vpc, [sub_a])
    arn = fw["FirewallArn"]
    other_vpc, (foreign,) = network(ec2, "c")

    for mappings in ([{"SubnetId": sub_a2}],  # AZ a already has sub_a
                     [{"SubnetId": sub_a}],  # already associated
                     [{"SubnetId": sub_b}, {"SubnetId": sub_b2}],  # two in one AZ
                     [{"SubnetId": foreign}],  # another VPC
                     [{"SubnetId": "subnet-0000000000000000f"}],
                     []):
        with pytest.raises(ClientError) as e:
            nfw.associate_subnets(FirewallArn=arn, SubnetMappings=mappings)
        assert err(e) == ("InvalidRequestException", 400), mappings
    with pytest.raises(ClientError) as e:
        nfw.associate_subnets(FirewallName="no-such-firewall", SubnetMappings=[{"SubnetId": sub_b}])
    assert err(e) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as e:
        nfw.associate_subnets(SubnetMappings=[{"SubnetId": sub_b}])
    assert err(e) == ("InvalidRequestException", 400)

    with pytest.raises(ClientError) as e:  # the last AZ
        nfw.disassociate_subnets(FirewallArn=arn, SubnetIds=[sub_a])
    assert err(e) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as e:  # not associated
        nfw.disassociate_subnets(FirewallArn=arn, SubnetIds=[sub_b])
    assert err(e) == ("InvalidRequestException", 400)
    assert nfw.describe_firewall(FirewallArn=arn)["Firewall"]["SubnetMappings"] == [
        {"SubnetId": sub_a, "IPAddressType": "IPV4"}]  # nothing changed

    # SubnetChangeProtection, TRUE unless set at creation, guards both directions.
    guarded = firewall(nfw, vpc, [sub_b], SubnetChangeProtection=True)
    assert guarded["SubnetChangeProtection"] is True
    with pytest.raises(ClientError) as e:
        nfw.associate_subnets(FirewallArn=guarded["FirewallArn"], SubnetMappings=[{"SubnetId": sub_a2}])
    assert err(e) == ("InvalidOperationException", 400)
    token = nfw.describe_firewall(FirewallArn=guarded["FirewallArn"])["UpdateToken"]
    with pytest.raises(ClientError) as e:
        nfw.update_subnet_change_protection(FirewallArn=guarded["FirewallArn"], UpdateToken="stale",
                                            SubnetChangeProtection=False)
    assert err(e) == ("InvalidTokenException", 400)
    off = nfw.update_subnet_change_protection(FirewallArn=guarded["FirewallArn"], UpdateToken=token,
                                              SubnetChangeProtection=False)
    assert off["SubnetChangeProtection"] is False and off["UpdateToken"] != token
    nfw.associate_subnets(FirewallArn=guarded["FirewallArn"], SubnetMappings=[{"SubnetId": sub_a2}])
    nfw.update_subnet_change_protection(FirewallName=guarded["FirewallName"], SubnetChangeProtection=True)
    with pytest.raises(ClientError) as e:
        nfw.disassociate_subnets(FirewallArn=guarded["FirewallArn"], SubnetIds=[sub_a2])
    assert err(e) == ("InvalidOperationException", 400)


def test_disassociate_subnets_removes_the_endpoint_then_frees_the_subnet(make_emulator):
    emu = make_emulator(scale=SCALE)
    nfw, ec2 = emu.client("network-firewall"), emu.client("ec2")
    vpc, (sub_a, sub_b, sub_b2) = network(ec2, "abb")
    fw = firewall(nfw, vpc, [sub_a])
    nfw.associate_subnets(FirewallArn=fw["FirewallArn"], SubnetMappings=[{"SubnetId": sub_b}])
    endpoint_b = fw_status(nfw, fw)["SyncStates"]["us-east-1b"]["Attachment"]["EndpointId"]
    with pytest.raises(ClientError) as e:  # the new endpoint's ENI is in the subnet
        ec2.delete_subnet(SubnetId=sub_b)
    assert err(e) == ("DependencyViolation", 400)
    assert wait_for(lambda: fw_status(nfw, fw)["Status"] == "READY")

    out = nfw.disassociate_subnets(FirewallArn=fw["FirewallArn"], SubnetIds=[sub_b])
    out.pop("ResponseMetadata")
    assert set(out) == {"FirewallArn", "FirewallName", "SubnetMappings", "UpdateToken"}
    assert out["SubnetMappings"] == [{"SubnetId": sub_a, "IPAddressType": "IPV4"}]
    status = fw_status(nfw, fw)
    assert status["Status"] == "PROVISIONING"
    assert status["SyncStates"]["us-east-1b"]["Attachment"] == {
        "SubnetId": sub_b, "EndpointId": endpoint_b, "Status": "DELETING"}
    assert status["SyncStates"]["us-east-1a"]["Attachment"]["Status"] == "READY"
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_b])["VpcEndpoints"][0]["State"] == "deleting"
    with pytest.raises(ClientError) as e:  # blocked until the endpoint (and its ENI) is gone
        ec2.delete_subnet(SubnetId=sub_b)
    assert err(e) == ("DependencyViolation", 400)
    with pytest.raises(ClientError) as e:  # AZ b is still being vacated
        nfw.associate_subnets(FirewallArn=fw["FirewallArn"], SubnetMappings=[{"SubnetId": sub_b2}])
    assert err(e) == ("InvalidRequestException", 400)

    assert wait_for(lambda: fw_status(nfw, fw)["Status"] == "READY")
    assert list(fw_status(nfw, fw)["SyncStates"]) == ["us-east-1a"]
    gone_b = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_b])["VpcEndpoints"][0]
    assert gone_b["State"] == "deleted" and gone_b["NetworkInterfaceIds"] == []  # listed as deleted, as in AWS
    assert enis_in(ec2, sub_b) == []
    ec2.delete_subnet(SubnetId=sub_b)
    # AZ b can take another subnet now.
    nfw.associate_subnets(FirewallArn=fw["FirewallArn"], SubnetMappings=[{"SubnetId": sub_b2}])
    assert fw_status(nfw, fw)["SyncStates"]["us-east-1b"]["Attachment"]["SubnetId"] == sub_b2


# --- EC2 ModifyVpcEndpoint ----------------------------------------------------------------------------

def test_modify_interface_endpoint_subnets_and_groups(emulator):
    ec2 = emulator.client("ec2")
    vpc, (sub_a, sub_a2, sub_b, sub_c) = network(ec2, "aabc")
    sg = ec2.create_security_group(GroupName=name("vpce"), Description="endpoints", VpcId=vpc)["GroupId"]
    sg2 = ec2.create_security_group(GroupName=name("vpce2"), Description="endpoints", VpcId=vpc)["GroupId"]
    ep_id = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.sts", VpcEndpointType="Interface",
                                    SubnetIds=[sub_a], SecurityGroupIds=[sg])["VpcEndpoint"]["VpcEndpointId"]

    def endpoint():
        return ec2.describe_vpc_endpoints(VpcEndpointIds=[ep_id])["VpcEndpoints"][0]

    assert ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, AddSubnetIds=[sub_b, sub_c])["Return"] is True
    ep = endpoint()
    assert ep["SubnetIds"] == [sub_a, sub_b, sub_c] and len(ep["NetworkInterfaceIds"]) == 3
    (eni_b,) = enis_in(ec2, sub_b)
    assert eni_b["NetworkInterfaceId"] in ep["NetworkInterfaceIds"]
    assert eni_b["InterfaceType"] == "vpc_endpoint" and eni_b["RequesterManaged"] is True
    assert [g["GroupId"] for g in eni_b["Groups"]] == [sg]
    with pytest.raises(ClientError) as e:
        ec2.delete_subnet(SubnetId=sub_b)
    assert err(e) == ("DependencyViolation", 400)

    with pytest.raises(ClientError) as e:  # AZ a already has sub_a
        ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, AddSubnetIds=[sub_a2])
    assert err(e) == ("DuplicateSubnetsInSameZone", 400)
    with pytest.raises(ClientError) as e:
        ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, AddSubnetIds=["subnet-0000000000000000f"])
    assert err(e)[0] == "InvalidSubnetID.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.modify_vpc_endpoint(VpcEndpointId="vpce-0000000000000000f", AddSubnetIds=[sub_b])
    assert err(e)[0] == "InvalidVpcEndpointId.NotFound"
    assert endpoint()["SubnetIds"] == [sub_a, sub_b, sub_c]  # refusals changed nothing

    ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, RemoveSubnetIds=[sub_b])
    ep = endpoint()
    assert ep["SubnetIds"] == [sub_a, sub_c] and len(ep["NetworkInterfaceIds"]) == 2
    assert enis_in(ec2, sub_b) == []
    ec2.delete_subnet(SubnetId=sub_b)

    # Swapping the subnet of an AZ in one call is fine.
    ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, RemoveSubnetIds=[sub_a], AddSubnetIds=[sub_a2])
    assert endpoint()["SubnetIds"] == [sub_c, sub_a2] and enis_in(ec2, sub_a) == []

    ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, AddSecurityGroupIds=[sg2], RemoveSecurityGroupIds=[sg])
    for eni_id in endpoint()["NetworkInterfaceIds"]:
        eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
        assert [g["GroupId"] for g in eni["Groups"]] == [sg2]
    ec2.delete_security_group(GroupId=sg)

    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep_id])
    for sub in (sub_a, sub_a2, sub_c):
        ec2.delete_subnet(SubnetId=sub)


def test_modify_gateway_endpoint_route_tables(emulator):
    ec2 = emulator.client("ec2")
    vpc, _ = network(ec2, "a")
    rt1, rt2, rt3 = (ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in range(3))
    ep = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, VpcEndpointType="Gateway",
                                 RouteTableIds=[rt1])["VpcEndpoint"]
    ep_id = ep["VpcEndpointId"]

    def prefix_routes(rt):
        routes = ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]
        return [(r["DestinationPrefixListId"], r["GatewayId"]) for r in routes if "DestinationPrefixListId" in r]

    pl = prefix_routes(rt1)[0][0]
    ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, AddRouteTableIds=[rt2, rt3])
    assert prefix_routes(rt2) == prefix_routes(rt3) == [(pl, ep_id)]
    ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, AddRouteTableIds=[rt2])  # already there: no second route
    assert prefix_routes(rt2) == [(pl, ep_id)]
    ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, RemoveRouteTableIds=[rt1])
    assert prefix_routes(rt1) == []
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[ep_id])["VpcEndpoints"][0]["RouteTableIds"] == [rt2, rt3]
    with pytest.raises(ClientError) as e:
        ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, AddRouteTableIds=["rtb-0000000000000000f"])
    assert err(e)[0] == "InvalidRouteTableID.NotFound"
    ec2.delete_route_table(RouteTableId=rt1)  # no endpoint route left in it

    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep_id])  # instant at scale 0: its routes go with it
    assert prefix_routes(rt2) == prefix_routes(rt3) == []


# --- SageMaker UpdateDomain ---------------------------------------------------------------------------

class Domain:
    def __init__(self, emu, subnets_azs="abcb"):
        self.ec2, self.sm, self.efs = emu.client("ec2"), emu.client("sagemaker"), emu.client("efs")
        self.vpc, self.subnets = network(self.ec2, subnets_azs)
        self.id = self.sm.create_domain(
            DomainName=name("dom"), AuthMode="IAM", VpcId=self.vpc, SubnetIds=self.subnets[:1],
            AppNetworkAccessType="VpcOnly", DefaultUserSettings={"ExecutionRole": ROLE})["DomainArn"].split("/")[-1]

    def describe(self):
        return self.sm.describe_domain(DomainId=self.id)

    def mount_targets(self):
        fs = self.describe()["HomeEfsFileSystemId"]
        return self.efs.describe_mount_targets(FileSystemId=fs)["MountTargets"]

    def inbound_group(self):
        return self.ec2.describe_security_groups(Filters=[
            {"Name": "group-name", "Values": [f"security-group-for-inbound-nfs-{self.id}"]}])["SecurityGroups"][0][
            "GroupId"]


def test_update_domain_adds_subnets_and_mount_targets(make_emulator):
    emu = make_emulator(scale=SCALE)
    d = Domain(emu)
    sub_a, sub_b, sub_c, sub_b2 = d.subnets
    with pytest.raises(ClientError) as e:  # still Pending
        d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_a, sub_b])
    assert err(e) == ("ResourceInUse", 400)
    assert wait_for(lambda: d.describe()["Status"] == "InService")
    assert [m["SubnetId"] for m in d.mount_targets()] == [sub_a]

    out = d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_a, sub_b, sub_c])
    assert out["DomainArn"] == d.describe()["DomainArn"]
    desc = d.describe()
    assert desc["SubnetIds"] == [sub_a, sub_b, sub_c] and desc["Status"] == "InService"
    mts = {m["AvailabilityZoneName"]: m for m in d.mount_targets()}
    assert {az: m["SubnetId"] for az, m in mts.items()} == {
        "us-east-1a": sub_a, "us-east-1b": sub_b, "us-east-1c": sub_c}
    inbound = d.inbound_group()
    for az in ("us-east-1b", "us-east-1c"):
        mt = mts[az]
        assert mt["LifeCycleState"] == "available"
        groups = d.efs.describe_mount_target_security_groups(MountTargetId=mt["MountTargetId"])["SecurityGroups"]
        assert groups == [inbound]
        eni = d.ec2.describe_network_interfaces(NetworkInterfaceIds=[mt["NetworkInterfaceId"]])["NetworkInterfaces"][0]
        assert eni["SubnetId"] == mt["SubnetId"] and eni["RequesterManaged"] is True
        assert [g["GroupId"] for g in eni["Groups"]] == [inbound]
    with pytest.raises(ClientError) as e:  # the new mount target's ENI
        d.ec2.delete_subnet(SubnetId=sub_b)
    assert err(e) == ("DependencyViolation", 400)

    # A second subnet in AZ b: listed, but EFS keeps one mount target per AZ.
    d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_a, sub_b, sub_c, sub_b2])
    assert d.describe()["SubnetIds"] == [sub_a, sub_b, sub_c, sub_b2] and len(d.mount_targets()) == 3

    for bad in (["subnet-0000000000000000f"], [network(d.ec2, "a")[1][0]]):  # unknown; another VPC
        with pytest.raises(ClientError) as e:
            d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_a] + bad)
        assert err(e) == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:
        d.sm.update_domain(DomainId="d-000000000000", SubnetIds=[sub_a])
    assert err(e) == ("ResourceNotFound", 400)

    # DeleteDomain with RetentionPolicy Delete unmounts every zone, the new ones included.
    d.sm.delete_domain(DomainId=d.id, RetentionPolicy={"HomeEfsFileSystem": "Delete"})
    assert wait_for(lambda: not d.efs.describe_file_systems()["FileSystems"])
    for sub in d.subnets:
        d.ec2.delete_subnet(SubnetId=sub)


def test_update_domain_subnet_removal_and_settings(emulator):
    d = Domain(emulator)
    sub_a, sub_b, _, _ = d.subnets
    d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_a, sub_b])
    d.sm.create_user_profile(DomainId=d.id, UserProfileName="alice")
    d.sm.create_space(DomainId=d.id, SpaceName="alice-space",
                      SpaceSettings={"AppType": "JupyterLab", **JUPYTERLAB_IMAGE},
                      OwnershipSettings={"OwnerUserProfileName": "alice"},
                      SpaceSharingSettings={"SharingType": "Private"})
    key = dict(DomainId=d.id, SpaceName="alice-space", AppType="JupyterLab", AppName="default")
    d.sm.create_app(**key)
    with pytest.raises(ClientError) as e:  # an app is InService
        d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_b])
    assert err(e) == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:
        d.sm.update_domain(DomainId=d.id, AppNetworkAccessType="PublicInternetOnly")
    assert err(e) == ("ValidationException", 400)
    d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_a, sub_b])  # no removal: allowed with apps
    assert d.describe()["SubnetIds"] == [sub_a, sub_b]

    d.sm.delete_app(**key)  # Deleted at once at scale 0
    d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_b],
                       DefaultUserSettings={"SecurityGroups": [d.inbound_group()]})
    desc = d.describe()
    assert desc["SubnetIds"] == [sub_b]
    assert desc["DefaultUserSettings"] == {"ExecutionRole": ROLE, "SecurityGroups": [d.inbound_group()]}
    assert len(d.mount_targets()) == 2  # SageMaker leaves the removed zone's mount target


def test_update_domain_removes_a_subnet_only_while_no_app_is_active(make_emulator):
    # botocore UpdateDomainRequest.SubnetIds: "If removing subnets, ensure there are no apps in the
    # InService, Pending, or Deleting state". The error is not documented: ValidationException (inferred).
    emu = make_emulator(scale=0.02)  # app: 2.4 s Pending, 1.8 s Deleting
    d = Domain(emu, "ab")
    sub_a, sub_b = d.subnets
    assert wait_for(lambda: d.describe()["Status"] == "InService", timeout=20)
    d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_a, sub_b])
    d.sm.create_user_profile(DomainId=d.id, UserProfileName="alice")
    assert wait_for(lambda: d.sm.describe_user_profile(DomainId=d.id, UserProfileName="alice")["Status"] == "InService")
    d.sm.create_space(DomainId=d.id, SpaceName="alice-space",
                      SpaceSettings={"AppType": "JupyterLab", **JUPYTERLAB_IMAGE},
                      OwnershipSettings={"OwnerUserProfileName": "alice"},
                      SpaceSharingSettings={"SharingType": "Private"})
    assert wait_for(lambda: d.sm.describe_space(DomainId=d.id, SpaceName="alice-space")["Status"] == "InService")
    key = dict(DomainId=d.id, SpaceName="alice-space", AppType="JupyterLab", AppName="default")

    def removal_refused():
        with pytest.raises(ClientError) as e:
            d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_b])
        assert err(e) == ("ValidationException", 400)
        assert d.describe()["SubnetIds"] == [sub_a, sub_b]

    d.sm.create_app(**key)
    assert d.sm.describe_app(**key)["Status"] == "Pending"
    removal_refused()
    assert wait_for(lambda: d.sm.describe_app(**key)["Status"] == "InService")
    removal_refused()
    d.sm.delete_app(**key)
    assert d.sm.describe_app(**key)["Status"] == "Deleting"
    removal_refused()
    assert wait_for(lambda: d.sm.describe_app(**key)["Status"] == "Deleted")

    assert d.sm.update_domain(DomainId=d.id, SubnetIds=[sub_b])["DomainArn"] == d.describe()["DomainArn"]
    assert d.describe()["SubnetIds"] == [sub_b]
    # SageMaker is not documented to delete the removed zone's mount target: it stays, and its ENI blocks the subnet.
    assert {(m["SubnetId"], m["LifeCycleState"]) for m in d.mount_targets()} == {(sub_a, "available"),
                                                                                 (sub_b, "available")}
    with pytest.raises(ClientError) as e:
        d.ec2.delete_subnet(SubnetId=sub_a)
    assert err(e) == ("DependencyViolation", 400)


def test_update_domain_to_vpc_only_needs_vpc_id_and_subnet_ids(emulator):
    # terraform-provider-aws#45528: AWS answers an UpdateDomain with AppNetworkAccessType VpcOnly but without
    # VpcId and SubnetIds so, even for a domain already VpcOnly (#45530 sends both with every such update).
    d = Domain(emulator, "ab")
    sub_a, sub_b = d.subnets
    for kw in ({}, {"SubnetIds": [sub_a]}, {"VpcId": d.vpc}):
        with pytest.raises(ClientError) as e:
            d.sm.update_domain(DomainId=d.id, AppNetworkAccessType="VpcOnly",
                               DefaultUserSettings={"SecurityGroups": [d.inbound_group()]}, **kw)
        assert err(e) == ("ValidationException", 400)
        assert e.value.response["Error"]["Message"] == "VpcId and Subnet IDs are required for updating domains to VpcOnly mode."
    assert d.describe()["DefaultUserSettings"] == {"ExecutionRole": ROLE}, "a refused update changes nothing"
    d.sm.update_domain(DomainId=d.id, DefaultUserSettings={"SecurityGroups": [d.inbound_group()]})  # VpcOnly not named
    d.sm.update_domain(DomainId=d.id, AppNetworkAccessType="VpcOnly", VpcId=d.vpc, SubnetIds=[sub_a, sub_b])
    desc = d.describe()
    assert (desc["AppNetworkAccessType"], desc["VpcId"], desc["SubnetIds"]) == ("VpcOnly", d.vpc, [sub_a, sub_b])
    other_vpc, (other_sub,) = network(d.ec2, "a")
    with pytest.raises(ClientError) as e:  # VpcId only adds a VPC to a domain made without one (botocore)
        d.sm.update_domain(DomainId=d.id, AppNetworkAccessType="VpcOnly", VpcId=other_vpc, SubnetIds=[other_sub])
    assert err(e) == ("ValidationException", 400)

    pub = emulator.client("sagemaker").create_domain(
        DomainName=name("pub"), AuthMode="IAM", VpcId=d.vpc, SubnetIds=[sub_a], AppNetworkAccessType="PublicInternetOnly",
        DefaultUserSettings={"ExecutionRole": ROLE})["DomainArn"].split("/")[-1]
    with pytest.raises(ClientError) as e:
        d.sm.update_domain(DomainId=pub, AppNetworkAccessType="VpcOnly")
    assert err(e) == ("ValidationException", 400)
    d.sm.update_domain(DomainId=pub, AppNetworkAccessType="VpcOnly", VpcId=d.vpc, SubnetIds=[sub_a])
    assert d.sm.describe_domain(DomainId=pub)["AppNetworkAccessType"] == "VpcOnly"

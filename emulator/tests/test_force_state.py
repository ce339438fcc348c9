"""Control path POST /_emulator/force-state: failed NAT gateways, Failed SageMaker apps, lingering ENIs, and refusals."""
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError
from helpers import JUPYTERLAB_IMAGE, err
from helpers import wait_value as wait_for

ROLE = "arn:aws:iam::123456789012:role/studio-exec"
NAT_SCALE = 0.01  # ec2.nat_gateway: 105 s -> 1.05 s up, 55 s -> 0.55 s down
SM_SCALE = 0.01  # sm.domain 120 s -> 1.2 s, sm.user_profile 20 s -> 0.2 s, sm.space 10 s -> 0.1 s,
#                  sm.app 120 s -> 1.2 s up, 90 s -> 0.9 s down (and a Failed app's time before SageMaker deletes it)


def force(emu, **body):
    return emu.control("POST", "force-state", body)


def post_raw(emu, data):
    req = urllib.request.Request(emu.url + "/_emulator/force-state", method="POST", data=data)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


# --- NAT gateways -------------------------------------------------------------------------------

class Nat:
    """VPC, subnet, attached IGW, an EIP and a NAT gateway on it."""

    def __init__(self, emu, cidr="10.60.0.0/16", subnet_cidr="10.60.1.0/24"):
        self.ec2 = ec2 = emu.client("ec2")
        self.vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        self.subnet = ec2.create_subnet(VpcId=self.vpc, CidrBlock=subnet_cidr,
                                        AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        self.igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=self.igw, VpcId=self.vpc)
        self.alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=self.subnet, AllocationId=self.alloc)["NatGateway"]
        self.id, self.eni = nat["NatGatewayId"], nat["NatGatewayAddresses"][0]["NetworkInterfaceId"]

    def describe(self):
        return self.ec2.describe_nat_gateways(NatGatewayIds=[self.id])["NatGateways"][0]

    def subnet_enis(self):
        return self.ec2.describe_network_interfaces(
            Filters=[{"Name": "subnet-id", "Values": [self.subnet]}])["NetworkInterfaces"]

    def eip(self):
        return self.ec2.describe_addresses(AllocationIds=[self.alloc])["Addresses"][0]


def test_nat_gateway_forced_failed_shows_failure_and_releases_eni_and_eip(emulator):
    nat = Nat(emulator)
    assert nat.describe()["State"] == "available" and "AssociationId" in nat.eip()
    assert [e["NetworkInterfaceId"] for e in nat.subnet_enis()] == [nat.eni]

    status, out = force(emulator, kind="nat_gateway", id=nat.id, state="failed",
                        message="Network vpc-x has no Internet gateway attached")
    assert status == 200
    assert out == {"kind": "nat_gateway", "id": nat.id, "state": "failed", "failure_code": "InternalError",
                   "message": "Network vpc-x has no Internet gateway attached", "region": "us-east-1"}
    d = nat.describe()
    assert (d["State"], d["FailureCode"], d["FailureMessage"]) == (
        "failed", "InternalError", "Network vpc-x has no Internet gateway attached")
    failed = nat.ec2.describe_nat_gateways(Filters=[{"Name": "state", "Values": ["failed"]}])["NatGateways"]
    assert nat.id in [n["NatGatewayId"] for n in failed]
    assert nat.subnet_enis() == []  # ENI released
    assert "AssociationId" not in nat.eip()  # EIP disassociated (still allocated)
    nat.ec2.detach_internet_gateway(InternetGatewayId=nat.igw, VpcId=nat.vpc)  # no mapped address left

    assert nat.describe()["State"] == "failed"  # the lifecycle leaves it failed
    nat.ec2.delete_nat_gateway(NatGatewayId=nat.id)
    assert nat.describe()["State"] == "deleted"  # scale 0: deleting is instant
    nat.ec2.delete_subnet(SubnetId=nat.subnet)
    nat.ec2.delete_vpc(VpcId=nat.vpc)


def test_nat_failure_code_can_be_chosen_and_forcing_again_updates_it(emulator):
    nat = Nat(emulator, "10.61.0.0/16", "10.61.1.0/24")
    assert force(emulator, kind="nat_gateway", id=nat.id, state="failed",
                 failure_code="InsufficientFreeAddressesInSubnet", message="no free address")[0] == 200
    d = nat.describe()
    assert (d["FailureCode"], d["FailureMessage"]) == ("InsufficientFreeAddressesInSubnet", "no free address")
    status, out = force(emulator, kind="nat_gateway", id=nat.id, state="failed")  # already failed: allowed
    assert status == 200 and out["failure_code"] == "InternalError" and out["message"]
    assert nat.describe()["FailureMessage"] == out["message"]


def test_pending_nat_forced_failed_never_becomes_available_and_deletes_through_lifecycle(make_emulator):
    emu = make_emulator(scale=NAT_SCALE)
    nat = Nat(emu)
    assert nat.describe()["State"] == "pending"
    assert force(emu, kind="nat_gateway", id=nat.id, state="failed", message="boom")[0] == 200
    time.sleep(105 * NAT_SCALE + 0.2)  # past create_s
    assert nat.describe()["State"] == "failed"
    assert nat.subnet_enis() == []
    with pytest.raises(ClientError) as e:  # still a NAT gateway of the VPC until deleted
        nat.ec2.delete_vpc(VpcId=nat.vpc)
    assert err(e) == ("DependencyViolation", 400)

    nat.ec2.delete_nat_gateway(NatGatewayId=nat.id)
    assert nat.describe()["State"] == "deleting"
    status, out = force(emu, kind="nat_gateway", id=nat.id, state="failed")  # too late to fail
    assert status == 400 and "deleting" in out["error"]
    wait_for(lambda: nat.describe()["State"], lambda s: s == "deleted")
    assert nat.describe()["FailureCode"] == "InternalError"  # still listed, as deleted
    nat.ec2.detach_internet_gateway(InternetGatewayId=nat.igw, VpcId=nat.vpc)
    nat.ec2.delete_subnet(SubnetId=nat.subnet)
    nat.ec2.delete_vpc(VpcId=nat.vpc)


# --- SageMaker apps -----------------------------------------------------------------------------

class Studio:
    """VPC + subnet + domain + user profile 'alice' + her private JupyterLab space 'alice-space'."""

    def __init__(self, emu):
        self.ec2, self.sm = emu.client("ec2"), emu.client("sagemaker")
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnet = self.ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.0.1.0/24",
                                             AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        arn = self.sm.create_domain(DomainName="dom-" + uuid.uuid4().hex[:8], AuthMode="IAM", VpcId=self.vpc,
                                    SubnetIds=[self.subnet], AppNetworkAccessType="VpcOnly",
                                    DefaultUserSettings={"ExecutionRole": ROLE})["DomainArn"]
        self.id = arn.split("/")[-1]
        wait_for(lambda: self.sm.describe_domain(DomainId=self.id)["Status"], lambda s: s == "InService")
        self.sm.create_user_profile(DomainId=self.id, UserProfileName="alice")
        wait_for(lambda: self.sm.describe_user_profile(DomainId=self.id, UserProfileName="alice")["Status"],
                 lambda s: s == "InService")
        self.sm.create_space(DomainId=self.id, SpaceName="alice-space",
                             SpaceSettings={"AppType": "JupyterLab", **JUPYTERLAB_IMAGE},
                             OwnershipSettings={"OwnerUserProfileName": "alice"},
                             SpaceSharingSettings={"SharingType": "Private"})
        wait_for(lambda: self.sm.describe_space(DomainId=self.id, SpaceName="alice-space")["Status"],
                 lambda s: s == "InService")

    def key(self, name="default"):
        return dict(DomainId=self.id, SpaceName="alice-space", AppType="JupyterLab", AppName=name)

    def force_body(self, name="default", **kw):
        return dict(kind="sagemaker_app", domain_id=self.id, space_name="alice-space", app_type="JupyterLab",
                    app_name=name, **kw)

    def app(self, name="default"):
        return self.sm.describe_app(**self.key(name))

    def listed(self, name="default"):
        return [a for a in self.sm.list_apps(DomainIdEquals=self.id)["Apps"] if a["AppName"] == name]

    def app_enis(self):
        return [e for e in self.ec2.describe_network_interfaces(
            Filters=[{"Name": "subnet-id", "Values": [self.subnet]}])["NetworkInterfaces"]
            if "/jupyterlab/" in e["Description"]]


def test_sagemaker_app_forced_failed_is_deleted_by_sagemaker_at_once_at_scale_zero(emulator):
    st = Studio(emulator)
    arn = st.sm.create_app(**st.key())["AppArn"]
    assert st.app()["Status"] == "InService" and "FailureReason" not in st.app()

    status, out = force(emulator, **st.force_body(state="Failed", message="Kernel gateway could not start"))
    assert status == 200
    assert out == {"kind": "sagemaker_app", "domain_id": st.id, "space_name": "alice-space",
                   "app_type": "JupyterLab", "app_name": "default", "state": "Failed",
                   "message": "Kernel gateway could not start", "app_arn": arn, "region": "us-east-1"}
    # scale 0: SageMaker's own deletion of a failed app (after sm.app delete_s) is immediate
    a = st.app()
    assert (a["Status"], a["FailureReason"]) == ("Deleted", "Kernel gateway could not start")
    assert [x["Status"] for x in st.listed()] == ["Deleted"]
    assert st.app_enis() == []
    with pytest.raises(ClientError) as e:
        st.sm.delete_app(**st.key())
    assert err(e) == ("ValidationException", 400)
    assert "previously failed and was automatically deleted" in e.value.response["Error"]["Message"]
    st.sm.create_app(**st.key())  # the name is free again
    a = st.app()
    assert a["Status"] == "InService" and "FailureReason" not in a
    assert [x["Status"] for x in st.listed()] == ["InService"]
    assert len(st.app_enis()) == 1


def test_pending_app_forced_failed_holds_its_name_until_sagemaker_deletes_it(make_emulator):
    emu = make_emulator(scale=SM_SCALE)
    st = Studio(emu)
    st.sm.create_app(**st.key())
    assert st.app()["Status"] == "Pending"
    assert force(emu, **st.force_body(state="Failed", message="no capacity"))[0] == 200
    t0 = time.time()
    a = st.app()
    assert (a["Status"], a["FailureReason"]) == ("Failed", "no capacity")
    assert [x["Status"] for x in st.listed()] == ["Failed"]
    with pytest.raises(ClientError) as e:  # a Failed app still holds its name
        st.sm.create_app(**st.key())
    assert err(e) == ("ResourceInUse", 400)
    with pytest.raises(ClientError) as e:  # and its space
        st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")
    assert err(e)[0] == "ResourceInUse"
    assert len(st.app_enis()) == 1  # its ENI stays until Deleted, as for any app
    wait_for(lambda: st.app()["Status"], lambda s: s == "Deleted")  # Failed -> Deleted, no Deleting
    assert time.time() - t0 >= 90 * SM_SCALE - 0.05
    assert st.app_enis() == []
    status, out = force(emu, **st.force_body(state="Failed"))
    assert status == 400 and "Deleted" in out["error"]

    st.sm.create_app(**st.key())
    wait_for(lambda: st.app()["Status"], lambda s: s == "InService")
    assert force(emu, **st.force_body(state="Failed"))[0] == 200
    st.sm.delete_app(**st.key())  # before SageMaker does it: Deleting -> Deleted as usual
    assert st.app()["Status"] == "Deleting"
    status, out = force(emu, **st.force_body(state="Failed"))
    assert status == 400 and "Deleting" in out["error"]
    wait_for(lambda: st.app()["Status"], lambda s: s == "Deleted")
    with pytest.raises(ClientError) as e:
        st.sm.delete_app(**st.key())
    assert "has already been deleted" in e.value.response["Error"]["Message"]


# --- refusals -----------------------------------------------------------------------------------

def test_errors_are_400_with_a_message(emulator):
    st = Studio(emulator)
    st.sm.create_app(**st.key())
    nat = Nat(emulator, "10.62.0.0/16", "10.62.1.0/24")
    bad = [
        {"kind": "ec2_instance", "id": "i-0123", "state": "failed"},  # unknown kind
        {"id": nat.id, "state": "failed"},  # no kind
        {"kind": "nat_gateway", "id": nat.id, "state": "available"},  # state not allowed
        {"kind": "nat_gateway", "id": nat.id, "state": "Failed"},  # AWS spelling per kind
        {"kind": "nat_gateway", "id": "nat-0123456789abcdef0", "state": "failed"},  # unknown id
        {"kind": "nat_gateway", "state": "failed"},  # no id
        {"kind": "nat_gateway", "id": nat.id, "state": "failed", "message": 42},  # message not a string
        st.force_body(state="failed"),
        st.force_body(state="InService"),
        st.force_body(name="nope", state="Failed"),  # unknown app
        dict(st.force_body(state="Failed"), domain_id="d-000000000000"),  # unknown domain
        dict(st.force_body(state="Failed"), space_name="bob-space"),  # unknown space
        dict(st.force_body(state="Failed"), user_profile_name="alice"),  # a profile and a space
        {"kind": "sagemaker_app", "domain_id": st.id, "state": "Failed"},  # key incomplete
    ]
    for body in bad:
        status, out = force(emulator, **body)
        assert status == 400, body
        assert set(out) == {"error"} and out["error"], body
    assert post_raw(emulator, b"not json")[0] == 400
    assert post_raw(emulator, b"[1, 2]")[0] == 400
    # nothing was changed by the refusals
    assert nat.describe()["State"] == "available" and "FailureCode" not in nat.describe()
    assert st.app()["Status"] == "InService"


def test_force_state_works_after_reset(make_emulator):
    emu = make_emulator()
    nat = Nat(emu)
    assert force(emu, kind="nat_gateway", id=nat.id, state="failed")[0] == 200
    urllib.request.urlopen(urllib.request.Request(emu.url + "/_emulator/reset", method="POST")).read()
    assert emu.client("ec2").describe_nat_gateways()["NatGateways"] == []  # moto's reset took it
    assert force(emu, kind="nat_gateway", id=nat.id, state="failed")[0] == 400  # unknown now
    nat = Nat(emu)
    assert force(emu, kind="nat_gateway", id=nat.id, state="failed")[0] == 200
    assert nat.describe()["State"] == "failed"


# --- lingering ENIs -----------------------------------------------------------------------------

def test_lingering_eni_is_in_use_then_available_and_blocks_its_subnet_and_group(emulator):
    # SageMaker's ENIs outlive their app or domain (terraform-provider-aws#34397,
    # cloudformation-coverage-roadmap#1327): in use for a while, then detached, then a sweep may delete them.
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.62.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.62.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="studio-apps", Description="apps", VpcId=vpc)["GroupId"]
    description = "[DO NOT DELETE] ENI managed by SageMaker for Studio Domain(d-leftover) - app"
    started = time.time()
    status, out = force(emulator, kind="lingering_eni", subnet_id=subnet, in_use_s=1.5, description=description,
                        tags={"ManagedByAmazonSageMakerResource": "arn:aws:sagemaker:us-east-1:123456789012:app/x"},
                        group_ids=[sg])
    assert status == 200, out
    eni_id = out.pop("id")
    # available_at is rounded to the millisecond: up to half of one above the clock read after the answer.
    assert eni_id.startswith("eni-") and started + 1.5 - 0.001 <= out.pop("available_at") <= time.time() + 1.5 + 0.001
    assert out == {"kind": "lingering_eni", "subnet_id": subnet, "vpc_id": vpc, "state": "in-use", "in_use_s": 1.5,
                   "description": description, "group_ids": [sg], "region": "us-east-1",
                   "tags": {"ManagedByAmazonSageMakerResource": "arn:aws:sagemaker:us-east-1:123456789012:app/x"}}

    def eni():
        return ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]

    e = eni()
    assert (e["Status"], e["RequesterManaged"], e["SubnetId"], e["Description"]) == ("in-use", True, subnet, description)
    assert [g["GroupId"] for g in e["Groups"]] == [sg]
    assert e["TagSet"] == [{"Key": "ManagedByAmazonSageMakerResource",
                            "Value": "arn:aws:sagemaker:us-east-1:123456789012:app/x"}]
    # a sweep of available leftovers does not see it yet
    assert ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "status", "Values": ["available"]}])["NetworkInterfaces"] == []
    with pytest.raises(ClientError) as ex:  # EC2 error codes: InvalidNetworkInterface.InUse "or InvalidParameterValue"
        ec2.delete_network_interface(NetworkInterfaceId=eni_id)
    assert err(ex) == ("InvalidParameterValue", 400)
    for call, kw in ((ec2.delete_subnet, {"SubnetId": subnet}), (ec2.delete_security_group, {"GroupId": sg})):
        with pytest.raises(ClientError) as ex:
            call(**kw)
        assert err(ex) == ("DependencyViolation", 400)

    wait_for(lambda: eni()["Status"], lambda s: s == "available", timeout=5)
    assert time.time() >= started + 1.5
    e = eni()
    assert e["RequesterManaged"] is False and "Attachment" not in e
    swept = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                     {"Name": "status", "Values": ["available"]}])["NetworkInterfaces"]
    assert [x["NetworkInterfaceId"] for x in swept] == [eni_id]
    with pytest.raises(ClientError) as ex:  # available, but still there: the subnet stays blocked
        ec2.delete_subnet(SubnetId=subnet)
    assert err(ex) == ("DependencyViolation", 400)
    ec2.delete_network_interface(NetworkInterfaceId=eni_id)
    ec2.delete_security_group(GroupId=sg)
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)


def test_lingering_eni_defaults_and_refusals(emulator):
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.63.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.63.1.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.64.0.0/16")["Vpc"]["VpcId"]
    other_sg = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=other_vpc)["GroupId"]
    bad = [
        {"kind": "lingering_eni", "in_use_s": 1},  # no subnet
        {"kind": "lingering_eni", "subnet_id": "subnet-0000000000000000f", "in_use_s": 1},  # unknown subnet
        {"kind": "lingering_eni", "subnet_id": subnet},  # no in_use_s
        {"kind": "lingering_eni", "subnet_id": subnet, "in_use_s": -1},
        {"kind": "lingering_eni", "subnet_id": subnet, "in_use_s": "10"},
        {"kind": "lingering_eni", "subnet_id": subnet, "in_use_s": 1, "state": "available"},
        {"kind": "lingering_eni", "subnet_id": subnet, "in_use_s": 1, "tags": {"k": 1}},
        {"kind": "lingering_eni", "subnet_id": subnet, "in_use_s": 1, "group_ids": [other_sg]},
    ]
    for body in bad:
        status, out = force(emulator, **body)
        assert status == 400 and set(out) == {"error"}, body
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"] == []

    status, out = force(emulator, kind="lingering_eni", subnet_id=subnet, in_use_s=0)
    assert status == 200 and out["description"] == "" and out["tags"] == {}
    default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                       {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    assert out["group_ids"] == [default_sg[0]["GroupId"]]  # the VPC's default group, as CreateNetworkInterface
    e = ec2.describe_network_interfaces(NetworkInterfaceIds=[out["id"]])["NetworkInterfaces"][0]
    assert (e["Status"], e["RequesterManaged"]) == ("available", False)  # in_use_s 0: available at the next call
    ec2.delete_network_interface(NetworkInterfaceId=out["id"])

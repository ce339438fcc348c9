"""SageMaker Studio in the emulator: operations, lifecycles, refusals and side effects in EC2/EFS."""
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from helpers import JUPYTERLAB_IMAGE
from helpers import wait_value as wait_for

ROLE = "arn:aws:iam::123456789012:role/studio-exec"
TAG = "ManagedByAmazonSageMakerResource"
SCALE = 0.005  # sm.domain 120 s -> 0.6 s, sm.space 10 s -> 0.05 s, efs.mount_target delete 75 s -> 0.375 s


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def gone(call, code, **kw):
    """A probe for wait_for: True once `call(**kw)` fails with `code`."""
    def probe():
        try:
            call(**kw)
            return False
        except ClientError as e:
            assert e.response["Error"]["Code"] == code, e
            return True
    return probe


class Stack:
    """A VPC with two subnets in different AZs, a user security group and a domain in it."""

    def __init__(self, emu, n_subnets=2, **domain_kw):
        self.ec2, self.sm, self.efs = emu.client("ec2"), emu.client("sagemaker"), emu.client("efs")
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [
            self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{az}")[
                "Subnet"]["SubnetId"]
            for i, az in zip(range(1, n_subnets + 1), "ab")
        ]
        self.user_sg = self.ec2.create_security_group(GroupName="studio-users", Description="users",
                                                      VpcId=self.vpc)["GroupId"]
        self.name = "dom-" + uuid.uuid4().hex[:8]
        resp = self.sm.create_domain(
            DomainName=self.name, AuthMode="IAM", VpcId=self.vpc, SubnetIds=self.subnets,
            AppNetworkAccessType="VpcOnly", Tags=[{"Key": "project", "Value": "provision"}],
            DefaultUserSettings={"ExecutionRole": ROLE, "SecurityGroups": [self.user_sg]}, **domain_kw)
        self.arn = resp["DomainArn"]
        self.id = self.arn.split("/")[-1]

    def describe(self):
        return self.sm.describe_domain(DomainId=self.id)

    def nfs_groups(self):
        return {
            way: self.ec2.describe_security_groups(Filters=[
                {"Name": "vpc-id", "Values": [self.vpc]},
                {"Name": "group-name", "Values": [f"security-group-for-{way}-nfs-{self.id}"]}])["SecurityGroups"]
            for way in ("inbound", "outbound")
        }

    def tagged_file_systems(self):
        return [fs for fs in self.efs.describe_file_systems(MaxItems=1000)["FileSystems"]
                if {"Key": TAG, "Value": self.arn} in fs["Tags"]]

    def enis(self):
        return self.ec2.describe_network_interfaces(
            Filters=[{"Name": "vpc-id", "Values": [self.vpc]}])["NetworkInterfaces"]

    def profile(self, name="alice", **kw):
        return self.sm.create_user_profile(DomainId=self.id, UserProfileName=name, **kw)["UserProfileArn"]

    def space(self, name="alice-space", owner="alice"):
        """A private JupyterLab space of `owner` (today's Studio: apps run in spaces)."""
        return self.sm.create_space(
            DomainId=self.id, SpaceName=name, SpaceSettings={"AppType": "JupyterLab", **JUPYTERLAB_IMAGE},
            OwnershipSettings={"OwnerUserProfileName": owner}, SpaceSharingSettings={"SharingType": "Private"},
        )["SpaceArn"]

    def app_key(self, space="alice-space", name="default"):
        return dict(DomainId=self.id, SpaceName=space, AppType="JupyterLab", AppName=name)


# --- domain ---------------------------------------------------------------------------------------

def test_domain_describe_has_aws_fields_and_epoch_timestamps(emulator):
    st = Stack(emulator)
    raw = {}
    st.sm.meta.events.register("after-call.sagemaker.DescribeDomain",
                               lambda http_response, **_: raw.update(json.loads(http_response.content)))
    d = st.describe()
    assert d["DomainId"] == st.id and st.id.startswith("d-") and len(st.id) == 14
    assert d["DomainArn"] == st.arn and d["DomainName"] == st.name
    assert d["Status"] == "InService"
    assert d["VpcId"] == st.vpc and d["SubnetIds"] == st.subnets
    assert d["AppNetworkAccessType"] == "VpcOnly" and d["AuthMode"] == "IAM"
    assert d["DefaultUserSettings"] == {"ExecutionRole": ROLE, "SecurityGroups": [st.user_sg]}
    assert d["HomeEfsFileSystemId"].startswith("fs-")
    assert d["Url"] == f"https://{st.id}.studio.us-east-1.sagemaker.aws"
    assert "SingleSignOnManagedApplicationInstanceId" not in d and "FailureReason" not in d
    assert isinstance(raw["CreationTime"], (int, float)) and isinstance(raw["LastModifiedTime"], (int, float))
    listed = [x for x in st.sm.list_domains()["Domains"] if x["DomainId"] == st.id]
    assert listed[0]["Status"] == "InService" and listed[0]["DomainName"] == st.name


def test_describe_missing_domain_is_resource_not_found(emulator):
    with pytest.raises(ClientError) as e:
        emulator.client("sagemaker").describe_domain(DomainId="d-doesnotexist")
    assert error_code(e) == "ResourceNotFound"


def test_create_domain_duplicate_name_and_foreign_subnet_refused(emulator):
    st = Stack(emulator)
    with pytest.raises(ClientError) as e:
        st.sm.create_domain(DomainName=st.name, AuthMode="IAM", VpcId=st.vpc, SubnetIds=st.subnets,
                            DefaultUserSettings={"ExecutionRole": ROLE})
    assert error_code(e) == "ResourceInUse"
    other_vpc = st.ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    with pytest.raises(ClientError) as e:
        st.sm.create_domain(DomainName="elsewhere", AuthMode="IAM", VpcId=other_vpc, SubnetIds=st.subnets,
                            DefaultUserSettings={"ExecutionRole": ROLE})
    assert error_code(e) == "ValidationException"


# --- side effects of CreateDomain ---------------------------------------------------------------

def test_create_domain_makes_tagged_efs_with_a_mount_target_per_subnet(emulator):
    st = Stack(emulator)
    home = st.describe()["HomeEfsFileSystemId"]
    fss = st.tagged_file_systems()
    assert [fs["FileSystemId"] for fs in fss] == [home]
    assert fss[0]["Encrypted"] is True and fss[0]["NumberOfMountTargets"] == 2
    inbound = st.nfs_groups()["inbound"][0]["GroupId"]
    mts = st.efs.describe_mount_targets(FileSystemId=home)["MountTargets"]
    assert sorted(mt["SubnetId"] for mt in mts) == sorted(st.subnets)
    enis = {e["NetworkInterfaceId"]: e for e in st.enis()}
    for mt in mts:
        assert mt["LifeCycleState"] == "available"
        eni = enis[mt["NetworkInterfaceId"]]
        assert eni["SubnetId"] == mt["SubnetId"]
        assert [g["GroupId"] for g in eni["Groups"]] == [inbound]
        groups = st.efs.describe_mount_target_security_groups(MountTargetId=mt["MountTargetId"])
        assert groups["SecurityGroups"] == [inbound]


def test_create_domain_makes_two_nfs_groups_referencing_each_other(emulator):
    st = Stack(emulator)
    groups = st.nfs_groups()
    assert [len(groups["inbound"]), len(groups["outbound"])] == [1, 1]
    inbound, outbound = groups["inbound"][0], groups["outbound"][0]
    for way, g in (("inbound", inbound), ("outbound", outbound)):
        assert g["Description"] == (f"[DO NOT DELETE] Security Group that allows {way} NFS traffic "
                                    f"for SageMaker Notebooks Domain [{st.id}]")
        assert {"Key": TAG, "Value": st.arn} in g["Tags"]

    def nfs_rule(perms):
        return [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), [u["GroupId"] for u in p["UserIdGroupPairs"]])
                for p in perms]

    assert nfs_rule(inbound["IpPermissions"]) == [("tcp", 2049, 2049, [outbound["GroupId"]])]
    assert nfs_rule(outbound["IpPermissionsEgress"]) == [("tcp", 2049, 2049, [inbound["GroupId"]])]
    assert outbound["IpPermissions"] == []


def test_delete_subnet_fails_while_the_mount_target_exists(emulator):
    st = Stack(emulator)
    with pytest.raises(ClientError) as e:
        st.ec2.delete_subnet(SubnetId=st.subnets[0])
    assert error_code(e) == "DependencyViolation"


def test_delete_domain_retain_keeps_efs_mount_targets_and_groups(emulator):
    st = Stack(emulator)
    home = st.describe()["HomeEfsFileSystemId"]
    st.sm.delete_domain(DomainId=st.id)  # RetentionPolicy defaults to Retain
    wait_for(gone(st.sm.describe_domain, "ResourceNotFound", DomainId=st.id), bool)
    assert [fs["FileSystemId"] for fs in st.tagged_file_systems()] == [home]
    assert len(st.efs.describe_mount_targets(FileSystemId=home)["MountTargets"]) == 2
    assert len(st.enis()) == 2
    assert all(len(g) == 1 for g in st.nfs_groups().values())


def test_delete_domain_with_delete_policy_removes_efs_but_keeps_groups(emulator):
    st = Stack(emulator)
    home = st.describe()["HomeEfsFileSystemId"]
    st.sm.delete_domain(DomainId=st.id, RetentionPolicy={"HomeEfsFileSystem": "Delete"})
    wait_for(gone(st.sm.describe_domain, "ResourceNotFound", DomainId=st.id), bool)
    wait_for(gone(st.efs.describe_file_systems, "FileSystemNotFound", FileSystemId=home), bool)
    assert st.tagged_file_systems() == []
    assert st.enis() == []
    assert all(len(g) == 1 for g in st.nfs_groups().values())


# --- user profiles and apps ---------------------------------------------------------------------

def test_user_profile_operations(emulator):
    st = Stack(emulator)
    arn = st.profile("alice", UserSettings={"ExecutionRole": ROLE})
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:user-profile/{st.id}/alice"
    st.profile("bob")
    p = st.sm.describe_user_profile(DomainId=st.id, UserProfileName="alice")
    assert p["UserProfileArn"] == arn and p["DomainId"] == st.id and p["Status"] == "InService"
    assert p["UserSettings"] == {"ExecutionRole": ROLE} and p["HomeEfsFileSystemUid"].isdigit()
    names = [x["UserProfileName"] for x in st.sm.list_user_profiles(DomainIdEquals=st.id)["UserProfiles"]]
    assert names == ["alice", "bob"]
    only = st.sm.list_user_profiles(DomainIdEquals=st.id, UserProfileNameContains="bo")["UserProfiles"]
    assert [x["UserProfileName"] for x in only] == ["bob"]
    with pytest.raises(ClientError) as e:
        st.profile("alice")
    assert error_code(e) == "ResourceInUse"
    st.sm.delete_user_profile(DomainId=st.id, UserProfileName="bob")
    wait_for(gone(st.sm.describe_user_profile, "ResourceNotFound", DomainId=st.id, UserProfileName="bob"), bool)
    with pytest.raises(ClientError) as e:
        st.sm.create_user_profile(DomainId="d-missing00000", UserProfileName="x")
    assert error_code(e) == "ResourceNotFound"


def test_app_operations_and_its_eni(emulator):
    st = Stack(emulator)
    st.profile()
    st.space()
    arn = st.sm.create_app(**st.app_key())["AppArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:app/{st.id}/alice-space/jupyterlab/default"
    a = st.sm.describe_app(**st.app_key())
    assert a["AppArn"] == arn and a["Status"] == "InService" and a["AppType"] == "JupyterLab"
    assert a["SpaceName"] == "alice-space" and a["DomainId"] == st.id
    with pytest.raises(ClientError) as e:
        st.sm.create_app(**st.app_key())
    assert error_code(e) == "ResourceInUse"
    outbound = st.nfs_groups()["outbound"][0]["GroupId"]
    app_enis = [e for e in st.enis() if arn in e["Description"]]
    assert len(app_enis) == 1
    assert sorted(g["GroupId"] for g in app_enis[0]["Groups"]) == sorted([st.user_sg, outbound])

    st.sm.delete_app(**st.app_key())
    a = wait_for(lambda: st.sm.describe_app(**st.app_key()), lambda a: a["Status"] == "Deleted")
    listed = st.sm.list_apps(DomainIdEquals=st.id, SpaceNameEquals="alice-space")["Apps"]
    assert [(x["AppName"], x["Status"]) for x in listed] == [("default", "Deleted")]
    assert [e for e in st.enis() if arn in e["Description"]] == []
    with pytest.raises(ClientError) as e:
        st.sm.delete_app(**st.app_key())
    assert error_code(e) == "ValidationException"
    st.sm.create_app(**st.app_key())  # a Deleted app's name can be used again
    assert st.sm.describe_app(**st.app_key())["Status"] == "InService"
    with pytest.raises(ClientError) as e:
        st.sm.describe_app(**st.app_key(name="nope"))
    assert error_code(e) == "ResourceNotFound"


def test_refusals_domain_with_profiles_and_profile_with_apps(emulator):
    st = Stack(emulator)
    st.profile()
    canvas = dict(DomainId=st.id, UserProfileName="alice", AppType="Canvas", AppName="default")
    st.sm.create_app(**canvas)  # an app of the profile itself
    with pytest.raises(ClientError) as e:
        st.sm.delete_user_profile(DomainId=st.id, UserProfileName="alice")
    assert error_code(e) == "ResourceInUse"
    with pytest.raises(ClientError) as e:
        st.sm.delete_domain(DomainId=st.id)
    assert error_code(e) == "ResourceInUse"
    st.sm.delete_app(**canvas)
    wait_for(lambda: st.sm.describe_app(**canvas)["Status"], lambda s: s == "Deleted")
    st.space()
    st.sm.create_app(**st.app_key())
    with pytest.raises(ClientError) as e:  # now alice owns a space, whose app runs
        st.sm.delete_user_profile(DomainId=st.id, UserProfileName="alice")
    assert error_code(e) == "ResourceInUse"
    with pytest.raises(ClientError) as e:
        st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")
    assert error_code(e) == "ResourceInUse"
    st.sm.delete_app(**st.app_key())
    wait_for(lambda: st.sm.describe_app(**st.app_key())["Status"], lambda s: s == "Deleted")
    st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")
    wait_for(gone(st.sm.describe_space, "ResourceNotFound", DomainId=st.id, SpaceName="alice-space"), bool)
    st.sm.delete_user_profile(DomainId=st.id, UserProfileName="alice")
    wait_for(gone(st.sm.describe_user_profile, "ResourceNotFound", DomainId=st.id, UserProfileName="alice"), bool)
    st.sm.delete_domain(DomainId=st.id)
    wait_for(gone(st.sm.describe_domain, "ResourceNotFound", DomainId=st.id), bool)


def test_presigned_domain_url(emulator):
    st = Stack(emulator)
    st.profile()
    url = st.sm.create_presigned_domain_url(DomainId=st.id, UserProfileName="alice")["AuthorizedUrl"]
    prefix = f"https://{st.id}.studio.us-east-1.sagemaker.aws/auth?token="
    assert url.startswith(prefix) and len(url) > len(prefix) + 20
    with pytest.raises(ClientError) as e:
        st.sm.create_presigned_domain_url(DomainId=st.id, UserProfileName="nobody")
    assert error_code(e) == "ResourceNotFound"


def test_tags_on_domain_profile_and_app_arns(emulator):
    st = Stack(emulator)
    profile_arn = st.profile(Tags=[{"Key": "owner", "Value": "alice"}])
    st.space()
    app_arn = st.sm.create_app(Tags=[{"Key": "kind", "Value": "jupyter"}], **st.app_key())["AppArn"]
    assert st.sm.list_tags(ResourceArn=st.arn)["Tags"] == [{"Key": "project", "Value": "provision"}]
    assert st.sm.list_tags(ResourceArn=profile_arn)["Tags"] == [{"Key": "owner", "Value": "alice"}]
    assert st.sm.list_tags(ResourceArn=app_arn)["Tags"] == [{"Key": "kind", "Value": "jupyter"}]
    for arn in (st.arn, profile_arn, app_arn):
        st.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stack", "Value": "a"}])
        st.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stack", "Value": "b"}])
        tags = st.sm.list_tags(ResourceArn=arn)["Tags"]
        assert [t["Value"] for t in tags if t["Key"] == "stack"] == ["b"]
    with pytest.raises(ClientError) as e:
        st.sm.list_tags(ResourceArn=profile_arn.replace("/alice", "/nobody"))
    assert error_code(e) == "ResourceNotFound"


# --- lifecycles at a small scale ----------------------------------------------------------------

@pytest.fixture
def slow(make_emulator):
    """A private emulator with the real latency profile at SCALE."""
    return make_emulator(scale=SCALE)


def test_studio_lifecycle_and_not_in_service_refusals(slow):
    t0 = time.time()
    st = Stack(slow)
    assert st.describe()["Status"] == "Pending"
    with pytest.raises(ClientError) as e:
        st.profile()
    assert error_code(e) == "ResourceInUse"
    wait_for(lambda: st.describe()["Status"], lambda s: s == "InService")
    assert time.time() - t0 >= 120 * SCALE

    st.profile()
    assert st.sm.describe_user_profile(DomainId=st.id, UserProfileName="alice")["Status"] == "Pending"
    with pytest.raises(ClientError) as e:
        st.sm.create_app(DomainId=st.id, UserProfileName="alice", AppType="Canvas", AppName="default")
    assert error_code(e) == "ResourceInUse"
    wait_for(lambda: st.sm.describe_user_profile(DomainId=st.id, UserProfileName="alice")["Status"],
             lambda s: s == "InService")
    st.space()
    wait_for(lambda: st.sm.describe_space(DomainId=st.id, SpaceName="alice-space")["Status"],
             lambda s: s == "InService")

    t1 = time.time()
    st.sm.create_app(**st.app_key())
    assert st.sm.describe_app(**st.app_key())["Status"] == "Pending"
    wait_for(lambda: st.sm.describe_app(**st.app_key())["Status"], lambda s: s == "InService")
    assert time.time() - t1 >= 120 * SCALE
    st.sm.delete_app(**st.app_key())
    assert st.sm.describe_app(**st.app_key())["Status"] == "Deleting"
    with pytest.raises(ClientError) as e:  # Deleting is not Deleted yet
        st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")
    assert error_code(e) == "ResourceInUse"
    wait_for(lambda: st.sm.describe_app(**st.app_key())["Status"], lambda s: s == "Deleted")
    st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")  # its lifecycle: test_spaces.py
    wait_for(gone(st.sm.describe_space, "ResourceNotFound", DomainId=st.id, SpaceName="alice-space"), bool)

    st.sm.delete_user_profile(DomainId=st.id, UserProfileName="alice")
    assert st.sm.describe_user_profile(DomainId=st.id, UserProfileName="alice")["Status"] == "Deleting"
    with pytest.raises(ClientError) as e:  # the profile still exists while it is Deleting
        st.sm.delete_domain(DomainId=st.id)
    assert error_code(e) == "ResourceInUse"
    wait_for(gone(st.sm.describe_user_profile, "ResourceNotFound", DomainId=st.id, UserProfileName="alice"), bool)

    t2 = time.time()
    st.sm.delete_domain(DomainId=st.id)
    assert st.describe()["Status"] == "Deleting"
    wait_for(gone(st.sm.describe_domain, "ResourceNotFound", DomainId=st.id), bool)
    assert time.time() - t2 >= 120 * SCALE


def test_efs_mount_target_and_file_system_deletion_take_time(slow):
    st = Stack(slow)
    home = wait_for(st.describe, lambda d: d["Status"] == "InService")["HomeEfsFileSystemId"]
    mts = st.efs.describe_mount_targets(FileSystemId=home)["MountTargets"]
    t0 = time.time()
    for mt in mts:
        st.efs.delete_mount_target(MountTargetId=mt["MountTargetId"])
    now = st.efs.describe_mount_targets(FileSystemId=home)["MountTargets"]
    assert [m["LifeCycleState"] for m in now] == ["deleting", "deleting"]
    eni_ids = {e["NetworkInterfaceId"] for e in st.enis()}
    assert {m["NetworkInterfaceId"] for m in mts} <= eni_ids
    with pytest.raises(ClientError) as e:
        st.efs.delete_file_system(FileSystemId=home)
    assert error_code(e) == "FileSystemInUse"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    wait_for(lambda: st.efs.describe_mount_targets(FileSystemId=home)["MountTargets"], lambda m: m == [])
    assert time.time() - t0 >= 75 * SCALE
    assert st.enis() == []

    st.efs.delete_file_system(FileSystemId=home)
    assert st.efs.describe_file_systems(FileSystemId=home)["FileSystems"][0]["LifeCycleState"] == "deleting"
    wait_for(gone(st.efs.describe_file_systems, "FileSystemNotFound", FileSystemId=home), bool)
    with pytest.raises(ClientError) as e:
        st.efs.delete_mount_target(MountTargetId=mts[0]["MountTargetId"])
    assert error_code(e) == "MountTargetNotFound"


def test_delete_domain_with_delete_policy_unmounts_then_deletes_efs(slow):
    st = Stack(slow)
    home = wait_for(st.describe, lambda d: d["Status"] == "InService")["HomeEfsFileSystemId"]
    st.sm.delete_domain(DomainId=st.id, RetentionPolicy={"HomeEfsFileSystem": "Delete"})
    assert st.describe()["Status"] == "Deleting"
    states = [m["LifeCycleState"] for m in st.efs.describe_mount_targets(FileSystemId=home)["MountTargets"]]
    assert states == ["deleting", "deleting"] and len(st.enis()) == 2
    wait_for(gone(st.efs.describe_file_systems, "FileSystemNotFound", FileSystemId=home), bool)
    assert st.enis() == []
    wait_for(gone(st.sm.describe_domain, "ResourceNotFound", DomainId=st.id), bool)
    assert all(len(g) == 1 for g in st.nfs_groups().values())


def test_reset_clears_studio_state_and_keeps_the_extension(make_emulator):
    import urllib.request

    emu = make_emulator()
    st = Stack(emu)
    st.profile()
    urllib.request.urlopen(urllib.request.Request(f"{emu.url}/_emulator/reset", data=b"{}", method="POST"))
    assert st.sm.list_domains()["Domains"] == []
    assert st.efs.describe_file_systems()["FileSystems"] == []
    st2 = Stack(emu)  # after moto's reset, the backends are still the extended ones
    st2.profile()
    assert st2.sm.list_user_profiles(DomainIdEquals=st2.id)["UserProfiles"][0]["Status"] == "InService"
    assert len(st2.tagged_file_systems()) == 1

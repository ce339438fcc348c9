"""Today's Studio in the emulator: spaces, apps in spaces, Studio Classic refusals and planted Classic apps,
Failed apps deleted by SageMaker itself, full domain settings, presigned URLs into a space."""
import json
import os
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from helpers import DISTRIBUTION_IMAGE, err
from helpers import wait_value as wait_for

ROLE = "arn:aws:iam::123456789012:role/studio-exec"
SPACE_ROLE = "arn:aws:iam::123456789012:role/studio-space"
IDLE = {"IdleSettings": {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 60,
                         "MinIdleTimeoutInMinutes": 60, "MaxIdleTimeoutInMinutes": 120}}
DEPRECATED = "Invalid AppType [{}]. This AppType has been deprecated."
AUTO_DELETED = "previously failed and was automatically deleted"


def message(excinfo):
    return excinfo.value.response["Error"]["Message"]


def control(emu, body):
    return emu.control("POST", "force-state", body)


def gone(call, code="ResourceNotFound", **kw):
    def probe():
        try:
            call(**kw)
            return False
        except ClientError as e:
            assert e.response["Error"]["Code"] == code, e
            return True
    return probe


class Studio:
    """VPC, two subnets, user and space security groups, a domain with today's settings and profile 'alice'."""

    def __init__(self, emu, profile=True, images=True):
        self.emu = emu
        self.ec2, self.sm = emu.client("ec2"), emu.client("sagemaker")
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.0.{i}.0/24",
                                               AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"]
                        for i, az in ((1, "a"), (2, "b"))]
        self.user_sg, self.space_sg = (
            self.ec2.create_security_group(GroupName=n, Description=n, VpcId=self.vpc)["GroupId"]
            for n in ("studio-users", "studio-spaces"))
        # JupyterLab apps need a SageMaker image: the domain's defaults name SageMaker Distribution (images=True)
        image = {"DefaultResourceSpec": {"SageMakerImageArn": DISTRIBUTION_IMAGE}} if images else {}
        self.user_settings = {
            "ExecutionRole": ROLE, "SecurityGroups": [self.user_sg], "StudioWebPortal": "ENABLED",
            "DefaultLandingUri": "studio::", "JupyterLabAppSettings": {"AppLifecycleManagement": IDLE, **image}}
        self.space_settings = {"ExecutionRole": SPACE_ROLE, "SecurityGroups": [self.space_sg]}
        if images:
            self.space_settings["JupyterLabAppSettings"] = dict(image)
        arn = self.sm.create_domain(
            DomainName="dom-" + uuid.uuid4().hex[:8], AuthMode="IAM", VpcId=self.vpc, SubnetIds=self.subnets,
            AppNetworkAccessType="VpcOnly", DefaultUserSettings=self.user_settings,
            DefaultSpaceSettings=self.space_settings)["DomainArn"]
        self.arn, self.id = arn, arn.split("/")[-1]
        wait_for(lambda: self.describe()["Status"], lambda s: s == "InService")
        if profile:
            self.profile("alice")

    def describe(self):
        return self.sm.describe_domain(DomainId=self.id)

    def profile(self, name, **kw):
        self.sm.create_user_profile(DomainId=self.id, UserProfileName=name, **kw)
        wait_for(lambda: self.sm.describe_user_profile(DomainId=self.id, UserProfileName=name)["Status"],
                 lambda s: s == "InService")

    def space(self, name="alice-space", owner="alice", sharing="Private", app_type="JupyterLab", wait=True,
              settings=None, **kw):
        if owner:
            kw.update(OwnershipSettings={"OwnerUserProfileName": owner},
                      SpaceSharingSettings={"SharingType": sharing})
        settings = dict({"AppType": app_type, "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}}},
                        **(settings or {}))
        arn = self.sm.create_space(DomainId=self.id, SpaceName=name, SpaceSettings=settings, **kw)["SpaceArn"]
        if wait:
            wait_for(lambda: self.describe_space(name)["Status"], lambda s: s == "InService")
        return arn

    def describe_space(self, name="alice-space"):
        return self.sm.describe_space(DomainId=self.id, SpaceName=name)

    def app_key(self, space="alice-space", app_type="JupyterLab", name="default"):
        return dict(DomainId=self.id, SpaceName=space, AppType=app_type, AppName=name)

    def app(self, **kw):
        return self.sm.describe_app(**self.app_key(**kw))

    def enis(self):
        return self.ec2.describe_network_interfaces(
            Filters=[{"Name": "vpc-id", "Values": [self.vpc]}])["NetworkInterfaces"]

    def app_eni(self, app_arn):
        return [e for e in self.enis() if app_arn in e["Description"]]

    def outbound_nfs(self):
        return self.ec2.describe_security_groups(Filters=[
            {"Name": "group-name", "Values": [f"security-group-for-outbound-nfs-{self.id}"]}])["SecurityGroups"][0][
            "GroupId"]


@pytest.fixture
def timed(make_emulator, tmp_path):
    """A private emulator whose Studio kinds take fixed, short times (profile file at scale 1)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(here, "latency-profile.json")) as f:
        prof = json.load(f)
    for kind in list(prof["kinds"]):
        prof["kinds"][kind].update(create_s=0, delete_s=0)
    prof["kinds"].update({"sm.domain": {"create_s": 0.3, "delete_s": 0.3},
                          "sm.space": {"create_s": 1.0, "delete_s": 1.0},
                          "sm.app": {"create_s": 1.0, "delete_s": 1.5}})
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(prof))
    return make_emulator(scale=1.0, profile=str(path))


# --- domain and profile settings ------------------------------------------------------------------

def test_domain_and_profile_echo_todays_settings(emulator):
    st = Studio(emulator, profile=False)
    d = st.describe()
    assert d["DefaultUserSettings"] == st.user_settings
    assert d["DefaultSpaceSettings"] == st.space_settings
    st.sm.update_domain(DomainId=st.id, DefaultSpaceSettings={"SecurityGroups": [st.user_sg, st.space_sg]},
                        DefaultUserSettings={"DefaultLandingUri": "app:JupyterServer:"})
    d = st.describe()
    assert d["DefaultSpaceSettings"] == dict(st.space_settings, SecurityGroups=[st.user_sg, st.space_sg])
    assert d["DefaultUserSettings"] == dict(st.user_settings, DefaultLandingUri="app:JupyterServer:")
    settings = {"ExecutionRole": ROLE, "SecurityGroups": [st.user_sg], "StudioWebPortal": "ENABLED",
                "JupyterLabAppSettings": {"AppLifecycleManagement": IDLE,
                                          "DefaultResourceSpec": {"InstanceType": "ml.t3.large"}}}
    st.profile("alice", UserSettings=settings)
    assert st.sm.describe_user_profile(DomainId=st.id, UserProfileName="alice")["UserSettings"] == settings


# --- spaces ---------------------------------------------------------------------------------------

def test_space_operations(emulator):
    st = Studio(emulator)
    arn = st.space(SpaceDisplayName="Alice's space")
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:space/{st.id}/alice-space"
    s = st.describe_space()
    assert (s["DomainId"], s["SpaceArn"], s["SpaceName"], s["Status"]) == (st.id, arn, "alice-space", "InService")
    assert s["HomeEfsFileSystemUid"].isdigit() and s["CreationTime"] <= s["LastModifiedTime"]
    assert s["SpaceSettings"] == {"AppType": "JupyterLab",
                                  "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}}}
    assert s["OwnershipSettings"] == {"OwnerUserProfileName": "alice"}
    assert s["SpaceSharingSettings"] == {"SharingType": "Private"}
    assert s["SpaceDisplayName"] == "Alice's space"
    assert s["Url"].startswith("https://") and s["Url"].endswith(".studio.us-east-1.sagemaker.aws")
    assert "FailureReason" not in s

    st.profile("bob")
    st.space("bob-space", owner="bob", app_type="CodeEditor")
    st.space("team", owner="alice", sharing="Shared")
    listed = st.sm.list_spaces(DomainIdEquals=st.id)["Spaces"]
    assert [x["SpaceName"] for x in listed] == ["alice-space", "bob-space", "team"]
    assert listed[0] == {
        "DomainId": st.id, "SpaceName": "alice-space", "Status": "InService", "CreationTime": s["CreationTime"],
        "LastModifiedTime": s["LastModifiedTime"], "SpaceDisplayName": "Alice's space",
        "SpaceSettingsSummary": {"AppType": "JupyterLab",
                                 "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}}},
        "SpaceSharingSettingsSummary": {"SharingType": "Private"},
        "OwnershipSettingsSummary": {"OwnerUserProfileName": "alice"}}
    assert [x["SpaceName"] for x in st.sm.list_spaces(DomainIdEquals=st.id, SpaceNameContains="-space")[
        "Spaces"]] == ["alice-space", "bob-space"]
    newest = st.sm.list_spaces(DomainIdEquals=st.id, SortBy="CreationTime", SortOrder="Descending")["Spaces"]
    assert [x["SpaceName"] for x in newest] == ["team", "bob-space", "alice-space"]
    page = st.sm.list_spaces(DomainIdEquals=st.id, MaxResults=2)
    assert len(page["Spaces"]) == 2 and page["NextToken"]
    rest = st.sm.list_spaces(DomainIdEquals=st.id, MaxResults=2, NextToken=page["NextToken"])
    assert [x["SpaceName"] for x in rest["Spaces"]] == ["team"] and "NextToken" not in rest
    assert st.sm.list_spaces(DomainIdEquals="d-000000000000")["Spaces"] == []

    assert st.sm.update_space(DomainId=st.id, SpaceName="alice-space", SpaceDisplayName="Mine", SpaceSettings={
        "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 10}}})["SpaceArn"] == arn
    s = st.describe_space()
    assert s["SpaceDisplayName"] == "Mine"
    assert s["SpaceSettings"] == {"AppType": "JupyterLab",
                                  "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 10}}}
    with pytest.raises(ClientError) as e:  # "You can't edit the app type of a space"
        st.sm.update_space(DomainId=st.id, SpaceName="alice-space", SpaceSettings={"AppType": "CodeEditor"})
    assert err(e) == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:  # an EBS volume cannot shrink
        st.sm.update_space(DomainId=st.id, SpaceName="alice-space", SpaceSettings={
            "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}}})
    assert err(e) == ("ValidationException", 400)
    assert "cannot be decreased from 10 to 5" in e.value.response["Error"]["Message"]
    assert st.describe_space()["SpaceSettings"]["SpaceStorageSettings"]["EbsStorageSettings"] == {
        "EbsVolumeSizeInGb": 10}

    st.sm.delete_space(DomainId=st.id, SpaceName="bob-space")  # scale 0: gone at once
    with pytest.raises(ClientError) as e:
        st.describe_space("bob-space")
    assert err(e) == ("ResourceNotFound", 400)
    for call, kw in ((st.sm.delete_space, {}), (st.sm.describe_space, {}),
                     (st.sm.update_space, {"SpaceDisplayName": "x"})):
        with pytest.raises(ClientError) as e:
            call(DomainId=st.id, SpaceName="nope", **kw)
        assert err(e) == ("ResourceNotFound", 400)


def test_space_tags(emulator):
    st = Studio(emulator)
    arn = st.space(Tags=[{"Key": "owner", "Value": "alice"}])
    assert st.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "alice"}]
    st.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stack", "Value": "a"}])
    st.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stack", "Value": "b"}])
    assert st.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "alice"},
                                                        {"Key": "stack", "Value": "b"}]
    st.sm.delete_tags(ResourceArn=arn, TagKeys=["owner"])
    assert st.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stack", "Value": "b"}]
    with pytest.raises(ClientError) as e:
        st.sm.list_tags(ResourceArn=arn.replace("alice-space", "nope"))
    assert err(e) == ("ResourceNotFound", 400)


def test_create_space_refusals(emulator):
    st = Studio(emulator)
    st.space()
    with pytest.raises(ClientError) as e:  # the name is taken in this domain
        st.space(owner="alice")
    assert err(e) == ("ResourceInUse", 400)
    with pytest.raises(ClientError) as e:  # a private space needs its owner
        st.sm.create_space(DomainId=st.id, SpaceName="orphan", SpaceSharingSettings={"SharingType": "Private"})
    assert err(e) == ("ValidationException", 400) and "OwnershipSettings" in message(e)
    with pytest.raises(ClientError) as e:  # an owner needs the sharing type
        st.sm.create_space(DomainId=st.id, SpaceName="orphan", OwnershipSettings={"OwnerUserProfileName": "alice"})
    assert err(e) == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:
        st.space("orphan", owner="nobody")
    assert err(e) == ("ResourceNotFound", 400)
    with pytest.raises(ClientError) as e:
        st.sm.create_space(DomainId="d-000000000000", SpaceName="x")
    assert err(e) == ("ResourceNotFound", 400)
    with pytest.raises(ClientError) as e:  # no Studio Classic spaces either
        st.space("classic", app_type="JupyterServer")
    assert err(e) == ("ValidationException", 400)
    assert [x["SpaceName"] for x in st.sm.list_spaces(DomainIdEquals=st.id)["Spaces"]] == ["alice-space"]


# --- apps in spaces -------------------------------------------------------------------------------

def test_space_app_operations_and_eni(emulator):
    st = Studio(emulator)
    st.space()
    arn = st.sm.create_app(ResourceSpec={"InstanceType": "ml.t3.medium"}, Tags=[{"Key": "k", "Value": "v"}],
                           **st.app_key())["AppArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:app/{st.id}/alice-space/jupyterlab/default"
    a = st.app()
    assert (a["AppArn"], a["Status"], a["AppType"], a["SpaceName"], a["DomainId"]) == (
        arn, "InService", "JupyterLab", "alice-space", st.id)
    # the request's InstanceType over the owner's DefaultResourceSpec: the app runs on the default image
    assert a["ResourceSpec"] == {"SageMakerImageArn": DISTRIBUTION_IMAGE, "InstanceType": "ml.t3.medium"}
    assert "UserProfileName" not in a
    assert st.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    listed = st.sm.list_apps(DomainIdEquals=st.id, SpaceNameEquals="alice-space")["Apps"]
    assert [(x["SpaceName"], x["AppName"], x["Status"], x["ResourceSpec"]) for x in listed] == [
        ("alice-space", "default", "InService", a["ResourceSpec"])]
    assert "UserProfileName" not in listed[0]
    assert st.sm.list_apps(DomainIdEquals=st.id, UserProfileNameEquals="alice")["Apps"] == []
    # a private space's app runs with its owner's settings: the user groups plus the outbound NFS group
    enis = st.app_eni(arn)
    assert len(enis) == 1 and enis[0]["SubnetId"] == st.subnets[0]
    assert sorted(g["GroupId"] for g in enis[0]["Groups"]) == sorted([st.user_sg, st.outbound_nfs()])

    st.sm.delete_app(**st.app_key())
    assert st.app()["Status"] == "Deleted" and st.app_eni(arn) == []
    assert [x["Status"] for x in st.sm.list_apps(DomainIdEquals=st.id, SpaceNameEquals="alice-space")["Apps"]] == [
        "Deleted"]
    with pytest.raises(ClientError) as e:
        st.sm.delete_app(**st.app_key())
    assert err(e) == ("ValidationException", 400) and "has already been deleted" in message(e)
    st.sm.create_app(**st.app_key())  # a Deleted app's name can be used again
    assert st.app()["Status"] == "InService"


def test_shared_space_app_runs_with_default_space_settings(emulator):
    st = Studio(emulator)
    st.space("team", owner="alice", sharing="Shared", app_type="CodeEditor")
    arn = st.sm.create_app(**st.app_key("team", "CodeEditor"))["AppArn"]
    assert st.app(space="team", app_type="CodeEditor")["Status"] == "InService"
    groups = [g["GroupId"] for g in st.app_eni(arn)[0]["Groups"]]
    assert sorted(groups) == sorted([st.space_sg, st.outbound_nfs()])


VERSION_ARN = "arn:aws:sagemaker:us-east-1:123456789012:image-version/team-lab/3"
IMAGE = "arn:aws:sagemaker:us-east-1:123456789012:image/{}"


def lab_image(name):
    return {"JupyterLabAppSettings": {"DefaultResourceSpec": {"SageMakerImageArn": IMAGE.format(name)}}}


def test_jupyterlab_app_needs_a_sagemaker_image(emulator):
    # terraform-provider-aws#36008: CreateApp of a JupyterLab app answers that a SageMaker image ARN is needed.
    st = Studio(emulator, images=False)  # no DefaultResourceSpec anywhere
    st.space()
    st.space("team", owner="alice", sharing="Shared")
    st.space("code", app_type="CodeEditor")
    refused = [st.app_key(), dict(st.app_key(), ResourceSpec={"InstanceType": "ml.t3.medium"}),
               dict(st.app_key("team"), ResourceSpec={"InstanceType": "ml.t3.medium"})]
    for key in refused:
        with pytest.raises(ClientError) as e:
            st.sm.create_app(**key)
        assert err(e) == ("ValidationException", 400), key
        assert "SageMakerImageArn" in message(e)
    assert st.sm.list_apps(DomainIdEquals=st.id)["Apps"] == [], "nothing made"
    assert not [e for e in st.enis() if "ENI managed by SageMaker" in e["Description"]]

    st.sm.create_app(ResourceSpec={"SageMakerImageArn": DISTRIBUTION_IMAGE}, **st.app_key())
    assert st.app()["ResourceSpec"] == {"SageMakerImageArn": DISTRIBUTION_IMAGE}
    st.sm.create_app(ResourceSpec={"SageMakerImageVersionArn": VERSION_ARN, "InstanceType": "ml.t3.medium"},
                     **st.app_key("team"))  # a version names its image
    assert st.app(space="team")["ResourceSpec"] == {
        "SageMakerImageVersionArn": VERSION_ARN, "InstanceType": "ml.t3.medium", "SageMakerImageArn": IMAGE.format("team-lab")}
    st.sm.create_app(**st.app_key("code", "CodeEditor"))  # no source says CodeEditor needs one
    assert "ResourceSpec" not in st.app(space="code", app_type="CodeEditor")


def test_jupyterlab_image_comes_from_the_settings_layers(emulator):
    st = Studio(emulator, images=False)
    st.sm.update_domain(DomainId=st.id, DefaultUserSettings=lab_image("domain-user"),
                        DefaultSpaceSettings=lab_image("domain-space"))
    st.profile("bob", UserSettings=lab_image("bob"))
    st.space("alice-space")  # private: alice's settings are the domain's DefaultUserSettings
    st.space("bob-space", owner="bob")  # private: bob's UserSettings over the domain's
    st.space("team", owner="alice", sharing="Shared")  # shared: DefaultSpaceSettings only
    st.space("own", settings=lab_image("space"))  # the space's own SpaceSettings over its owner's
    for space, image in (("alice-space", "domain-user"), ("bob-space", "bob"), ("team", "domain-space"),
                         ("own", "space")):
        st.sm.create_app(**st.app_key(space))
        assert st.app(space=space)["ResourceSpec"] == {"SageMakerImageArn": IMAGE.format(image)}, space
    # field by field: the request's InstanceType and the space's image; the request's image wins
    st.space("mixed", settings={"JupyterLabAppSettings": {"DefaultResourceSpec": {
        "SageMakerImageArn": IMAGE.format("space"), "InstanceType": "ml.t3.large"}}})
    st.sm.create_app(ResourceSpec={"InstanceType": "ml.m5.large"}, **st.app_key("mixed"))
    st.sm.create_app(ResourceSpec={"SageMakerImageArn": DISTRIBUTION_IMAGE}, **st.app_key("mixed", name="second"))
    apps = {a["AppName"]: a["ResourceSpec"] for a in st.sm.list_apps(SpaceNameEquals="mixed")["Apps"]}
    assert apps == {"default": {"SageMakerImageArn": IMAGE.format("space"), "InstanceType": "ml.m5.large"},
                    "second": {"SageMakerImageArn": DISTRIBUTION_IMAGE, "InstanceType": "ml.t3.large"}}


def test_space_app_refusals(emulator):
    st = Studio(emulator)
    st.space()
    st.sm.create_app(**st.app_key())
    cases = [
        (st.app_key(app_type="CodeEditor"), "ValidationException"),  # not the space's AppType
        (st.app_key(), "ResourceInUse"),  # one app per space, type and name
        (st.app_key(space="nope"), "ResourceNotFound"),
        (dict(st.app_key(), UserProfileName="alice"), "ValidationException"),  # both owners given
        (dict(DomainId=st.id, UserProfileName="alice", AppType="JupyterLab", AppName="x"), "ValidationException"),
    ]
    for key, code in cases:
        with pytest.raises(ClientError) as e:
            st.sm.create_app(**key)
        assert err(e) == (code, 400), key
    with pytest.raises(ClientError) as e:
        st.sm.list_apps(DomainIdEquals=st.id, UserProfileNameEquals="alice", SpaceNameEquals="alice-space")
    assert err(e) == ("ValidationException", 400)
    assert len(st.sm.list_apps(DomainIdEquals=st.id)["Apps"]) == 1


def test_deletion_refusals_with_spaces(emulator):
    st = Studio(emulator)
    st.space()
    st.space("common", owner=None, app_type="JupyterLab")  # a space without owner (a legacy shared one)
    st.sm.create_app(**st.app_key())
    with pytest.raises(ClientError) as e:  # its app is InService
        st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")
    assert err(e) == ("ResourceInUse", 400)
    st.sm.delete_app(**st.app_key())
    with pytest.raises(ClientError) as e:  # alice owns a space
        st.sm.delete_user_profile(DomainId=st.id, UserProfileName="alice")
    assert err(e) == ("ResourceInUse", 400) and "Space" in message(e)
    st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")
    st.sm.delete_user_profile(DomainId=st.id, UserProfileName="alice")
    with pytest.raises(ClientError) as e:  # a space is left
        st.sm.delete_domain(DomainId=st.id)
    assert err(e) == ("ResourceInUse", 400) and "Space" in message(e)
    st.sm.delete_space(DomainId=st.id, SpaceName="common")
    st.sm.delete_domain(DomainId=st.id)
    assert wait_for(gone(st.sm.describe_domain, DomainId=st.id), bool)


# --- Studio Classic -------------------------------------------------------------------------------

def test_studio_classic_apps_cannot_be_created(emulator):
    st = Studio(emulator)
    for app_type in ("JupyterServer", "KernelGateway"):
        with pytest.raises(ClientError) as e:
            st.sm.create_app(DomainId=st.id, UserProfileName="alice", AppType=app_type, AppName="default",
                             ResourceSpec={"InstanceType": "ml.t3.medium"})
        assert err(e) == ("ValidationException", 400)
        assert message(e) == DEPRECATED.format(app_type)
    assert st.sm.list_apps(DomainIdEquals=st.id)["Apps"] == []


def test_planted_classic_app_is_describable_and_deletable(emulator):
    st = Studio(emulator)
    body = dict(kind="sagemaker_classic_app", domain_id=st.id, user_profile_name="alice",
                app_type="JupyterServer", app_name="default")
    status, out = control(emulator, body)
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:app/{st.id}/alice/jupyterserver/default"
    assert status == 200
    assert out == dict(body, state="InService", app_arn=arn, region="us-east-1")
    key = dict(DomainId=st.id, UserProfileName="alice", AppType="JupyterServer", AppName="default")
    a = st.sm.describe_app(**key)
    assert (a["AppArn"], a["Status"], a["UserProfileName"], a["ResourceSpec"]) == (
        arn, "InService", "alice", {"InstanceType": "system"})
    assert [x["AppType"] for x in st.sm.list_apps(DomainIdEquals=st.id, UserProfileNameEquals="alice")["Apps"]] == [
        "JupyterServer"]
    assert len(st.app_eni(arn)) == 1
    assert control(emulator, body)[0] == 400  # the name is taken
    with pytest.raises(ClientError) as e:  # the profile has an app
        st.sm.delete_user_profile(DomainId=st.id, UserProfileName="alice")
    assert err(e) == ("ResourceInUse", 400)
    st.sm.delete_app(**key)
    assert st.sm.describe_app(**key)["Status"] == "Deleted" and st.app_eni(arn) == []
    with pytest.raises(ClientError) as e:  # and it cannot come back through CreateApp
        st.sm.create_app(**key)
    assert err(e) == ("ValidationException", 400)
    assert control(emulator, body)[0] == 200  # planted again once Deleted
    bad = [dict(body, app_type="JupyterLab"), dict(body, state="Failed"), dict(body, user_profile_name="bob"),
           dict(body, domain_id="d-000000000000"), {k: v for k, v in body.items() if k != "app_name"},
           dict(body, app_name="other", space_name="alice-space")]
    for b in bad:
        status, out = control(emulator, b)
        assert status == 400 and set(out) == {"error"}, b


# --- Failed apps ----------------------------------------------------------------------------------

def test_failed_app_is_deleted_by_sagemaker(timed):
    st = Studio(timed)
    st.space()
    arn = st.sm.create_app(**st.app_key())["AppArn"]
    wait_for(lambda: st.app()["Status"], lambda s: s == "InService")
    body = dict(kind="sagemaker_app", domain_id=st.id, space_name="alice-space", app_type="JupyterLab",
                app_name="default", state="Failed", message="no capacity")
    status, out = control(timed, body)
    t0 = time.time()
    assert status == 200
    assert out == dict(body, app_arn=arn, region="us-east-1")
    a = st.app()
    assert (a["Status"], a["FailureReason"]) == ("Failed", "no capacity")
    assert len(st.app_eni(arn)) == 1
    seen = set()
    a = wait_for(lambda: seen.add(st.app()["Status"]) or st.app(), lambda a: a["Status"] == "Deleted")
    assert time.time() - t0 >= 1.5 - 0.1 and seen <= {"Failed", "Deleted"}  # sm.app delete_s, no Deleting
    assert a["FailureReason"] == "no capacity" and st.app_eni(arn) == []
    with pytest.raises(ClientError) as e:
        st.sm.delete_app(**st.app_key())
    assert err(e) == ("ValidationException", 400)
    assert message(e) == f"App [{arn}] {AUTO_DELETED}"
    st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")  # the failed app no longer holds the space
    wait_for(gone(st.describe_space, name="alice-space"), bool)


def test_failed_app_deleted_before_sagemaker_does_it(timed):
    st = Studio(timed)
    st.space()
    st.sm.create_app(**st.app_key())
    assert st.app()["Status"] == "Pending"
    body = dict(kind="sagemaker_app", domain_id=st.id, space_name="alice-space", app_type="JupyterLab",
                app_name="default", state="Failed")
    assert control(timed, body)[0] == 200
    with pytest.raises(ClientError) as e:  # a Failed app still holds its space
        st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")
    assert err(e) == ("ResourceInUse", 400)
    st.sm.delete_app(**st.app_key())
    a = st.app()
    assert a["Status"] == "Deleting" and "FailureReason" not in a
    assert control(timed, body)[0] == 400  # Deleting
    wait_for(lambda: st.app()["Status"], lambda s: s == "Deleted")
    with pytest.raises(ClientError) as e:
        st.sm.delete_app(**st.app_key())
    assert message(e) == f"App [{st.app()['AppArn']}] has already been deleted"


def test_failed_app_at_scale_zero_is_deleted_at_once(emulator):
    st = Studio(emulator)
    st.space()
    st.sm.create_app(**st.app_key())
    body = dict(kind="sagemaker_app", domain_id=st.id, space_name="alice-space", app_type="JupyterLab",
                app_name="default", state="Failed", message="boom")
    assert control(emulator, body)[1]["state"] == "Failed"
    a = st.app()
    assert (a["Status"], a["FailureReason"]) == ("Deleted", "boom")
    with pytest.raises(ClientError) as e:
        st.sm.delete_app(**st.app_key())
    assert AUTO_DELETED in message(e)
    for b in (dict(body, user_profile_name="alice"), dict(body, space_name="nope"),
              {k: v for k, v in body.items() if k != "space_name"}):
        assert control(emulator, b)[0] == 400, b


# --- lifecycles -----------------------------------------------------------------------------------

def test_space_lifecycle(timed):
    st = Studio(timed)
    t0 = time.time()
    st.space(wait=False)
    assert st.describe_space()["Status"] == "Pending"
    with pytest.raises(ClientError) as e:  # the space is not InService yet
        st.sm.create_app(**st.app_key())
    assert err(e) == ("ResourceInUse", 400)
    with pytest.raises(ClientError) as e:
        st.sm.create_presigned_domain_url(DomainId=st.id, UserProfileName="alice", SpaceName="alice-space")
    assert err(e) == ("ResourceInUse", 400)
    wait_for(lambda: st.describe_space()["Status"], lambda s: s == "InService")
    assert time.time() - t0 >= 1.0 - 0.05
    st.sm.create_app(**st.app_key())
    assert st.app()["Status"] == "Pending"
    wait_for(lambda: st.app()["Status"], lambda s: s == "InService")
    st.sm.delete_app(**st.app_key())
    with pytest.raises(ClientError) as e:  # Deleting is not Deleted yet
        st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")
    assert err(e) == ("ResourceInUse", 400)
    wait_for(lambda: st.app()["Status"], lambda s: s == "Deleted")
    t1 = time.time()
    st.sm.delete_space(DomainId=st.id, SpaceName="alice-space")
    assert st.describe_space()["Status"] == "Deleting"
    with pytest.raises(ClientError) as e:  # the owner of a space being deleted
        st.sm.delete_user_profile(DomainId=st.id, UserProfileName="alice")
    assert err(e) == ("ResourceInUse", 400)
    wait_for(gone(st.describe_space, name="alice-space"), bool)
    assert time.time() - t1 >= 1.0 - 0.05


def test_create_space_needs_domain_in_service(make_emulator):
    emu = make_emulator(scale=0.01)  # sm.domain 120 s -> 1.2 s
    sm, ec2 = emu.client("sagemaker"), emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    domain = sm.create_domain(DomainName="slow", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": ROLE},
                              SubnetIds=[subnet], VpcId=vpc)["DomainArn"].split("/")[-1]
    with pytest.raises(ClientError) as e:
        sm.create_space(DomainId=domain, SpaceName="s")
    assert err(e) == ("ResourceInUse", 400)
    wait_for(lambda: sm.describe_domain(DomainId=domain)["Status"], lambda s: s == "InService")
    sm.create_space(DomainId=domain, SpaceName="s")
    assert sm.describe_space(DomainId=domain, SpaceName="s")["Status"] == "Pending"


# --- presigned URLs -------------------------------------------------------------------------------

def test_presigned_url_into_a_space(emulator):
    st = Studio(emulator)
    st.profile("bob")
    st.space()
    st.space("team", owner="bob", sharing="Shared")
    prefix = f"https://{st.id}.studio.us-east-1.sagemaker.aws/auth?token="
    for kw in ({"SpaceName": "alice-space"}, {"SpaceName": "alice-space", "LandingUri": "app:JupyterLab:"},
               {"LandingUri": "studio::"}, {"SpaceName": "team"}):
        assert st.sm.create_presigned_domain_url(DomainId=st.id, UserProfileName="alice", **kw)[
            "AuthorizedUrl"].startswith(prefix), kw
    cases = [({"UserProfileName": "alice", "SpaceName": "nope"}, "ResourceNotFound"),
             ({"UserProfileName": "bob", "SpaceName": "alice-space"}, "ValidationException"),  # alice's, private
             ({"UserProfileName": "alice", "LandingUri": "jupyter"}, "ValidationException")]
    for kw, code in cases:
        with pytest.raises(ClientError) as e:
            st.sm.create_presigned_domain_url(DomainId=st.id, **kw)
        assert err(e) == (code, 400), kw

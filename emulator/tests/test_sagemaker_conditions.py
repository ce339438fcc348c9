"""SageMaker's request-derived condition keys (sagemaker_conditions.py) and Studio sessions: the IAM
engine evaluates the execution role's guardrails on SageMaker requests."""
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from provision_emulator import sagemaker_conditions as sc

from helpers import err, wait_for

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"


# --- the keys, from request bodies ---------------------------------------------------------------

def test_training_job_keys_come_from_its_fields():
    body = {"VpcConfig": {"Subnets": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]},
            "ResourceConfig": {"VolumeKmsKeyId": KEY, "InstanceType": "ml.m5.large"},
            "OutputDataConfig": {"KmsKeyId": KEY, "S3OutputPath": "s3://b/o"}, "EnableNetworkIsolation": True}
    ctx = sc.context("CreateTrainingJob", body)
    assert ctx["sagemaker:VpcSubnets"] == ["subnet-a", "subnet-b"]
    assert ctx["sagemaker:VpcSecurityGroupIds"] == ["sg-1"]
    assert ctx["sagemaker:VolumeKmsKey"] == KEY and ctx["sagemaker:OutputKmsKey"] == KEY
    assert ctx["sagemaker:NetworkIsolation"] == "true"
    assert ctx["sagemaker:InstanceTypes"] == ["ml.m5.large"]
    # Left out: the keys are known and absent (None), never missing (which the engine refuses).
    bare = sc.context("CreateTrainingJob", {})
    assert bare["sagemaker:VpcSubnets"] is None and bare["sagemaker:VolumeKmsKey"] is None
    assert bare["sagemaker:NetworkIsolation"] is None
    assert bare["sagemaker:DomainId"] is None and bare["sagemaker:UserProfileName"] is None


def test_processing_tuning_model_endpoint_config_and_notebook_keys():
    p = sc.context("CreateProcessingJob", {
        "NetworkConfig": {"VpcConfig": {"Subnets": ["subnet-a"], "SecurityGroupIds": ["sg-1"]},
                          "EnableNetworkIsolation": False},
        "ProcessingResources": {"ClusterConfig": {"VolumeKmsKeyId": KEY, "InstanceType": "ml.m5.large"}},
        "ProcessingOutputConfig": {"KmsKeyId": KEY}})
    assert (p["sagemaker:VpcSubnets"], p["sagemaker:VolumeKmsKey"], p["sagemaker:OutputKmsKey"]) == \
        (["subnet-a"], KEY, KEY)
    assert p["sagemaker:NetworkIsolation"] == "false"
    t = sc.context("CreateHyperParameterTuningJob", {"TrainingJobDefinition": {
        "VpcConfig": {"Subnets": ["subnet-t"], "SecurityGroupIds": ["sg-t"]}}})
    assert t["sagemaker:VpcSubnets"] == ["subnet-t"] and t["sagemaker:VolumeKmsKey"] is None
    m = sc.context("CreateModel", {"VpcConfig": {"Subnets": ["subnet-m"], "SecurityGroupIds": ["sg-m"]}})
    assert m["sagemaker:VpcSecurityGroupIds"] == ["sg-m"] and "sagemaker:VolumeKmsKey" not in m
    e = sc.context("CreateEndpointConfig", {"KmsKeyId": KEY, "ProductionVariants": [{"InstanceType": "ml.t2.medium"}]})
    assert e["sagemaker:VolumeKmsKey"] == KEY and e["sagemaker:InstanceTypes"] == ["ml.t2.medium"]
    n = sc.context("CreateNotebookInstance", {"SubnetId": "subnet-n", "SecurityGroupIds": ["sg-n"],
                                              "DirectInternetAccess": "Enabled"})
    assert n["sagemaker:VpcSubnets"] == ["subnet-n"]
    assert n["sagemaker:DirectInternetAccess"] == "Enabled" and n["sagemaker:RootAccess"] is None


def test_space_keys_from_the_request_or_the_space():
    c = sc.context("CreateSpace", {"DomainId": "d-1", "OwnershipSettings": {"OwnerUserProfileName": "alice"},
                                   "SpaceSharingSettings": {"SharingType": "Private"}})
    assert c["sagemaker:OwnerUserProfileArn"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/d-1/alice"
    assert c["sagemaker:SpaceSharingType"] == "Private"
    lookup = {("d-1", "bob-space"): ("bob", "Private")}.get
    a = sc.context("CreateApp", {"DomainId": "d-1", "SpaceName": "bob-space"}, lookup=lambda d, s: lookup((d, s)))
    assert a["sagemaker:OwnerUserProfileArn"].endswith("user-profile/d-1/bob")
    gone = sc.context("DeleteApp", {"DomainId": "d-1", "SpaceName": "x"}, lookup=lambda d, s: None)
    assert gone["sagemaker:OwnerUserProfileArn"] is None and gone["sagemaker:SpaceSharingType"] is None


# --- against the enforcing emulator ---------------------------------------------------------------

def trust(condition=None):
    st = {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    if condition:
        st["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


@pytest.fixture
def studio(emulator):
    """A domain whose users run as a role with the guardrail shapes the tool writes; alice and bob."""
    iam, ec2, sm = emulator.client("iam"), emulator.client("ec2"), emulator.client("sagemaker")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(VpcId=vpc, GroupName=uuid.uuid4().hex[:8], Description="d")["GroupId"]
    name = "r-" + uuid.uuid4().hex[:8]
    cond = {"StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:*"}}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(cond))["Role"]["Arn"]
    own = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/${{sagemaker:DomainId}}/${{sagemaker:UserProfileName}}"
    jobs = ["sagemaker:CreateTrainingJob", "sagemaker:CreateModel"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": jobs + ["sagemaker:CreateEndpointConfig"], "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role},
        {"Effect": "Allow", "Action": ["sagemaker:CreateSpace", "sagemaker:DeleteSpace"],
         "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:space/${{sagemaker:DomainId}}/*",
         "Condition": {"ArnLike": {"sagemaker:OwnerUserProfileArn": own},
                       "StringEquals": {"sagemaker:SpaceSharingType": "Private"}}},
        {"Sid": "DenyWithoutVpc", "Effect": "Deny", "Action": jobs, "Resource": "*",
         "Condition": {"Null": {"sagemaker:VpcSubnets": "true"}}},
        {"Sid": "DenyOtherSubnets", "Effect": "Deny", "Action": jobs, "Resource": "*",
         "Condition": {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": [subnet]}}},
        {"Sid": "DenyOtherVolumeKey", "Effect": "Deny",
         "Action": ["sagemaker:CreateTrainingJob", "sagemaker:CreateEndpointConfig"], "Resource": "*",
         "Condition": {"ArnNotEquals": {"sagemaker:VolumeKmsKey": KEY}}},
    ]}
    iam.put_role_policy(RoleName=name, PolicyName="guardrails", PolicyDocument=json.dumps(policy))
    domain = sm.create_domain(DomainName="d" + uuid.uuid4().hex[:6], AuthMode="IAM", VpcId=vpc, SubnetIds=[subnet],
                              AppNetworkAccessType="VpcOnly",
                              DefaultUserSettings={"ExecutionRole": role})["DomainArn"].split("/")[-1]
    wait_for(lambda: sm.describe_domain(DomainId=domain)["Status"] == "InService")
    for user in ("alice", "bob"):
        sm.create_user_profile(DomainId=domain, UserProfileName=user)
        wait_for(lambda user=user: sm.describe_user_profile(DomainId=domain, UserProfileName=user)["Status"]
                 == "InService")
    return dict(domain=domain, role=role, role_name=name, subnet=subnet, other=other, sg=sg)


def session(emulator, studio, user, **extra):
    status, body = emulator.control("POST", "force-state", dict(
        {"kind": "studio_session", "domain_id": studio["domain"], "user_profile_name": user}, **extra))
    assert status == 200, body
    return emulator.client("sagemaker", aws_access_key_id=body["access_key_id"],
                           aws_secret_access_key=body["secret_access_key"],
                           aws_session_token=body["session_token"])


def denial(emulator, fn):
    with pytest.raises(ClientError) as e:
        fn()
    assert err(e)[0] == "AccessDeniedException", e.value.response
    return emulator.get("denials")["denials"][-1]


def training(studio, name, **over):
    args = dict(TrainingJobName=name, RoleArn=studio["role"],
                AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
                OutputDataConfig={"S3OutputPath": "s3://b/out", "KmsKeyId": KEY},
                ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5,
                                "VolumeKmsKeyId": KEY},
                StoppingCondition={"MaxRuntimeInSeconds": 60},
                VpcConfig={"Subnets": [studio["subnet"]], "SecurityGroupIds": [studio["sg"]]})
    args.update(over)
    return {k: v for k, v in args.items() if v is not None}


def test_a_studio_session_is_held_to_the_guardrails_each_refusal_naming_its_statement(emulator, studio):
    sm = session(emulator, studio, "alice")
    sm.create_training_job(**training(studio, "ok-" + uuid.uuid4().hex[:6]))
    d = denial(emulator, lambda: sm.create_training_job(**training(studio, "novpc", VpcConfig=None)))
    assert (d["action"], d["why"], d["detail"]) == ("sagemaker:CreateTrainingJob", "explicit", "DenyWithoutVpc")
    other = {"Subnets": [studio["other"]], "SecurityGroupIds": [studio["sg"]]}
    d = denial(emulator, lambda: sm.create_training_job(**training(studio, "other", VpcConfig=other)))
    assert d["detail"] == "DenyOtherSubnets"
    rc = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5}
    d = denial(emulator, lambda: sm.create_training_job(**training(studio, "nokey", ResourceConfig=rc)))
    assert d["detail"] == "DenyOtherVolumeKey"
    # The refused jobs were never made.
    names = [j["TrainingJobName"] for j in emulator.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]]
    assert not {"novpc", "other", "nokey"} & set(names)


def test_a_user_may_create_their_own_private_space_only(emulator, studio):
    sm = session(emulator, studio, "alice")
    mine = {"OwnershipSettings": {"OwnerUserProfileName": "alice"}, "SpaceSharingSettings": {"SharingType": "Private"}}
    sm.create_space(DomainId=studio["domain"], SpaceName="alice-s", **mine)
    theirs = {"OwnershipSettings": {"OwnerUserProfileName": "bob"}, "SpaceSharingSettings": {"SharingType": "Private"}}
    d = denial(emulator, lambda: sm.create_space(DomainId=studio["domain"], SpaceName="bob-s", **theirs))
    assert (d["action"], d["why"]) == ("sagemaker:CreateSpace", "implicit")
    # bob's own session may; alice's may not delete it (the space's owner, looked up).
    session(emulator, studio, "bob").create_space(DomainId=studio["domain"], SpaceName="bob-s", **theirs)
    d = denial(emulator, lambda: sm.delete_space(DomainId=studio["domain"], SpaceName="bob-s"))
    assert d["action"] == "sagemaker:DeleteSpace"
    sm.delete_space(DomainId=studio["domain"], SpaceName="alice-s")


def test_sagemaker_assumes_the_role_only_for_this_accounts_resources(emulator, studio):
    # Another account's resource as the source (the confused deputy): the trust policy refuses.
    status, body = emulator.control("POST", "force-state", {
        "kind": "studio_session", "domain_id": studio["domain"], "user_profile_name": "alice",
        "source_account": "999988887777",
        "source_arn": "arn:aws:sagemaker:us-east-1:999988887777:user-profile/d-x/eve"})
    assert status == 400 and "AccessDenied" in body["error"], body
    # Without the conditions in its trust, the same request is served.
    emulator.client("iam").update_assume_role_policy(RoleName=studio["role_name"], PolicyDocument=trust())
    status, body = emulator.control("POST", "force-state", {
        "kind": "studio_session", "domain_id": studio["domain"], "user_profile_name": "alice",
        "source_account": "999988887777"})
    assert status == 200, body


def test_an_objects_tags_are_its_existing_object_tag_keys(emulator):
    s3 = emulator.client("s3")
    bucket = "js-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"m", Tagging="SageMaker=true")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    iam = emulator.client("iam")
    name = "u-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="js", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/SageMaker": "true"}}}]}))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    user = emulator.client("s3", aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
    assert user.get_object(Bucket=bucket, Key="tagged")["Body"].read() == b"m"
    with pytest.raises(ClientError) as e:
        user.get_object(Bucket=bucket, Key="plain")
    assert err(e)[0] == "AccessDenied"
    assert emulator.get("denials")["denials"][-1]["why"] == "implicit"

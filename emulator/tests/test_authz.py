"""IAM enforcement (authz.py): IAM users' and assumed roles' keys are held to their policies; the
root/test keys are not."""
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from provision_emulator import authz

from helpers import JUPYTERLAB_IMAGE, err

ACCOUNT = "123456789012"


def user_with(emulator, statements, managed=True):
    """A new IAM user holding ``statements`` (a managed policy attached, or inline); its access key."""
    iam = emulator.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
    if managed:
        arn = iam.create_policy(PolicyName=f"p-{name}", PolicyDocument=doc)["Policy"]["Arn"]
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    else:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=doc)
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return name, dict(aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])


def allow(actions, resource="*", **extra):
    return dict({"Effect": "Allow", "Action": actions, "Resource": resource}, **extra)


def denied(fn):
    with pytest.raises(ClientError) as e:
        fn()
    return err(e)[0], e.value.response["Error"]["Message"]


def test_root_keys_are_all_powerful(emulator):
    emulator.client("kms").create_key()  # the test/test keys: no user, no policy, allowed


def test_an_allowed_call_is_served_and_an_unlisted_one_is_refused_in_the_services_shape(emulator):
    name, keys = user_with(emulator, [allow(["ec2:CreateVpc", "ec2:DescribeVpcs"])])
    ec2 = emulator.client("ec2", **keys)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    assert any(v["VpcId"] == vpc for v in ec2.describe_vpcs()["Vpcs"])
    code, msg = denied(lambda: ec2.delete_vpc(VpcId=vpc))
    assert code == "UnauthorizedOperation"
    assert msg == (f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: ec2:DeleteVpc on "
                   f"resource: arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/{vpc} because no identity-based policy allows "
                   "the ec2:DeleteVpc action")
    # The VPC is still there (the refused call never reached moto).
    assert any(v["VpcId"] == vpc for v in emulator.client("ec2").describe_vpcs()["Vpcs"])
    # JSON services answer AccessDeniedException; S3 and IAM AccessDenied.
    code, msg = denied(lambda: emulator.client("kms", **keys).create_key())
    assert code == "AccessDeniedException"
    assert "not authorized to perform: kms:CreateKey on resource: * because no identity-based policy" in msg
    assert denied(lambda: emulator.client("s3", **keys).create_bucket(Bucket=f"b-{name}"))[0] == "AccessDenied"
    assert denied(lambda: emulator.client("iam", **keys).get_role(RoleName="x"))[0] == "AccessDenied"
    d = emulator.get("denials")["denials"][-1]
    assert (d["action"], d["resource"], d["why"]) == ("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/x", "implicit")


def test_an_explicit_deny_wins_over_an_allow(emulator):
    _, keys = user_with(emulator, [allow("ec2:*"), {"Sid": "NoDelete", "Effect": "Deny", "Action": "ec2:DeleteVpc",
                                                    "Resource": "*"}], managed=False)
    ec2 = emulator.client("ec2", **keys)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    code, msg = denied(lambda: ec2.delete_vpc(VpcId=vpc))
    assert msg.endswith("with an explicit deny in an identity-based policy"), msg


def test_resources_are_scoped_by_the_arn_the_sar_gives(emulator):
    root = emulator.client("s3")
    mine, other = f"mine-{uuid.uuid4().hex[:6]}", f"other-{uuid.uuid4().hex[:6]}"
    for b in (mine, other):
        root.create_bucket(Bucket=b)
        root.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    _, keys = user_with(emulator, [allow("s3:GetBucketTagging", f"arn:aws:s3:::{mine}")])
    s3 = emulator.client("s3", **keys)
    assert s3.get_bucket_tagging(Bucket=mine)["TagSet"] == [{"Key": "k", "Value": "v"}]
    code, msg = denied(lambda: s3.get_bucket_tagging(Bucket=other))
    assert code == "AccessDenied" and f"s3:GetBucketTagging on resource: arn:aws:s3:::{other} " in msg
    # Server access logging's actions (S3 API reference, GetBucketLogging "Permissions"), scoped the same way.
    _, keys = user_with(emulator, [allow("s3:GetBucketLogging", f"arn:aws:s3:::{mine}")])
    s3 = emulator.client("s3", **keys)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=mine)
    code, msg = denied(lambda: s3.get_bucket_logging(Bucket=other))
    assert code == "AccessDenied" and f"s3:GetBucketLogging on resource: arn:aws:s3:::{other} " in msg
    code, msg = denied(lambda: s3.put_bucket_logging(Bucket=mine, BucketLoggingStatus={}))
    assert code == "AccessDenied" and f"s3:PutBucketLogging on resource: arn:aws:s3:::{mine} " in msg
    # An action the SAR gives no resource type (sagemaker:ListUserProfiles) is granted by "*" only.
    _, keys = user_with(emulator, [allow("sagemaker:ListUserProfiles", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:domain/*")])
    code, msg = denied(lambda: emulator.client("sagemaker", **keys).list_user_profiles())
    assert "sagemaker:ListUserProfiles on resource: * because" in msg
    _, keys = user_with(emulator, [allow("sagemaker:ListUserProfiles")])
    emulator.client("sagemaker", **keys).list_user_profiles()


def test_a_condition_is_evaluated(emulator):
    _, keys = user_with(emulator, [allow("ec2:DescribeVpcs", Condition={
        "StringEquals": {"aws:RequestedRegion": "us-east-1"}})])
    emulator.client("ec2", **keys).describe_vpcs()
    code, msg = denied(lambda: emulator.client("ec2", region="eu-west-1", **keys).describe_vpcs())
    assert "no identity-based policy allows the ec2:DescribeVpcs action" in msg


def test_a_condition_it_cannot_evaluate_fails_closed_naming_it(emulator):
    _, keys = user_with(emulator, [allow("ec2:DescribeVpcs", Condition={"StringEquals": {"ec2:Foo": "x"}})])
    code, msg = denied(lambda: emulator.client("ec2", **keys).describe_vpcs())
    assert "because the emulator cannot evaluate condition key ec2:Foo" in msg, msg
    _, keys = user_with(emulator, [allow("ec2:DescribeVpcs", Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})])
    code, msg = denied(lambda: emulator.client("ec2", **keys).describe_vpcs())
    assert "cannot evaluate condition operator DateGreaterThan" in msg, msg
    # An S3 operation whose IAM action is not known here: refused, named, even under s3:*.
    _, keys = user_with(emulator, [allow("s3:*")])
    code, msg = denied(lambda: emulator.client("s3", **keys).get_bucket_lifecycle_configuration(Bucket="x"))
    assert code == "AccessDenied" and "cannot evaluate the IAM action of s3:GetBucketLifecycleConfiguration" in msg


def test_a_dependent_action_is_needed_when_the_request_uses_it(emulator):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]})
    name, keys = user_with(emulator, [allow("kms:CreateKey")])
    kms = emulator.client("kms", **keys)
    kms.create_key()  # without a Policy, kms:CreateKey alone
    code, msg = denied(lambda: kms.create_key(Policy=policy))
    assert msg == (f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: kms:PutKeyPolicy on "
                   "resource: * because no identity-based policy allows the kms:PutKeyPolicy action")
    code, msg = denied(lambda: kms.create_key(Tags=[{"TagKey": "a", "TagValue": "b"}]))
    assert "kms:TagResource" in msg
    _, keys = user_with(emulator, [allow(["kms:CreateKey", "kms:PutKeyPolicy"])])
    emulator.client("kms", **keys).create_key(Policy=policy)


def test_pass_role_is_checked_with_the_service_it_is_passed_to(emulator):
    root = emulator.client("iam")
    role = root.create_role(RoleName=f"r-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    vpc = emulator.client("ec2").create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    flow = dict(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL", LogGroupName="g",
                DeliverLogsPermissionArn=role)
    only_sagemaker = allow("iam:PassRole", role, Condition={"StringEquals": {"iam:PassedToService":
                                                                              "sagemaker.amazonaws.com"}})
    _, keys = user_with(emulator, [allow("ec2:CreateFlowLogs"), only_sagemaker])
    code, msg = denied(lambda: emulator.client("ec2", **keys).create_flow_logs(**flow))
    assert f"iam:PassRole on resource: {role} because" in msg, msg
    to_flow_logs = allow("iam:PassRole", role, Condition={"StringEquals": {"iam:PassedToService":
                                                                            "vpc-flow-logs.amazonaws.com"}})
    _, keys = user_with(emulator, [allow("ec2:CreateFlowLogs"), to_flow_logs])
    emulator.client("ec2", **keys).create_flow_logs(**flow)


def test_create_domain_with_a_customer_key_needs_the_documented_extras(emulator):
    root_ec2 = emulator.client("ec2")
    vpc = root_ec2.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    subnet = root_ec2.create_subnet(VpcId=vpc, CidrBlock="10.6.0.0/24")["Subnet"]["SubnetId"]
    role = emulator.client("iam").create_role(RoleName=f"r-{uuid.uuid4().hex[:6]}",
                                              AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    key = emulator.client("kms").create_key()["KeyMetadata"]["Arn"]
    base = [allow(["sagemaker:CreateDomain", "iam:PassRole", "iam:CreateServiceLinkedRole"])]
    extras = ["elasticfilesystem:CreateFileSystem", "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey",
              "kms:GenerateDataKeyWithoutPlaintext"]
    args = dict(DomainName=f"d{uuid.uuid4().hex[:6]}", AuthMode="IAM", VpcId=vpc, SubnetIds=[subnet],
                AppNetworkAccessType="VpcOnly", KmsKeyId=key,
                DefaultUserSettings=dict(ExecutionRole=role, **JUPYTERLAB_IMAGE))
    for i, missing in enumerate(extras):
        _, keys = user_with(emulator, base + ([allow(extras[:i])] if i else []))
        code, msg = denied(lambda: emulator.client("sagemaker", **keys).create_domain(**args))
        assert code == "AccessDeniedException"
        want = f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:file-system/*" if i == 0 else key
        assert f"not authorized to perform: {missing} on resource: {want} because" in msg, msg
    _, keys = user_with(emulator, base + [allow(extras)])
    emulator.client("sagemaker", **keys).create_domain(**args)
    # Without a customer key, none of them.
    _, keys = user_with(emulator, base)
    no_key = {k: v for k, v in args.items() if k != "KmsKeyId"}
    emulator.client("sagemaker", **keys).create_domain(**dict(no_key, DomainName=f"d{uuid.uuid4().hex[:6]}"))


def test_an_interface_endpoint_with_private_dns_needs_route53(emulator):
    vpc = emulator.client("ec2").create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    _, keys = user_with(emulator, [allow(["ec2:CreateVpcEndpoint", "ec2:DescribeVpcs", "ec2:DescribeSubnets",
                                          "ec2:DescribeSecurityGroups"])])
    ec2 = emulator.client("ec2", **keys)
    code, msg = denied(lambda: ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.kms",
                                                       VpcEndpointType="Interface", PrivateDnsEnabled=True))
    assert "route53:AssociateVPCWithHostedZone on resource: arn:aws:route53:::hostedzone/* because" in msg, msg
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway")


def test_an_assumed_roles_session_is_held_to_the_roles_policies(emulator):
    iam = emulator.client("iam")
    name = f"r-{uuid.uuid4().hex[:6]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                     "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [allow("ec2:DescribeVpcs")]}))
    c = emulator.client("sts").assume_role(RoleArn=arn, RoleSessionName="s1")["Credentials"]
    keys = dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                aws_session_token=c["SessionToken"])
    emulator.client("ec2", **keys).describe_vpcs()
    code, msg = denied(lambda: emulator.client("ec2", **keys).describe_subnets())
    assert msg.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s1 is not authorized to perform: "
                          "ec2:DescribeSubnets on resource: * because"), msg


def test_the_engine_on_its_own():
    ctx = {"aws:TagKeys": ["a", "b"], "iam:PassedToService": "sagemaker.amazonaws.com", "x:Absent": None}
    pol = {"Statement": [allow("s3:Get*", "arn:aws:s3:::b/*", Condition={"ForAllValues:StringEquals": {
        "aws:TagKeys": ["a", "b", "c"]}})]}
    assert authz.evaluate([pol], "s3:GetObject", "arn:aws:s3:::b/k", ctx).allowed
    assert authz.evaluate([pol], "S3:getobject", "arn:aws:s3:::b/k", ctx).allowed  # actions: any case
    assert authz.evaluate([pol], "s3:GetObject", "arn:aws:s3:::c/k", ctx).why == "implicit"
    narrow = {"Statement": [allow("s3:GetObject", "*", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": "a"}})]}
    assert not authz.evaluate([narrow], "s3:GetObject", "x", ctx).allowed
    exists = {"Statement": [allow("*", "*", Condition={"StringEqualsIfExists": {"x:Absent": "v"},
                                                      "Null": {"x:Absent": "true"}})]}
    assert authz.evaluate([exists], "a:B", "x", ctx).allowed
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert authz.evaluate([not_action], "ec2:X", "*", ctx).allowed
    assert not authz.evaluate([not_action], "iam:X", "*", ctx).allowed
    arn_like = {"Statement": [allow("*", "*", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/op-*"}})]}
    assert authz.evaluate([arn_like], "a:B", "x", {"aws:PrincipalArn": "arn:aws:iam::1:user/op-1"}).allowed
    assert not authz.evaluate([arn_like], "a:B", "x", {"aws:PrincipalArn": "arn:aws:iam::1:role/op-1"}).allowed

"""IAM: DeletePolicy of an attached policy, or of one with versions besides the default, is refused;
attaching a policy twice is one attachment."""
import json

import pytest
from botocore.exceptions import ClientError

DOC = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "sagemaker.amazonaws.com"}}]})


def refused(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    assert e.value.response["Error"]["Code"] == "DeleteConflict"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_delete_policy_while_attached_or_with_versions_is_a_conflict(emulator):
    iam = emulator.client("iam")
    arn = iam.create_policy(PolicyName="delete-conflict", PolicyDocument=DOC)["Policy"]["Arn"]
    iam.create_role(RoleName="delete-conflict", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="delete-conflict", PolicyArn=arn)
    refused(iam.delete_policy, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1  # still there

    iam.detach_role_policy(RoleName="delete-conflict", PolicyArn=arn)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=DOC, SetAsDefault=True)  # v2 default, v1 left
    refused(iam.delete_policy, PolicyArn=arn)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    iam.delete_policy(PolicyArn=arn)  # the default version goes with the policy
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    iam.delete_role(RoleName="delete-conflict")


def test_attaching_a_policy_twice_is_one_attachment(emulator):
    iam = emulator.client("iam")
    arn = iam.create_policy(PolicyName="attached-twice", PolicyDocument=DOC)["Policy"]["Arn"]
    iam.create_role(RoleName="attached-twice", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="attached-twice", PolicyArn=arn)
    iam.attach_role_policy(RoleName="attached-twice", PolicyArn=arn)  # a retried or resumed attach
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="attached-twice")["AttachedPolicies"]] == [arn]
    iam.detach_role_policy(RoleName="attached-twice", PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)  # no attachment left
    iam.delete_role(RoleName="attached-twice")

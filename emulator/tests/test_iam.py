"""IAM: DeletePolicy of an attached policy, or of one with versions besides the default, is refused."""
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

"""S3: AWS's 2023 defaults for new buckets; a deny-unless-VPC-endpoint bucket policy enforced."""
import json
import uuid

import pytest
from botocore.exceptions import ClientError

ALL_BLOCKED = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
SSE_S3 = [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]


def bucket_name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def code(exc_info):
    return exc_info.value.response["Error"]["Code"], exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def vpce_only_policy(bucket, actions=("s3:GetObject", "s3:PutObject", "s3:ListBucket"),
                     condition=None, principal="*"):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyOutsideVpce", "Effect": "Deny", "Principal": principal, "Action": list(actions),
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": condition or {"StringNotEquals": {"aws:sourceVpce": "vpce-0123456789abcdef0"}}}]})


def test_new_bucket_has_sse_s3_and_public_access_blocked_until_changed(emulator):
    s3 = emulator.client("s3")
    b = bucket_name("defaults")
    s3.create_bucket(Bucket=b)
    assert s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"] == SSE_S3
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == ALL_BLOCKED
    assert s3.put_object(Bucket=b, Key="k", Body=b"x")["ServerSideEncryption"] == "AES256"

    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/x"}}]})
    assert s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    s3.delete_bucket_encryption(Bucket=b)  # back to SSE-S3, never none
    assert s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"] == SSE_S3

    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=dict(ALL_BLOCKED, BlockPublicPolicy=False))
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is False
    s3.delete_public_access_block(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=b)
    assert code(e) == ("NoSuchPublicAccessBlockConfiguration", 404)


def test_deny_unless_vpc_endpoint_policy_is_enforced_for_object_and_list_calls(emulator):
    s3 = emulator.client("s3")
    b = bucket_name("vpce-only")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="notebooks/a.ipynb", Body=b"{}")  # before the policy
    s3.put_bucket_policy(Bucket=b, Policy=vpce_only_policy(b))

    def denied(call, **kw):
        with pytest.raises(ClientError) as e:
            call(Bucket=b, **kw)
        assert code(e) == ("AccessDenied", 403), e.value.response
        assert e.value.response["Error"]["Message"] == "Access Denied"

    denied(s3.get_object, Key="notebooks/a.ipynb")
    denied(s3.put_object, Key="outside.txt", Body=b"x")
    denied(s3.list_objects_v2)
    denied(s3.list_objects)
    denied(s3.create_multipart_upload, Key="big.bin")
    denied(s3.copy_object, Key="copy.ipynb", CopySource={"Bucket": b, "Key": "notebooks/a.ipynb"})
    for call, kw in ((s3.head_object, {"Key": "notebooks/a.ipynb"}), (s3.head_bucket, {})):
        with pytest.raises(ClientError) as e:  # HEAD: a bare 403, as S3 answers
            call(Bucket=b, **kw)
        assert code(e) == ("403", 403)

    # Not named by the policy, or bucket configuration: allowed.
    versions = s3.list_object_versions(Bucket=b)
    assert [v["Key"] for v in versions["Versions"]] == ["notebooks/a.ipynb"]
    assert json.loads(s3.get_bucket_policy(Bucket=b)["Policy"])["Statement"][0]["Sid"] == "DenyOutsideVpce"
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "provision:stack", "Value": "x"}]})
    assert s3.get_bucket_tagging(Bucket=b)["TagSet"]
    s3.put_bucket_policy(Bucket=b, Policy=vpce_only_policy(b))  # policy changes stay allowed

    s3.delete_bucket_policy(Bucket=b)
    assert s3.get_object(Bucket=b, Key="notebooks/a.ipynb")["Body"].read() == b"{}"
    s3.put_object(Bucket=b, Key="outside.txt", Body=b"x")
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 2


@pytest.mark.parametrize("condition,principal", [
    ({"StringNotEquals": {"aws:SourceVpce": ["vpce-1", "vpce-2"]}}, "*"),
    ({"StringNotEqualsIfExists": {"aws:sourcevpce": "vpce-1"}}, {"AWS": "*"}),
    ({"StringNotLike": {"aws:SourceVpc": "vpc-*"}}, {"AWS": ["*"]}),
])
def test_condition_spellings_of_the_endpoint_only_policy(emulator, condition, principal):
    s3 = emulator.client("s3")
    b = bucket_name("spelling")
    s3.create_bucket(Bucket=b)
    s3.put_bucket_policy(Bucket=b, Policy=vpce_only_policy(b, actions=["s3:Get*", "s3:PUTOBJECT", "s3:ListBucket"],
                                                           condition=condition, principal=principal))
    for call, kw in ((s3.put_object, {"Key": "k", "Body": b"x"}), (s3.list_objects_v2, {})):
        with pytest.raises(ClientError) as e:
            call(Bucket=b, **kw)
        assert code(e) == ("AccessDenied", 403)


def test_policies_outside_the_modelled_shape_do_not_deny_here(emulator):
    s3 = emulator.client("s3")
    b = bucket_name("other")
    s3.create_bucket(Bucket=b)
    account = emulator.client("sts").get_caller_identity()["Account"]
    allow = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "s3:*",
             "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}
    deny_one_role = {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{account}:role/other"},
                     "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{b}",
                     "Condition": {"StringNotEquals": {"aws:sourceVpce": "vpce-1"}}}
    other_bucket = {"Effect": "Deny", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::elsewhere",
                    "Condition": {"StringNotEquals": {"aws:sourceVpce": "vpce-1"}}}
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17",
                                                      "Statement": [allow, deny_one_role, other_bucket]}))
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0

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


def test_virtual_hosted_and_presigned_requests_are_gated_too(emulator):
    import urllib.error
    import urllib.request

    s3 = emulator.client("s3")
    b = bucket_name("vhost")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=b, Policy=vpce_only_policy(b))
    auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
    req = urllib.request.Request(f"{emulator.url}/k", headers={"Host": f"{b}.s3.amazonaws.com", "Authorization": auth})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403 and b"<Code>AccessDenied</Code>" in e.value.read()
    from botocore.config import Config
    import boto3
    v4 = boto3.client("s3", endpoint_url=emulator.url, region_name="us-east-1",
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    urls = [c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"}) for c in (s3, v4)]
    assert "AWSAccessKeyId=" in urls[0] and "X-Amz-Credential=" in urls[1]  # SigV2 and SigV4
    for url in urls:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url)
        assert e.value.code == 403 and b"<Code>AccessDenied</Code>" in e.value.read()
    s3.delete_bucket_policy(Bucket=b)
    assert [urllib.request.urlopen(url).read() for url in urls] == [b"x", b"x"]


def log_delivery_policy(target, sources, account="123456789012"):
    """The S3 user guide's "Permissions for log delivery" bucket policy (what kinds/log_bucket.rs puts)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "S3ServerAccessLogsPolicy", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{target}/*",
        "Condition": {"ArnLike": {"aws:SourceArn": [f"arn:aws:s3:::{s}" for s in sources]},
                      "StringEquals": {"aws:SourceAccount": account}}}]})


def test_server_access_logging_needs_a_target_that_lets_the_logging_service_write(emulator):
    # S3 API reference, PutBucketLogging; S3 user guide, "Enabling Amazon S3 server access logging": the
    # destination must exist, be in the same region and account, and grant the logging service s3:PutObject
    # (bucket policy) or the log-delivery group WRITE/READ_ACP (ACL); else InvalidTargetBucketForLogging (400).
    # moto models these checks; this pins them for the stack's buckets (kinds/s3_bucket.rs, log_bucket.rs).
    s3 = emulator.client("s3")
    source, target = bucket_name("logged"), bucket_name("access-logs")
    s3.create_bucket(Bucket=source)
    status = {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "data/"}}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=status)
    assert code(e) == ("InvalidTargetBucketForLogging", 400)  # no such target
    s3.create_bucket(Bucket=target)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=status)
    assert code(e) == ("InvalidTargetBucketForLogging", 400)  # the logging service may not write
    s3.put_bucket_policy(Bucket=target, Policy=log_delivery_policy(target, [source]))
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=status)
    assert s3.get_bucket_logging(Bucket=source)["LoggingEnabled"] == {"TargetBucket": target, "TargetPrefix": "data/"}
    # An empty BucketLoggingStatus turns logging off (PutBucketLogging: "To disable logging, you use an empty
    # BucketLoggingStatus request element"); GetBucketLogging then has no LoggingEnabled.
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)

"""Control path /_emulator/: faults (count, apply, delay, per-protocol error formats), call log, reset, health."""
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from helpers import err


def ctl(emu, method, path, body=None):
    return emu.control(method, path.removeprefix("/_emulator/"), body)


@pytest.fixture
def emu(emulator):
    ctl(emulator, "DELETE", "/_emulator/faults")
    ctl(emulator, "DELETE", "/_emulator/calls")
    yield emulator
    ctl(emulator, "DELETE", "/_emulator/faults")


def test_health(emu):
    assert ctl(emu, "GET", "/_emulator/health") == (200, {"ready": True, "scale": 0.0, "throttle": False,
                                                         "realistic": False, "seed": None})


def test_fault_count_is_honoured_in_ec2_xml(emu):
    ec2 = emu.client("ec2")
    status, fault = ctl(emu, "POST", "/_emulator/faults", {"operation": "ec2:CreateVpc", "count": 2,
                                                          "error_code": "InternalError", "status": 500,
                                                          "message": "boom"})
    assert status == 200 and fault["count"] == 2
    before = len(ec2.describe_vpcs()["Vpcs"])
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            ec2.create_vpc(CidrBlock="10.9.0.0/16")
        assert err(e) == ("InternalError", 500)
        assert e.value.response["Error"]["Message"] == "boom"
    assert len(ec2.describe_vpcs()["Vpcs"]) == before  # not applied
    ec2.create_vpc(CidrBlock="10.9.0.0/16")  # third call goes through
    assert ctl(emu, "GET", "/_emulator/faults") == (200, {"faults": []})
    ops = [(c["operation"], c["status"]) for c in ctl(emu, "GET", "/_emulator/calls")[1]["calls"]]
    assert ops.count(("ec2:CreateVpc", 500)) == 2 and ("ec2:CreateVpc", 200) in ops


def test_a_fault_spares_the_calls_of_its_except_key(emu):
    ctl(emu, "POST", "/_emulator/faults", {"operation": "ec2:CreateVpc", "count": 1, "error_code": "InternalError",
                                           "status": 500, "except_key": "harness"})
    emu.client("ec2", aws_access_key_id="harness", aws_secret_access_key="x").create_vpc(CidrBlock="10.9.0.0/16")
    assert ctl(emu, "GET", "/_emulator/faults")[1]["faults"][0]["count"] == 1  # not taken
    with pytest.raises(ClientError) as e:
        emu.client("ec2").create_vpc(CidrBlock="10.9.0.0/16")
    assert err(e) == ("InternalError", 500)


def test_apply_true_creates_the_resource_yet_returns_the_error(emu):
    nfw = emu.client("network-firewall")
    name = f"applied-{uuid.uuid4().hex[:8]}"
    ctl(emu, "POST", "/_emulator/faults", {"operation": "network-firewall:CreateRuleGroup",
                                          "error_code": "InternalServerError", "status": 500, "apply": True})
    with pytest.raises(ClientError) as e:
        nfw.create_rule_group(RuleGroupName=name, Type="STATEFUL", Capacity=10, Rules="")
    assert err(e) == ("InternalServerError", 500)  # JSON error format, parsed by botocore
    assert nfw.describe_rule_group(RuleGroupName=name, Type="STATEFUL")["RuleGroupResponse"]["RuleGroupName"] == name

    ec2 = emu.client("ec2")
    ctl(emu, "POST", "/_emulator/faults", {"operation": "ec2:CreateSecurityGroup", "error_code": "InternalError",
                                          "status": 500, "apply": True})
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    with pytest.raises(ClientError):
        ec2.create_security_group(VpcId=vpc, GroupName="lost", Description="lost")
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    assert "lost" in [g["GroupName"] for g in groups]


def test_delay_only_and_delay_with_error(emu):
    sts = emu.client("sts")
    ctl(emu, "POST", "/_emulator/faults", {"operation": "sts:GetCallerIdentity", "delay_s": 0.4})
    t0 = time.time()
    assert sts.get_caller_identity()["Account"]
    assert time.time() - t0 >= 0.4
    # The call log's dur_s is the time inside request handling: the delay is in it.
    logged = ctl(emu, "GET", "/_emulator/calls")[1]["calls"][-1]
    assert logged["operation"] == "sts:GetCallerIdentity" and 0.4 <= logged["dur_s"] < 5
    ctl(emu, "POST", "/_emulator/faults", {"operation": "sts:GetCallerIdentity", "delay_s": 0.2,
                                          "error_code": "Throttling", "status": 400})
    t0 = time.time()
    with pytest.raises(ClientError) as e:  # query protocol XML error
        sts.get_caller_identity()
    assert err(e) == ("Throttling", 400) and time.time() - t0 >= 0.2


@pytest.mark.parametrize("service,operation,call", [
    ("s3", "s3:CreateBucket", lambda c: c.create_bucket(Bucket=f"b-{uuid.uuid4().hex[:8]}")),
    ("iam", "iam:CreateRole", lambda c: c.create_role(RoleName="r", AssumeRolePolicyDocument="{}")),
    ("efs", "elasticfilesystem:DescribeFileSystems", lambda c: c.describe_file_systems()),
    ("kms", "kms:CreateKey", lambda c: c.create_key(Description="k")),
    ("sagemaker", "sagemaker:ListDomains", lambda c: c.list_domains()),
])
def test_fault_error_format_per_protocol(emu, service, operation, call):
    ctl(emu, "POST", "/_emulator/faults", {"operation": operation, "error_code": "ServiceUnavailable", "status": 503,
                                          "message": "try later"})
    with pytest.raises(ClientError) as e:
        call(emu.client(service))
    assert err(e) == ("ServiceUnavailable", 503)
    assert ctl(emu, "GET", "/_emulator/calls")[1]["calls"][-1]["operation"] == operation


def test_call_log_names_status_region_and_clear(emu):
    ec2 = emu.client("ec2", region="eu-west-1")
    s3, kms, iam = emu.client("s3"), emu.client("kms"), emu.client("iam")
    efs, sts, nfw = emu.client("efs"), emu.client("sts"), emu.client("network-firewall")
    bucket = f"log-{uuid.uuid4().hex[:8]}"
    answers = [
        ec2.create_vpc(CidrBlock="10.7.0.0/16"), s3.create_bucket(Bucket=bucket),
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": []})),
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True}),
        kms.create_key(Description="k"), iam.list_roles(), efs.create_file_system(CreationToken=uuid.uuid4().hex),
        sts.get_caller_identity(), nfw.list_firewalls()]
    with pytest.raises(ClientError) as e:
        nfw.describe_firewall(FirewallName="missing")
    statuses = [a["ResponseMetadata"]["HTTPStatusCode"] for a in answers] + [err(e)[1]]
    calls = ctl(emu, "GET", "/_emulator/calls")[1]["calls"]
    assert [c["operation"] for c in calls] == [
        "ec2:CreateVpc", "s3:CreateBucket", "s3:PutBucketPolicy", "s3:PutPublicAccessBlock", "kms:CreateKey",
        "iam:ListRoles", "elasticfilesystem:CreateFileSystem", "sts:GetCallerIdentity",
        "network-firewall:ListFirewalls", "network-firewall:DescribeFirewall"]
    assert [c["status"] for c in calls] == statuses and statuses[-1] == 400
    assert calls[0]["region"] == "eu-west-1" and calls[1]["region"] == "us-east-1"
    assert all(isinstance(c["t"], float) for c in calls) and calls == sorted(calls, key=lambda c: c["t"])
    assert ctl(emu, "DELETE", "/_emulator/calls") == (200, {"calls": []})
    assert ctl(emu, "GET", "/_emulator/calls") == (200, {"calls": []})


def test_bad_requests_to_the_control_path(emu):
    assert ctl(emu, "POST", "/_emulator/faults", {"operation": "CreateVpc", "error_code": "X"})[0] == 400
    assert ctl(emu, "POST", "/_emulator/faults", {"operation": "ec2:CreateVpc"})[0] == 400  # neither error nor delay
    assert ctl(emu, "GET", "/_emulator/nothing")[0] == 404
    assert ctl(emu, "GET", "/_emulator/faults") == (200, {"faults": []})


def test_reset_clears_backends_faults_log_and_throttle(make_emulator):
    emu = make_emulator(scale=1, throttle=True)  # 0.3 tokens/s, so the bucket stays empty without a reset
    ec2, nfw = emu.client("ec2"), emu.client("network-firewall")
    vpc = ec2.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    nfw.create_rule_group(RuleGroupName="rg", Type="STATEFUL", Capacity=1, Rules="")
    ctl(emu, "POST", "/_emulator/faults", {"operation": "ec2:CreateSubnet", "error_code": "InternalError"})
    with pytest.raises(ClientError) as e:
        for _ in range(6):
            ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Gateway", ServiceName="com.amazonaws.us-east-1.s3")
    assert err(e) == ("RequestLimitExceeded", 503)

    assert ctl(emu, "POST", "/_emulator/reset") == (200, {"reset": True})
    assert ctl(emu, "GET", "/_emulator/faults") == (200, {"faults": []})
    assert ctl(emu, "GET", "/_emulator/calls") == (200, {"calls": []})
    assert vpc not in [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
    assert nfw.list_rule_groups()["RuleGroups"] == []
    vpc = ec2.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.6.1.0/24")  # the fault is gone
    ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Gateway", ServiceName="com.amazonaws.us-east-1.s3")


def _keyed(emu, service, key, region="us-east-1"):
    """A client of `service` that signs with access key id `key` (secret `test`)."""
    return emu.client(service, region=region, aws_access_key_id=key, aws_secret_access_key="test")


def test_call_log_records_the_callers_access_key_and_error_codes(emu):
    """``key``: the SigV4 credential's access key id, per caller; ``code``: the error answer's AWS code, in
    every protocol (XML query, restXml, JSON, restJson), the fault's own for an injected one; null on success."""
    a, b = "AKIASTACK00000000001", "AKIASTACK00000000002"
    ec2_a, ec2_b = _keyed(emu, "ec2", a), _keyed(emu, "ec2", b)
    ec2_a.describe_vpcs()
    ec2_b.describe_vpcs()
    with pytest.raises(ClientError) as e:  # moto's own error, EC2 XML
        ec2_b.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"])
    assert err(e) == ("InvalidVpcID.NotFound", 400)
    with pytest.raises(ClientError) as e:  # JSON 1.0 (__type)
        _keyed(emu, "network-firewall", a).describe_firewall(FirewallName="missing")
    nfw_code = err(e)[0]
    with pytest.raises(ClientError) as e:  # restXml
        _keyed(emu, "s3", a).get_bucket_policy(Bucket=f"missing-{uuid.uuid4().hex[:8]}")
    s3_code = err(e)[0]
    with pytest.raises(ClientError) as e:  # restJson
        _keyed(emu, "efs", b).describe_file_systems(FileSystemId="fs-0123456789abcdef0")
    efs_code = err(e)[0]
    ctl(emu, "POST", "/_emulator/faults", {"operation": "sagemaker:ListDomains", "error_code": "ThrottlingException",
                                          "status": 400})
    with pytest.raises(ClientError) as e:  # an injected fault: its own code
        _keyed(emu, "sagemaker", b).list_domains()
    assert err(e) == ("ThrottlingException", 400)
    _keyed(emu, "sts", "test").get_caller_identity()  # any string is a key id to the log

    calls = ctl(emu, "GET", "/_emulator/calls")[1]["calls"]
    assert [(c["operation"], c["key"], c["status"], c["code"]) for c in calls] == [
        ("ec2:DescribeVpcs", a, 200, None),
        ("ec2:DescribeVpcs", b, 200, None),
        ("ec2:DescribeVpcs", b, 400, "InvalidVpcID.NotFound"),
        ("network-firewall:DescribeFirewall", a, 400, nfw_code),
        ("s3:GetBucketPolicy", a, 404, s3_code),
        ("elasticfilesystem:DescribeFileSystems", b, 404, efs_code),
        ("sagemaker:ListDomains", b, 400, "ThrottlingException"),
        ("sts:GetCallerIdentity", "test", 200, None)]
    assert nfw_code == "ResourceNotFoundException" and s3_code == "NoSuchBucket"
    assert efs_code == "FileSystemNotFound"


def test_keys_share_the_account_and_its_throttle_buckets_and_the_log_names_the_throttled(make_emulator):
    """Any access key id that IAM did not create is moto's default account 123456789012 (moto's
    iam.models.get_account_id_from): callers with different keys share one account's EC2 token buckets,
    and the call log names who was throttled (503 RequestLimitExceeded)."""
    emu = make_emulator(scale=1, throttle=True)  # the VPC endpoint bucket: 4 tokens, 0.3/s
    keys = [f"AKIASTACK0000000000{k}" for k in range(1, 4)]
    assert {_keyed(emu, "sts", k).get_caller_identity()["Account"] for k in keys} == {"123456789012"}
    ec2s = [_keyed(emu, "ec2", k) for k in keys]
    vpc = ec2s[0].create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    ctl(emu, "DELETE", "/_emulator/calls")
    outcomes = []
    for i in range(6):  # 2 calls per key: the 4 tokens are the account's, so the 5th call is refused
        try:
            ec2s[i % 3].create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Gateway",
                                            ServiceName="com.amazonaws.us-east-1.s3")
            outcomes.append(200)
        except ClientError as e:
            answer = e.response
            assert (answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"]) == (
                "RequestLimitExceeded", 503)
            outcomes.append(503)
    assert outcomes[:4] == [200] * 4 and outcomes[4] == 503
    calls = ctl(emu, "GET", "/_emulator/calls")[1]["calls"]
    assert [(c["key"], c["status"], c["code"]) for c in calls] == [
        (keys[i % 3], s, None if s == 200 else "RequestLimitExceeded") for i, s in enumerate(outcomes)]


def test_call_log_names_the_code_of_a_transient_error(make_emulator):
    """--realistic's transient 5xx (not a fault, not applied): the log has its code, e.g. EC2's 503 Unavailable,
    which is not throttling."""
    emu = make_emulator(scale=0.01, realistic=True, seed=1, error_rate=1.0)
    with pytest.raises(ClientError) as e:
        _keyed(emu, "ec2", "AKIASTACK00000000009").describe_vpcs()
    code, status = err(e)
    assert (code, status) in (("InternalError", 500), ("Unavailable", 503))
    calls = ctl(emu, "GET", "/_emulator/calls")[1]["calls"]
    assert [(c["key"], c["status"], c["code"]) for c in calls if c["operation"] == "ec2:DescribeVpcs"] == [
        ("AKIASTACK00000000009", status, code)]

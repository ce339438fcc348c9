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

"""CloudWatch Logs (logs.py): retention values, kmsKeyId checks, AssociateKmsKey; EC2 flow logs to a
group; Network Firewall's one-destination-per-call logging (nfw.py); flow logs under --realistic."""
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from helpers import err
from test_nfw import name, network, policy_doc
from test_realistic import realistic

ACCOUNT = "123456789012"


def logs_key(kms, prefix="/provision/t/", with_logs=True):
    """A key whose policy lets CloudWatch Logs use it for groups under `prefix` only."""
    statements = [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
                   "Resource": "*"}]
    if with_logs:
        statements.append({
            "Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                      f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{prefix}*"}}})
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return kms.create_key(Description="logs", Policy=policy)["KeyMetadata"]["Arn"]


def group(logs, g):
    return next(x for x in logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"] if x["logGroupName"] == g)


def test_retention_only_the_values_cloudwatch_lists(emulator):
    logs = emulator.client("logs")
    g = f"/provision/t/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=g)
    for bad in (0, 2, 366, 4000):
        with pytest.raises(ClientError) as e:
            logs.put_retention_policy(logGroupName=g, retentionInDays=bad)
        assert err(e) == ("InvalidParameterException", 400)
        assert "retentionInDays" in str(e.value)
    assert "retentionInDays" not in group(logs, g)
    for good in (1, 365, 3653):
        logs.put_retention_policy(logGroupName=g, retentionInDays=good)
        assert group(logs, g)["retentionInDays"] == good


def test_kms_key_must_exist_be_an_arn_and_allow_logs_for_the_group(emulator):
    logs, kms = emulator.client("logs"), emulator.client("kms")
    key = logs_key(kms)
    g = f"/provision/t/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=g, kmsKeyId=key, tags={"provision:stack": "t"})
    assert group(logs, g)["kmsKeyId"] == key
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{g}"
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"provision:stack": "t"}
    refusals = [
        (key.split("/")[-1], f"/provision/t/{uuid.uuid4().hex[:8]}", "InvalidParameterException"),  # not an ARN
        (key[:-4] + "0000", f"/provision/t/{uuid.uuid4().hex[:8]}", "InvalidParameterException"),  # no such key
        (key, f"/other/{uuid.uuid4().hex[:8]}", "AccessDeniedException"),  # the condition names other groups
        (logs_key(kms, with_logs=False), f"/provision/t/{uuid.uuid4().hex[:8]}", "AccessDeniedException"),
    ]
    for key_id, g2, code in refusals:
        with pytest.raises(ClientError) as e:
            logs.create_log_group(logGroupName=g2, kmsKeyId=key_id)
        assert err(e) == (code, 400), (key_id, g2)
        assert not logs.describe_log_groups(logGroupNamePrefix=g2)["logGroups"], "nothing created"
    disabled = logs_key(kms)
    kms.disable_key(KeyId=disabled.split("/")[-1])  # moto 5.2.5 indexes DisableKey by the raw id
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName=f"/provision/t/{uuid.uuid4().hex[:8]}", kmsKeyId=disabled)
    assert err(e) == ("InvalidParameterException", 400)


def test_associate_kms_key_checks_the_key_and_sets_it(emulator):
    logs, kms = emulator.client("logs"), emulator.client("kms")
    g = f"/provision/t/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=g)
    with pytest.raises(ClientError) as e:
        logs.associate_kms_key(logGroupName=g, kmsKeyId=logs_key(kms, with_logs=False))
    assert err(e) == ("AccessDeniedException", 400)
    assert "kmsKeyId" not in group(logs, g)
    key = logs_key(kms)
    logs.associate_kms_key(logGroupName=g, kmsKeyId=key)
    assert group(logs, g)["kmsKeyId"] == key
    with pytest.raises(ClientError) as e:
        logs.associate_kms_key(logGroupName=g + "-missing", kmsKeyId=key)
    assert err(e) == ("ResourceNotFoundException", 400)


def test_vpc_flow_log_to_a_group_with_tags(emulator):
    ec2, logs = emulator.client("ec2"), emulator.client("logs")
    vpc = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    g = f"/provision/t/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=g)
    out = ec2.create_flow_logs(ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
                               LogDestinationType="cloud-watch-logs", LogGroupName=g,
                               DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                               TagSpecifications=[{"ResourceType": "vpc-flow-log",
                                                   "Tags": [{"Key": "provision:stack", "Value": "t"}]}])
    (fl,) = out["FlowLogIds"]
    (d,) = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
    assert (d["FlowLogId"], d["TrafficType"], d["LogGroupName"]) == (fl, "ALL", g)
    assert ec2.describe_flow_logs(Filters=[{"Name": "tag:provision:stack", "Values": ["t"]}])["FlowLogs"]
    ec2.delete_flow_logs(FlowLogIds=[fl])
    assert not ec2.describe_flow_logs(FlowLogIds=[fl])["FlowLogs"]


def _firewall(emulator):
    nfw, ec2 = emulator.client("network-firewall"), emulator.client("ec2")
    vpc, (subnet,) = network(ec2)
    pol = nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=policy_doc())
    fw = nfw.create_firewall(FirewallName=name("fw"), FirewallPolicyArn=pol["FirewallPolicyResponse"]["FirewallPolicyArn"],
                             VpcId=vpc, SubnetMappings=[{"SubnetId": subnet}])
    return nfw, fw["Firewall"]["FirewallArn"]


def cwl(log_type, g):
    return {"LogType": log_type, "LogDestinationType": "CloudWatchLogs", "LogDestination": {"logGroup": g}}


def test_firewall_logging_one_destination_change_per_call(emulator):
    nfw, arn = _firewall(emulator)
    configs = lambda: nfw.describe_logging_configuration(FirewallArn=arn)["LoggingConfiguration"]["LogDestinationConfigs"]  # noqa: E731
    assert configs() == []
    update = lambda *c: nfw.update_logging_configuration(FirewallArn=arn, LoggingConfiguration={"LogDestinationConfigs": list(c)})  # noqa: E731

    def refused(*c):
        before = configs()
        with pytest.raises(ClientError) as e:
            update(*c)
        assert err(e) == ("InvalidRequestException", 400), c
        assert configs() == before, "a refused call changes nothing"

    refused(cwl("ALERT", "/a"), cwl("FLOW", "/f"))  # two additions at once
    update(cwl("ALERT", "/a"))
    update(cwl("ALERT", "/a"), cwl("FLOW", "/f"))
    assert configs() == [cwl("ALERT", "/a"), cwl("FLOW", "/f")]
    refused(cwl("ALERT", "/a2"), cwl("FLOW", "/f2"))  # two changes
    refused(cwl("ALERT", "/a"), cwl("ALERT", "/b"), cwl("FLOW", "/f"))  # two destinations of one type
    s3_flow = {"LogType": "FLOW", "LogDestinationType": "S3", "LogDestination": {"bucketName": "b"}}
    refused(cwl("ALERT", "/a"), s3_flow)  # a destination's type cannot change in place
    update(cwl("ALERT", "/a2"), cwl("FLOW", "/f"))  # one change of group
    refused()  # removing both at once
    update(cwl("FLOW", "/f"))
    update()
    assert configs() == []


def test_firewall_logging_is_accepted_while_the_firewall_provisions(make_emulator):
    # The API reference names no firewall status UpdateLoggingConfiguration needs.
    nfw, arn = _firewall(make_emulator(scale=0.05))  # PROVISIONING for 330 s x 0.05
    assert nfw.describe_firewall(FirewallArn=arn)["FirewallStatus"]["Status"] == "PROVISIONING"
    nfw.update_logging_configuration(FirewallArn=arn, LoggingConfiguration={"LogDestinationConfigs": [cwl("ALERT", "/a")]})
    got = nfw.describe_logging_configuration(FirewallArn=arn)["LoggingConfiguration"]["LogDestinationConfigs"]
    assert got == [cwl("ALERT", "/a")]


def test_a_new_firewall_is_not_found_to_its_logging_calls_within_its_window(make_emulator):
    emu = realistic(make_emulator, ec=(100, 100))  # 1 s
    nfw, arn = _firewall(emulator=emu)
    logging = {"LogDestinationConfigs": [cwl("ALERT", "/a")]}
    for call, kw in ((nfw.update_logging_configuration, {"LoggingConfiguration": logging}),
                     (nfw.describe_logging_configuration, {})):
        with pytest.raises(ClientError) as e:
            call(FirewallArn=arn, **kw)
        assert err(e) == ("ResourceNotFoundException", 400)
    time.sleep(1.1)
    assert nfw.describe_logging_configuration(FirewallArn=arn)["LoggingConfiguration"]["LogDestinationConfigs"] == [], \
        "the refused update changed nothing"
    nfw.update_logging_configuration(FirewallArn=arn, LoggingConfiguration=logging)


def test_a_new_flow_log_is_left_out_of_describes_within_its_window(make_emulator):
    emu = realistic(make_emulator, ec=(100, 100))  # 1 s
    ec2, logs = emu.client("ec2"), emu.client("logs")
    vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    time.sleep(1.1)
    logs.create_log_group(logGroupName="/provision/r/flow")
    (fl,) = ec2.create_flow_logs(ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
                                 LogDestinationType="cloud-watch-logs", LogGroupName="/provision/r/flow",
                                 DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/r")["FlowLogIds"]
    assert ec2.describe_flow_logs(FlowLogIds=[fl])["FlowLogs"] == []
    assert ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"] == []
    time.sleep(1.1)
    assert [f["FlowLogId"] for f in ec2.describe_flow_logs(FlowLogIds=[fl])["FlowLogs"]] == [fl]


def test_firewall_logging_last_destination_goes_by_omission_or_empty_list(emulator):
    # API reference: "If you omit this setting, Network Firewall disables logging for the firewall"
    # (what terraform-provider-aws sends for the last one); AWS's CloudFormation handler sends [].
    nfw, arn = _firewall(emulator)
    configs = lambda: nfw.describe_logging_configuration(FirewallArn=arn)["LoggingConfiguration"]["LogDestinationConfigs"]  # noqa: E731
    nfw.update_logging_configuration(FirewallArn=arn, LoggingConfiguration={"LogDestinationConfigs": [cwl("ALERT", "/a")]})
    nfw.update_logging_configuration(FirewallArn=arn)
    assert configs() == []
    nfw.update_logging_configuration(FirewallArn=arn, LoggingConfiguration={"LogDestinationConfigs": [cwl("FLOW", "/f")]})
    nfw.update_logging_configuration(FirewallArn=arn, LoggingConfiguration={"LogDestinationConfigs": []})
    assert configs() == []

    nfw.update_logging_configuration(FirewallArn=arn, LoggingConfiguration={"LogDestinationConfigs": [cwl("FLOW", "/f")]})
    nfw.update_logging_configuration(FirewallArn=arn, LoggingConfiguration={
        "LogDestinationConfigs": [cwl("FLOW", "/f"), cwl("ALERT", "/a")]})
    with pytest.raises(ClientError) as e:  # omitted with two left: two removals in one call
        nfw.update_logging_configuration(FirewallArn=arn)
    assert err(e) == ("InvalidRequestException", 400)
    assert e.value.response["Error"]["Message"] == (
        "Given logging configuration attempts to create/modify multiple log destination configs")
    assert len(configs()) == 2
    nfw.update_logging_configuration(FirewallArn=arn, LoggingConfiguration={"LogDestinationConfigs": [cwl("ALERT", "/a")]})
    nfw.update_logging_configuration(FirewallArn=arn)  # terraform's way: one at a time, the last by omission
    assert configs() == []

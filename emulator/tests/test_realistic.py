"""--realistic: eventual consistency per kind, IAM propagation, transient 5xx, seeded draws (realistic.py)."""
import re
import time

import pytest
from botocore.exceptions import ClientError
from helpers import JUPYTERLAB_IMAGE, err, wait_value

# At this scale a window of 100 real-world seconds lasts 1 s (sm.domain 120 s -> 1.2 s, sm.space 10 s -> 0.1 s).
SCALE = 0.01
TAG = [{"Key": "purpose", "Value": "eventual"}]


def ctl(emu, method, path, body=None):
    return emu.control(method, path.removeprefix("/_emulator/"), body)


def realistic(make_emulator, seed=1, ec=(0, 0), iam=(0, 0), error_rate=0.0, scale=SCALE):
    """A --realistic emulator with fixed windows (real-world seconds, times `scale`) and no random 5xx."""
    emu = make_emulator(scale=scale, realistic=True, seed=seed)
    status, out = ctl(emu, "POST", "/_emulator/realistic",
                      {"error_rate": error_rate, "ec_window_s": list(ec), "iam_window_s": list(iam)})
    assert status == 200, out
    return emu


def not_found(call, code, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    assert err(e)[0] == code, e.value
    return e


def found(call, **kw):
    """`call(**kw)` once it no longer fails with a not-found (the window is over)."""
    def probe():
        try:
            return call(**kw)
        except ClientError as e:
            code = e.response["Error"]["Code"]
            assert "NotFound" in code or code in ("NoSuchEntity", "ResourceNotFoundException"), e
            return None
    return wait_value(probe, lambda v: v is not None, timeout=10)


def test_each_ec2_kind_is_not_found_within_its_window_and_found_after(make_emulator):
    emu = realistic(make_emulator, ec=(200, 200))  # every window 2 s
    ec2 = emu.client("ec2")
    tags = lambda kind: [{"ResourceType": kind, "Tags": TAG}]  # noqa: E731
    by_tag = [{"Name": "tag:purpose", "Values": ["eventual"]}]
    made = {}

    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16", TagSpecifications=tags("vpc"))["Vpc"]["VpcId"]
    not_found(ec2.describe_vpcs, "InvalidVpcID.NotFound", VpcIds=[vpc])
    assert ec2.describe_vpcs(Filters=by_tag)["Vpcs"] == []
    made["vpc"] = (ec2.describe_vpcs, "Vpcs", "VpcId", {"VpcIds": [vpc]})

    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24", TagSpecifications=tags("subnet"))["Subnet"][
        "SubnetId"]
    not_found(ec2.describe_subnets, "InvalidSubnetID.NotFound", SubnetIds=[subnet])
    assert ec2.describe_subnets(Filters=by_tag)["Subnets"] == []
    made["subnet"] = (ec2.describe_subnets, "Subnets", "SubnetId", {"SubnetIds": [subnet]})

    rtb = ec2.create_route_table(VpcId=vpc, TagSpecifications=tags("route-table"))["RouteTable"]["RouteTableId"]
    not_found(ec2.describe_route_tables, "InvalidRouteTableID.NotFound", RouteTableIds=[rtb])
    assert ec2.describe_route_tables(Filters=by_tag)["RouteTables"] == []
    made["route table"] = (ec2.describe_route_tables, "RouteTables", "RouteTableId", {"RouteTableIds": [rtb]})

    sg = ec2.create_security_group(GroupName="eventual", Description="d", VpcId=vpc,
                                   TagSpecifications=tags("security-group"))["GroupId"]
    not_found(ec2.describe_security_groups, "InvalidGroup.NotFound", GroupIds=[sg])
    assert ec2.describe_security_groups(Filters=by_tag)["SecurityGroups"] == []
    made["security group"] = (ec2.describe_security_groups, "SecurityGroups", "GroupId", {"GroupIds": [sg]})

    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip, TagSpecifications=tags("natgateway"))[
        "NatGateway"]["NatGatewayId"]
    not_found(ec2.describe_nat_gateways, "NatGatewayNotFound", NatGatewayIds=[nat])
    assert ec2.describe_nat_gateways(Filters=by_tag)["NatGateways"] == []
    made["NAT gateway"] = (ec2.describe_nat_gateways, "NatGateways", "NatGatewayId", {"NatGatewayIds": [nat]})

    vpce = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", RouteTableIds=[rtb],
                                   TagSpecifications=tags("vpc-endpoint"))["VpcEndpoint"]["VpcEndpointId"]
    not_found(ec2.describe_vpc_endpoints, "InvalidVpcEndpointId.NotFound", VpcEndpointIds=[vpce])
    assert ec2.describe_vpc_endpoints(Filters=by_tag)["VpcEndpoints"] == []
    made["VPC endpoint"] = (ec2.describe_vpc_endpoints, "VpcEndpoints", "VpcEndpointId", {"VpcEndpointIds": [vpce]})

    pending = {p["key"]: p for p in ctl(emu, "GET", "/_emulator/realistic")[1]["pending"]}
    assert {vpc, subnet, rtb, sg, nat, vpce} <= set(pending)
    assert pending[vpc]["kind"] == "ec2.vpc" and pending[vpc]["window_s"] == pytest.approx(2.0)

    for what, (describe, items, key, by_id) in made.items():
        got = found(describe, **by_id)[items]
        assert [i[key] for i in got] == by_id[next(iter(by_id))], what
        assert by_id[next(iter(by_id))][0] in [i[key] for i in describe(Filters=by_tag)[items]], what
    still = {p["key"] for p in ctl(emu, "GET", "/_emulator/realistic")[1]["pending"]}
    assert not still & {vpc, subnet, rtb, sg, nat, vpce}


def test_an_iam_role_is_not_found_within_its_window_and_found_after(make_emulator):
    emu = realistic(make_emulator, ec=(100, 100))
    iam = emu.client("iam")
    iam.create_role(RoleName="eventual-role", AssumeRolePolicyDocument="{}")
    e = not_found(iam.get_role, "NoSuchEntity", RoleName="eventual-role")
    assert "eventual-role" in e.value.response["Error"]["Message"]
    assert "eventual-role" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert found(iam.get_role, RoleName="eventual-role")["Role"]["RoleName"] == "eventual-role"
    assert "eventual-role" in [r["RoleName"] for r in iam.list_roles()["Roles"]]


def _network(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    return vpc, subnet


def _role(iam, name):
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]


def _in_service(describe, **kw):
    return wait_value(lambda: found(describe, **kw), lambda d: d["Status"] == "InService", timeout=15)


def test_sagemaker_domain_profile_space_and_app_are_not_found_within_their_windows(make_emulator):
    emu = realistic(make_emulator, ec=(100, 100))  # 1 s
    ec2, sm, iam = emu.client("ec2"), emu.client("sagemaker"), emu.client("iam")
    vpc, subnet = _network(ec2)
    role = _role(iam, "studio")
    domain = sm.create_domain(DomainName="eventual", AuthMode="IAM", VpcId=vpc, SubnetIds=[subnet],
                              DefaultUserSettings={"ExecutionRole": role})["DomainArn"].split("/")[-1]
    not_found(sm.describe_domain, "ResourceNotFound", DomainId=domain)
    assert domain not in [d["DomainId"] for d in sm.list_domains()["Domains"]]
    _in_service(sm.describe_domain, DomainId=domain)
    assert domain in [d["DomainId"] for d in sm.list_domains()["Domains"]]

    sm.create_user_profile(DomainId=domain, UserProfileName="alice")
    not_found(sm.describe_user_profile, "ResourceNotFound", DomainId=domain, UserProfileName="alice")
    assert sm.list_user_profiles(DomainIdEquals=domain)["UserProfiles"] == []
    _in_service(sm.describe_user_profile, DomainId=domain, UserProfileName="alice")
    assert [p["UserProfileName"] for p in sm.list_user_profiles(DomainIdEquals=domain)["UserProfiles"]] == ["alice"]

    sm.create_space(DomainId=domain, SpaceName="alice-space", SpaceSettings={"AppType": "JupyterLab", **JUPYTERLAB_IMAGE},
                    OwnershipSettings={"OwnerUserProfileName": "alice"}, SpaceSharingSettings={"SharingType": "Private"})
    not_found(sm.describe_space, "ResourceNotFound", DomainId=domain, SpaceName="alice-space")
    assert sm.list_spaces(DomainIdEquals=domain)["Spaces"] == []
    _in_service(sm.describe_space, DomainId=domain, SpaceName="alice-space")
    assert [s["SpaceName"] for s in sm.list_spaces(DomainIdEquals=domain)["Spaces"]] == ["alice-space"]

    app = dict(DomainId=domain, SpaceName="alice-space", AppType="JupyterLab", AppName="default")
    sm.create_app(**app)
    not_found(sm.describe_app, "ResourceNotFound", **app)
    assert sm.list_apps(DomainIdEquals=domain)["Apps"] == []
    assert found(sm.describe_app, **app)["AppName"] == "default"
    assert [a["AppName"] for a in sm.list_apps(DomainIdEquals=domain)["Apps"]] == ["default"]


def test_network_firewall_kinds_are_not_found_within_their_windows(make_emulator):
    emu = realistic(make_emulator, ec=(100, 100))
    ec2, nfw = emu.client("ec2"), emu.client("network-firewall")
    vpc, subnet = _network(ec2)
    group = nfw.create_rule_group(RuleGroupName="rg", Type="STATEFUL", Capacity=10, Rules="")[
        "RuleGroupResponse"]["RuleGroupArn"]
    not_found(nfw.describe_rule_group, "ResourceNotFoundException", RuleGroupArn=group)
    assert nfw.list_rule_groups()["RuleGroups"] == []
    policy = nfw.create_firewall_policy(FirewallPolicyName="pol", FirewallPolicy={
        "StatelessDefaultActions": ["aws:forward_to_sfe"], "StatelessFragmentDefaultActions": ["aws:forward_to_sfe"],
        "StatefulRuleGroupReferences": [{"ResourceArn": group}]})["FirewallPolicyResponse"]["FirewallPolicyArn"]
    not_found(nfw.describe_firewall_policy, "ResourceNotFoundException", FirewallPolicyArn=policy)
    assert nfw.list_firewall_policies()["FirewallPolicies"] == []
    fw = nfw.create_firewall(FirewallName="fw", FirewallPolicyArn=policy, VpcId=vpc,
                             SubnetMappings=[{"SubnetId": subnet}])["Firewall"]["FirewallArn"]
    not_found(nfw.describe_firewall, "ResourceNotFoundException", FirewallArn=fw)
    not_found(nfw.describe_firewall, "ResourceNotFoundException", FirewallName="fw")
    assert nfw.list_firewalls()["Firewalls"] == []

    assert found(nfw.describe_rule_group, RuleGroupArn=group)["RuleGroupResponse"]["RuleGroupArn"] == group
    assert [g["Arn"] for g in nfw.list_rule_groups()["RuleGroups"]] == [group]
    assert found(nfw.describe_firewall_policy, FirewallPolicyArn=policy)["FirewallPolicyResponse"]["FirewallPolicyName"] == "pol"
    assert [p["Arn"] for p in nfw.list_firewall_policies()["FirewallPolicies"]] == [policy]
    assert found(nfw.describe_firewall, FirewallArn=fw)["Firewall"]["FirewallName"] == "fw"
    assert [f["FirewallArn"] for f in nfw.list_firewalls()["Firewalls"]] == [fw]


def test_sagemaker_refuses_a_role_younger_than_its_propagation_window(make_emulator):
    emu = realistic(make_emulator, iam=(300, 300))  # every role assumable 3 s after CreateRole
    ec2, sm, iam = emu.client("ec2"), emu.client("sagemaker"), emu.client("iam")
    vpc, subnet = _network(ec2)

    def refused(call, role, **kw):
        with pytest.raises(ClientError) as e:
            call(**kw)
        assert err(e) == ("ValidationException", 400)
        assert role in e.value.response["Error"]["Message"] and "assume" in e.value.response["Error"]["Message"]

    def accepted(call, **kw):
        return wait_value(lambda: _try(call, **kw), lambda v: v is not None, timeout=10)

    domain_role = _role(iam, "domain-role")
    domain_kw = dict(DomainName="young", AuthMode="IAM", VpcId=vpc, SubnetIds=[subnet],
                     DefaultUserSettings={"ExecutionRole": domain_role})
    refused(sm.create_domain, domain_role, **domain_kw)
    assert sm.list_domains()["Domains"] == []  # nothing made
    domain = accepted(sm.create_domain, **domain_kw)["DomainArn"].split("/")[-1]
    _in_service(sm.describe_domain, DomainId=domain)

    alice_role = _role(iam, "alice-role")
    profile_kw = dict(DomainId=domain, UserProfileName="alice", UserSettings={"ExecutionRole": alice_role})
    refused(sm.create_user_profile, alice_role, **profile_kw)
    accepted(sm.create_user_profile, **profile_kw)
    sm.create_user_profile(DomainId=domain, UserProfileName="bob")  # runs with the domain's role, old enough now
    _in_service(sm.describe_user_profile, DomainId=domain, UserProfileName="bob")
    sm.create_space(DomainId=domain, SpaceName="bob-space", SpaceSettings={"AppType": "JupyterLab", **JUPYTERLAB_IMAGE},
                    OwnershipSettings={"OwnerUserProfileName": "bob"}, SpaceSharingSettings={"SharingType": "Private"})
    _in_service(sm.describe_space, DomainId=domain, SpaceName="bob-space")

    # The app runs with bob's settings, i.e. the domain's default role: a new one is not assumable yet.
    new_default = _role(iam, "new-default")
    sm.update_domain(DomainId=domain, DefaultUserSettings={"ExecutionRole": new_default})
    app = dict(DomainId=domain, SpaceName="bob-space", AppType="JupyterLab", AppName="default")
    refused(sm.create_app, new_default, **app)
    assert sm.list_apps(DomainIdEquals=domain)["Apps"] == []
    accepted(sm.create_app, **app)


def _try(call, **kw):
    try:
        return call(**kw)
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ValidationException", e
        return None


def test_transient_5xx_at_a_forced_rate_are_not_applied_and_spare_the_control_path(make_emulator):
    emu = realistic(make_emulator, error_rate=1.0)
    ec2, sm, s3 = emu.client("ec2"), emu.client("sagemaker"), emu.client("s3")
    for call, codes in ((lambda: ec2.create_vpc(CidrBlock="10.42.0.0/16"), {("InternalError", 500), ("Unavailable", 503)}),
                        (sm.list_domains, {("InternalFailure", 500), ("ServiceUnavailable", 503)}),
                        (s3.list_buckets, {("InternalError", 500), ("ServiceUnavailable", 503)})):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) in codes
    assert ctl(emu, "GET", "/_emulator/health")[0] == 200  # never the control path
    calls = ctl(emu, "GET", "/_emulator/calls")[1]["calls"]
    assert [c["status"] in (500, 503) for c in calls] == [True] * 3
    ctl(emu, "POST", "/_emulator/realistic", {"error_rate": 0})
    assert not [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.42.0.0/16"]  # not applied


def _statuses(emu, n=40):
    sts = emu.client("sts")
    out = []
    for _ in range(n):
        try:
            sts.get_caller_identity()
            out.append(200)
        except ClientError as e:
            out.append(e.response["ResponseMetadata"]["HTTPStatusCode"])
    return out


def _vpc_windows(emu, n=3):
    ec2 = emu.client("ec2")
    ids = [ec2.create_vpc(CidrBlock=f"10.{50 + i}.0.0/16")["Vpc"]["VpcId"] for i in range(n)]
    pending = {p["key"]: p["window_s"] for p in ctl(emu, "GET", "/_emulator/realistic")[1]["pending"]}
    return [pending[i] for i in ids]


def test_the_same_seed_gives_the_same_draws_and_a_reset_replays_them(make_emulator):
    # Scale 100: windows of up to 200 s stay pending while they are read back.
    a = make_emulator(scale=100, realistic=True, seed=42, error_rate=0.5)
    b = make_emulator(scale=100, realistic=True, seed=42, error_rate=0.5)
    c = make_emulator(scale=100, realistic=True, seed=43, error_rate=0.5)
    first = _statuses(a)
    assert set(first) >= {200} and set(first) - {200} <= {500, 503} and len(set(first)) > 1
    assert _statuses(b) == first
    assert _statuses(c) != first
    for emu in (a, b, c):  # 5xx off for what follows (a throttled or failed create would shift the draws)
        ctl(emu, "POST", "/_emulator/realistic", {"error_rate": 0})
    windows = _vpc_windows(a)
    assert all(0 <= w <= 200 for w in windows) and len(set(windows)) == 3
    assert _vpc_windows(b) == windows
    assert _vpc_windows(c) != windows
    ctl(a, "POST", "/_emulator/reset")
    ctl(a, "POST", "/_emulator/realistic", {"error_rate": 0.5})
    assert _statuses(a) == first  # a reset restarts every generator: the run replays


def test_the_seed_is_printed_and_realistic_implies_throttling(make_emulator):
    given = make_emulator(realistic=True, seed=9)
    assert given.ready_line.endswith("(scale 0.0, throttle on, realistic seed 9)"), given.ready_line
    assert ctl(given, "GET", "/_emulator/health")[1] == {"ready": True, "scale": 0.0, "throttle": True,
                                                         "realistic": True, "seed": 9}
    drawn = make_emulator(realistic=True)
    seed = int(re.search(r"realistic seed (\d+)\)$", drawn.ready_line).group(1))
    assert ctl(drawn, "GET", "/_emulator/health")[1]["seed"] == seed
    status = ctl(drawn, "GET", "/_emulator/realistic")[1]
    assert status["error_rate"] == 0.005 and status["ec_window_s"] == [0.0, 2.0] and status["iam_window_s"] == [5.0, 15.0]
    off = make_emulator()
    assert off.ready_line.endswith("(scale 0.0, throttle off, realistic off)"), off.ready_line
    assert ctl(off, "POST", "/_emulator/realistic", {"error_rate": 1})[0] == 400
    assert ctl(drawn, "POST", "/_emulator/realistic", {"ec_window_s": [2, 1]})[0] == 400
    assert ctl(drawn, "POST", "/_emulator/realistic", {"error_rate": 2})[0] == 400


def test_without_realistic_nothing_is_hidden(emulator):
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["VpcId"] == vpc


def _refused_until(call, code, **kw):
    """`call(**kw)` fails with `code` at first, then (its window over) succeeds: the answer."""
    with pytest.raises(ClientError) as e:
        call(**kw)
    assert err(e)[0] == code, e.value

    def attempt():
        try:
            return call(**kw)
        except ClientError as e:
            assert e.response["Error"]["Code"] == code, e
            return None
    return wait_value(attempt, lambda v: v is not None, timeout=10)


def test_a_flow_log_with_a_role_younger_than_its_propagation_window_is_refused(make_emulator):
    emu = realistic(make_emulator, iam=(300, 300))  # every role assumable 3 s after CreateRole
    ec2, iam = emu.client("ec2"), emu.client("iam")
    vpc, _ = _network(ec2)
    role = _role(iam, "flow-logs-role")
    kw = dict(ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL", LogDestinationType="cloud-watch-logs",
              LogGroupName="/flow", DeliverLogsPermissionArn=role)
    with pytest.raises(ClientError) as e:
        ec2.create_flow_logs(**kw)
    assert err(e)[0] == "InvalidParameter"
    assert "Unable to assume given IAM role" in e.value.response["Error"]["Message"]
    assert ec2.describe_flow_logs()["FlowLogs"] == []  # nothing made
    made = _refused_until(ec2.create_flow_logs, "InvalidParameter", **kw)
    assert len(made["FlowLogIds"]) == 1 and made["Unsuccessful"] == []


def test_a_new_buckets_settings_answer_no_such_bucket_and_a_name_just_deleted_operation_aborted(make_emulator):
    emu = realistic(make_emulator, ec=(200, 200))  # 2 s
    s3 = emu.client("s3")
    s3.create_bucket(Bucket="fresh")
    tags = {"TagSet": [{"Key": "k", "Value": "v"}]}
    _refused_until(s3.put_bucket_tagging, "NoSuchBucket", Bucket="fresh", Tagging=tags)
    assert s3.get_bucket_tagging(Bucket="fresh")["TagSet"] == tags["TagSet"]
    s3.put_public_access_block(Bucket="fresh", PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    s3.delete_bucket(Bucket="fresh")
    _refused_until(s3.create_bucket, "OperationAborted", Bucket="fresh")
    # Reads are not delayed; a bucket created before any window is untouched.
    emu.control("POST", "realistic", {"ec_window_s": [0, 0]})
    s3.create_bucket(Bucket="other")
    s3.put_bucket_tagging(Bucket="other", Tagging=tags)


def test_without_realistic_no_propagation_answer(emulator):
    s3, iam, ec2 = emulator.client("s3"), emulator.client("iam"), emulator.client("ec2")
    s3.create_bucket(Bucket="plain-fresh")
    s3.put_bucket_tagging(Bucket="plain-fresh", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.delete_bucket(Bucket="plain-fresh")
    s3.create_bucket(Bucket="plain-fresh")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    role = iam.create_role(RoleName="plain-flow-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ec2.create_flow_logs(ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL",
                         LogDestinationType="cloud-watch-logs", LogGroupName="/plain", DeliverLogsPermissionArn=role)

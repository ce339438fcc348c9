"""Network Firewall: rule groups, policies, firewall lifecycle with real endpoints, refusals, tags."""
import uuid

import pytest
from botocore.exceptions import ClientError
from helpers import err, wait_for

SCALE = 0.004  # firewall: 330 s -> 1.3 s to READY, 450 s -> 1.8 s to gone

RULES = {
    "RuleVariables": {"IPSets": {"HOME_NET": {"Definition": ["10.2.0.0/16"]}}},
    "RulesSource": {"RulesSourceList": {"Targets": [".kaggle.com", ".amazonaws.com"],
                                        "TargetTypes": ["HTTP_HOST", "TLS_SNI"],
                                        "GeneratedRulesType": "ALLOWLIST"}},
}


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def policy_doc(*group_arns):
    return {"StatelessDefaultActions": ["aws:forward_to_sfe"], "StatelessFragmentDefaultActions": ["aws:pass"],
            "StatefulRuleGroupReferences": [{"ResourceArn": a} for a in group_arns]}


def network(ec2, azs=("us-east-1a",)):
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.2.{i + 1}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(azs)]
    return vpc, subnets


def test_rule_group_create_describe_update_list_delete(emulator):
    nfw = emulator.client("network-firewall")
    rg_name = name("domain-allow")
    out = nfw.create_rule_group(RuleGroupName=rg_name, Type="STATEFUL", Capacity=100, RuleGroup=RULES,
                                Tags=[{"Key": "provision:step", "Value": "nfw.rule_group"}])
    resp = out["RuleGroupResponse"]
    assert resp["RuleGroupArn"].endswith(f":stateful-rulegroup/{rg_name}")
    assert resp["RuleGroupName"] == rg_name and resp["RuleGroupId"] and resp["Type"] == "STATEFUL"
    assert resp["Capacity"] == 100 and resp["RuleGroupStatus"] == "ACTIVE"
    assert resp["Tags"] == [{"Key": "provision:step", "Value": "nfw.rule_group"}]
    token = out["UpdateToken"]

    with pytest.raises(ClientError) as e:
        nfw.create_rule_group(RuleGroupName=rg_name, Type="STATEFUL", Capacity=10, RuleGroup=RULES)
    assert err(e) == ("InvalidRequestException", 400)

    by_name = nfw.describe_rule_group(RuleGroupName=rg_name, Type="STATEFUL")
    by_arn = nfw.describe_rule_group(RuleGroupArn=resp["RuleGroupArn"])
    assert by_name["RuleGroup"] == RULES and by_arn["RuleGroupResponse"]["RuleGroupId"] == resp["RuleGroupId"]
    assert by_name["UpdateToken"] == token

    new_rules = dict(RULES, RulesSource={"RulesString": "pass tcp any any -> any 443 (sid:1;)"})
    updated = nfw.update_rule_group(RuleGroupArn=resp["RuleGroupArn"], UpdateToken=token, RuleGroup=new_rules)
    assert updated["UpdateToken"] != token
    assert nfw.describe_rule_group(RuleGroupArn=resp["RuleGroupArn"])["RuleGroup"] == new_rules
    with pytest.raises(ClientError) as e:  # the old token is stale now
        nfw.update_rule_group(RuleGroupArn=resp["RuleGroupArn"], UpdateToken=token, RuleGroup=RULES)
    assert err(e) == ("InvalidTokenException", 400)

    listed = nfw.list_rule_groups()["RuleGroups"]
    assert {"Name": rg_name, "Arn": resp["RuleGroupArn"]} in listed
    assert all(g["Name"] != rg_name for g in nfw.list_rule_groups(Type="STATELESS")["RuleGroups"])

    deleted = nfw.delete_rule_group(RuleGroupName=rg_name, Type="STATEFUL")["RuleGroupResponse"]
    assert deleted["RuleGroupStatus"] == "DELETING"
    with pytest.raises(ClientError) as e:
        nfw.describe_rule_group(RuleGroupArn=resp["RuleGroupArn"])
    assert err(e) == ("ResourceNotFoundException", 400)


def test_rule_group_names_are_unique_per_type_and_rules_string_is_kept(emulator):
    nfw = emulator.client("network-firewall")
    n = name("rg")
    nfw.create_rule_group(RuleGroupName=n, Type="STATEFUL", Capacity=10, Rules="pass tcp any any -> any any (sid:1;)")
    nfw.create_rule_group(RuleGroupName=n, Type="STATELESS", Capacity=10, RuleGroup=RULES)
    got = nfw.describe_rule_group(RuleGroupName=n, Type="STATEFUL")["RuleGroup"]
    assert got == {"RulesSource": {"RulesString": "pass tcp any any -> any any (sid:1;)"}}
    with pytest.raises(ClientError) as e:  # ambiguous without Type
        nfw.describe_rule_group(RuleGroupName=n)
    assert err(e) == ("InvalidRequestException", 400)


def test_policy_crud_and_reference_refusals(emulator):
    nfw = emulator.client("network-firewall")
    rg = nfw.create_rule_group(RuleGroupName=name("rg"), Type="STATEFUL", Capacity=100,
                               RuleGroup=RULES)["RuleGroupResponse"]
    pname = name("policy")
    out = nfw.create_firewall_policy(FirewallPolicyName=pname, FirewallPolicy=policy_doc(rg["RuleGroupArn"]),
                                     Tags=[{"Key": "Name", "Value": pname}])
    resp = out["FirewallPolicyResponse"]
    assert resp["FirewallPolicyArn"].endswith(f":firewall-policy/{pname}") and resp["FirewallPolicyId"]
    assert resp["FirewallPolicyStatus"] == "ACTIVE" and resp["ConsumedStatefulRuleCapacity"] == 100
    with pytest.raises(ClientError) as e:
        nfw.create_firewall_policy(FirewallPolicyName=pname, FirewallPolicy=policy_doc())
    assert err(e) == ("InvalidRequestException", 400)

    described = nfw.describe_firewall_policy(FirewallPolicyName=pname)
    assert described["FirewallPolicy"]["StatefulRuleGroupReferences"] == [{"ResourceArn": rg["RuleGroupArn"]}]
    assert nfw.describe_rule_group(RuleGroupArn=rg["RuleGroupArn"])["RuleGroupResponse"]["NumberOfAssociations"] == 1

    with pytest.raises(ClientError) as e:  # referenced by the policy
        nfw.delete_rule_group(RuleGroupArn=rg["RuleGroupArn"])
    assert err(e) == ("InvalidOperationException", 400)

    with pytest.raises(ClientError) as e:
        nfw.update_firewall_policy(FirewallPolicyArn=resp["FirewallPolicyArn"], UpdateToken="stale",
                                   FirewallPolicy=policy_doc())
    assert err(e) == ("InvalidTokenException", 400)
    upd = nfw.update_firewall_policy(FirewallPolicyArn=resp["FirewallPolicyArn"], UpdateToken=described["UpdateToken"],
                                     FirewallPolicy=policy_doc())
    assert upd["UpdateToken"] != described["UpdateToken"]
    assert {"Name": pname, "Arn": resp["FirewallPolicyArn"]} in nfw.list_firewall_policies()["FirewallPolicies"]

    nfw.delete_rule_group(RuleGroupArn=rg["RuleGroupArn"])  # no longer referenced
    assert nfw.delete_firewall_policy(FirewallPolicyName=pname)["FirewallPolicyResponse"]["FirewallPolicyStatus"] == "DELETING"
    with pytest.raises(ClientError) as e:
        nfw.describe_firewall_policy(FirewallPolicyArn=resp["FirewallPolicyArn"])
    assert err(e) == ("ResourceNotFoundException", 400)


def test_tags_on_all_three_kinds(emulator):
    nfw, ec2 = emulator.client("network-firewall"), emulator.client("ec2")
    vpc, (subnet,) = network(ec2)
    rg = nfw.create_rule_group(RuleGroupName=name("rg"), Type="STATEFUL", Capacity=1, RuleGroup=RULES)
    pol = nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=policy_doc())
    fw = nfw.create_firewall(FirewallName=name("fw"), FirewallPolicyArn=pol["FirewallPolicyResponse"]["FirewallPolicyArn"],
                             VpcId=vpc, SubnetMappings=[{"SubnetId": subnet}])
    for arn in (rg["RuleGroupResponse"]["RuleGroupArn"], pol["FirewallPolicyResponse"]["FirewallPolicyArn"],
                fw["Firewall"]["FirewallArn"]):
        nfw.tag_resource(ResourceArn=arn, Tags=[{"Key": "provision:stack", "Value": "s1"}, {"Key": "x", "Value": "y"}])
        nfw.untag_resource(ResourceArn=arn, TagKeys=["x"])
        assert nfw.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "provision:stack", "Value": "s1"}]
    assert nfw.describe_firewall(FirewallArn=fw["Firewall"]["FirewallArn"])["Firewall"]["Tags"] == [
        {"Key": "provision:stack", "Value": "s1"}]
    with pytest.raises(ClientError) as e:
        nfw.list_tags_for_resource(ResourceArn="arn:aws:network-firewall:us-east-1:123456789012:firewall/nope")
    assert err(e) == ("ResourceNotFoundException", 400)


def test_create_firewall_validates_names_policy_and_subnets(emulator):
    nfw, ec2 = emulator.client("network-firewall"), emulator.client("ec2")
    vpc, subnets = network(ec2, azs=("us-east-1a", "us-east-1a"))
    pol_arn = nfw.create_firewall_policy(FirewallPolicyName=name("p"),
                                         FirewallPolicy=policy_doc())["FirewallPolicyResponse"]["FirewallPolicyArn"]
    with pytest.raises(ClientError) as e:  # two mappings in one AZ
        nfw.create_firewall(FirewallName=name("fw"), FirewallPolicyArn=pol_arn, VpcId=vpc,
                            SubnetMappings=[{"SubnetId": s} for s in subnets])
    assert err(e) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as e:
        nfw.create_firewall(FirewallName=name("fw"), FirewallPolicyArn=pol_arn + "x", VpcId=vpc,
                            SubnetMappings=[{"SubnetId": subnets[0]}])
    assert err(e) == ("ResourceNotFoundException", 400)
    fw_name = name("fw")
    nfw.create_firewall(FirewallName=fw_name, FirewallPolicyArn=pol_arn, VpcId=vpc, SubnetMappings=[{"SubnetId": subnets[0]}])
    with pytest.raises(ClientError) as e:
        nfw.create_firewall(FirewallName=fw_name, FirewallPolicyArn=pol_arn, VpcId=vpc,
                            SubnetMappings=[{"SubnetId": subnets[1]}])
    assert err(e) == ("InvalidRequestException", 400)


def test_firewall_lifecycle_endpoints_and_deletion(make_emulator):
    emu = make_emulator(scale=SCALE)
    nfw, ec2 = emu.client("network-firewall"), emu.client("ec2")
    vpc, (sub_a, sub_b) = network(ec2, azs=("us-east-1a", "us-east-1b"))
    rg = nfw.create_rule_group(RuleGroupName="rg", Type="STATEFUL", Capacity=100, RuleGroup=RULES)["RuleGroupResponse"]
    pol = nfw.create_firewall_policy(FirewallPolicyName="pol", FirewallPolicy=policy_doc(rg["RuleGroupArn"]))
    pol_arn = pol["FirewallPolicyResponse"]["FirewallPolicyArn"]
    created = nfw.create_firewall(FirewallName="fw", FirewallPolicyArn=pol_arn, VpcId=vpc,
                                  SubnetMappings=[{"SubnetId": sub_a}, {"SubnetId": sub_b}],
                                  Tags=[{"Key": "Name", "Value": "fw"}])
    fw = created["Firewall"]
    assert fw["FirewallId"] and fw["DeleteProtection"] is True  # AWS initialises the flag to TRUE
    assert fw["SubnetMappings"] == [{"SubnetId": sub_a, "IPAddressType": "IPV4"}, {"SubnetId": sub_b, "IPAddressType": "IPV4"}]
    status = created["FirewallStatus"]
    assert status["Status"] == "PROVISIONING" and status["ConfigurationSyncStateSummary"] == "PENDING"
    assert set(status["SyncStates"]) == {"us-east-1a", "us-east-1b"}
    att = status["SyncStates"]["us-east-1a"]["Attachment"]
    assert att["SubnetId"] == sub_a and att["Status"] == "CREATING"

    # The endpoint is a real GatewayLoadBalancer VPC endpoint with an ENI in the subnet.
    ep = ec2.describe_vpc_endpoints(VpcEndpointIds=[att["EndpointId"]])["VpcEndpoints"][0]
    assert ep["VpcEndpointType"] == "GatewayLoadBalancer" and ep["SubnetIds"] == [sub_a] and ep["State"] == "pending"
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [sub_a]}])["NetworkInterfaces"]
    assert [e["NetworkInterfaceId"] for e in enis] == ep["NetworkInterfaceIds"]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="10.2.2.0/24", VpcEndpointId=att["EndpointId"])
    with pytest.raises(ClientError) as e:
        ec2.delete_subnet(SubnetId=sub_a)
    assert err(e) == ("DependencyViolation", 400)

    assert wait_for(lambda: nfw.describe_firewall(FirewallName="fw")["FirewallStatus"]["Status"] == "READY")
    ready = nfw.describe_firewall(FirewallArn=fw["FirewallArn"])["FirewallStatus"]
    assert ready["ConfigurationSyncStateSummary"] == "IN_SYNC"
    assert {s["Attachment"]["Status"] for s in ready["SyncStates"].values()} == {"READY"}
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[att["EndpointId"]])["VpcEndpoints"][0]["State"] == "available"

    with pytest.raises(ClientError) as e:  # delete protection honoured
        nfw.delete_firewall(FirewallName="fw")
    assert err(e) == ("InvalidOperationException", 400)
    token = nfw.describe_firewall(FirewallName="fw")["UpdateToken"]
    nfw.update_firewall_delete_protection(FirewallName="fw", DeleteProtection=False, UpdateToken=token)

    deleting = nfw.delete_firewall(FirewallName="fw")["FirewallStatus"]
    assert deleting["Status"] == "DELETING"
    assert nfw.describe_firewall(FirewallName="fw")["FirewallStatus"]["Status"] == "DELETING"
    with pytest.raises(ClientError) as e:  # the policy is still used by the deleting firewall
        nfw.delete_firewall_policy(FirewallPolicyArn=pol_arn)
    assert err(e) == ("InvalidOperationException", 400)

    def gone():
        try:
            nfw.describe_firewall(FirewallName="fw")
            return False
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "ResourceNotFoundException"

    assert wait_for(gone)
    assert [f for f in nfw.list_firewalls()["Firewalls"] if f["FirewallName"] == "fw"] == []
    eps = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    assert [(e["State"], e["NetworkInterfaceIds"]) for e in eps] == [("deleted", [])] * 2  # listed as deleted, as in AWS
    ec2.delete_subnet(SubnetId=sub_a)  # its endpoint ENI is gone
    nfw.delete_firewall_policy(FirewallPolicyArn=pol_arn)


def strict(rules):
    return dict(rules, StatefulRuleOptions={"RuleOrder": "STRICT_ORDER"})


def test_policy_rule_order_must_match_its_rule_groups(emulator):
    # Developer guide: "The settings for your rule groups must match the settings for the firewall policy".
    nfw = emulator.client("network-firewall")
    default_rg = nfw.create_rule_group(RuleGroupName=name("rg"), Type="STATEFUL", Capacity=10,
                                       RuleGroup=RULES)["RuleGroupResponse"]["RuleGroupArn"]
    explicit_rg = nfw.create_rule_group(
        RuleGroupName=name("rg"), Type="STATEFUL", Capacity=10,
        RuleGroup=dict(RULES, StatefulRuleOptions={"RuleOrder": "DEFAULT_ACTION_ORDER"}))["RuleGroupResponse"]["RuleGroupArn"]
    strict_rg = nfw.create_rule_group(RuleGroupName=name("rg"), Type="STATEFUL", Capacity=10,
                                      RuleGroup=strict(RULES))["RuleGroupResponse"]["RuleGroupArn"]
    strict_engine = {"RuleOrder": "STRICT_ORDER"}

    def strict_doc(*arns):
        return dict(policy_doc(), StatefulEngineOptions=strict_engine,
                    StatefulRuleGroupReferences=[{"ResourceArn": a, "Priority": 100 * (i + 1)} for i, a in enumerate(arns)])

    for doc in (strict_doc(default_rg),  # a group without StatefulRuleOptions is DEFAULT_ACTION_ORDER
                strict_doc(strict_rg, explicit_rg),
                policy_doc(strict_rg),  # the converse: a policy without engine options is DEFAULT_ACTION_ORDER
                dict(policy_doc(strict_rg), StatefulEngineOptions={"RuleOrder": "DEFAULT_ACTION_ORDER"})):
        with pytest.raises(ClientError) as e:
            nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=doc)
        assert err(e) == ("InvalidRequestException", 400), doc
    nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=policy_doc(default_rg, explicit_rg))
    pol = nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=strict_doc(strict_rg))
    arn, token = pol["FirewallPolicyResponse"]["FirewallPolicyArn"], pol["UpdateToken"]
    with pytest.raises(ClientError) as e:  # UpdateFirewallPolicy is checked the same way
        nfw.update_firewall_policy(FirewallPolicyArn=arn, UpdateToken=token, FirewallPolicy=strict_doc(strict_rg, default_rg))
    assert err(e) == ("InvalidRequestException", 400)
    got = nfw.describe_firewall_policy(FirewallPolicyArn=arn)
    assert got["UpdateToken"] == token, "a refused update keeps the token"
    assert got["FirewallPolicy"] == strict_doc(strict_rg), "and the policy"


def test_priority_only_under_strict_order_and_then_on_every_reference(emulator):
    nfw = emulator.client("network-firewall")
    rg = nfw.create_rule_group(RuleGroupName=name("rg"), Type="STATEFUL", Capacity=10,
                               RuleGroup=RULES)["RuleGroupResponse"]["RuleGroupArn"]
    with pytest.raises(ClientError) as e:  # StatefulRuleGroupReference.Priority: only for STRICT_ORDER
        nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=dict(
            policy_doc(), StatefulRuleGroupReferences=[{"ResourceArn": rg, "Priority": 1}]))
    assert err(e) == ("InvalidRequestException", 400)
    assert e.value.response["Error"]["Message"] == (
        "Priority cannot be provided, parameter: [1], context: StatefulRuleGroupReferences[0][Priority=1]")

    s1 = nfw.create_rule_group(RuleGroupName=name("rg"), Type="STATEFUL", Capacity=10,
                               RuleGroup=strict(RULES))["RuleGroupResponse"]["RuleGroupArn"]
    s2 = nfw.create_rule_group(RuleGroupName=name("rg"), Type="STATEFUL", Capacity=10,
                               RuleGroup=strict(RULES))["RuleGroupResponse"]["RuleGroupArn"]
    engine = {"StatefulEngineOptions": {"RuleOrder": "STRICT_ORDER"}}
    for refs in ([{"ResourceArn": s1}],  # no Priority under STRICT_ORDER
                 [{"ResourceArn": s1, "Priority": 10}, {"ResourceArn": s2}],
                 [{"ResourceArn": s1, "Priority": 10}, {"ResourceArn": s2, "Priority": 10}]):  # not unique
        with pytest.raises(ClientError) as e:
            nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=dict(
                policy_doc(), StatefulRuleGroupReferences=refs, **engine))
        assert err(e) == ("InvalidRequestException", 400), refs
    with pytest.raises(ClientError) as e:  # StatefulDefaultActions: "only valid when using the strict rule order"
        nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=dict(
            policy_doc(rg), StatefulDefaultActions=["aws:drop_established"]))
    assert err(e) == ("InvalidRequestException", 400)

    doc = dict(policy_doc(), StatefulDefaultActions=["aws:drop_established"],
               StatefulRuleGroupReferences=[{"ResourceArn": s1, "Priority": 20}, {"ResourceArn": s2, "Priority": 10}],
               **engine)
    arn = nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=doc)["FirewallPolicyResponse"][
        "FirewallPolicyArn"]
    assert nfw.describe_firewall_policy(FirewallPolicyArn=arn)["FirewallPolicy"] == doc


def test_rule_order_does_not_change_in_an_update(emulator):
    # terraform-provider-aws replaces a policy or rule group whose rule order changes; AWS refuses the
    # update ("parameter is invalid, parameter: [STRICT_ORDER]").
    nfw = emulator.client("network-firewall")
    out = nfw.create_rule_group(RuleGroupName=name("rg"), Type="STATEFUL", Capacity=10, RuleGroup=RULES)
    arn, token = out["RuleGroupResponse"]["RuleGroupArn"], out["UpdateToken"]
    with pytest.raises(ClientError) as e:
        nfw.update_rule_group(RuleGroupArn=arn, UpdateToken=token, RuleGroup=strict(RULES))
    assert err(e) == ("InvalidRequestException", 400)
    assert e.value.response["Error"]["Message"] == "parameter is invalid, parameter: [STRICT_ORDER]"
    explicit = dict(RULES, StatefulRuleOptions={"RuleOrder": "DEFAULT_ACTION_ORDER"})
    token = nfw.update_rule_group(RuleGroupArn=arn, UpdateToken=token, RuleGroup=explicit)["UpdateToken"]  # same order

    s_out = nfw.create_rule_group(RuleGroupName=name("rg"), Type="STATEFUL", Capacity=10, RuleGroup=strict(RULES))
    with pytest.raises(ClientError) as e:  # Rules carries no StatefulRuleOptions: DEFAULT_ACTION_ORDER (aws/aws-cli#7301)
        nfw.update_rule_group(RuleGroupArn=s_out["RuleGroupResponse"]["RuleGroupArn"], UpdateToken=s_out["UpdateToken"],
                              Rules="pass tcp any any -> any any (sid:1;)")
    assert err(e) == ("InvalidRequestException", 400)

    pol = nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=policy_doc(arn))
    with pytest.raises(ClientError) as e:
        nfw.update_firewall_policy(
            FirewallPolicyArn=pol["FirewallPolicyResponse"]["FirewallPolicyArn"], UpdateToken=pol["UpdateToken"],
            FirewallPolicy=dict(policy_doc(), StatefulEngineOptions={"RuleOrder": "STRICT_ORDER"}))
    assert err(e) == ("InvalidRequestException", 400)


def test_default_action_values_are_checked(emulator):
    # botocore FirewallPolicy: stateless defaults one of aws:pass/aws:drop/aws:forward_to_sfe; stateful
    # defaults from aws:drop_strict, aws:drop_established, aws:alert_strict, aws:alert_established, one drop.
    nfw = emulator.client("network-firewall")
    engine = {"StatefulEngineOptions": {"RuleOrder": "STRICT_ORDER"}}
    for doc in (dict(policy_doc(), StatelessFragmentDefaultActions=["aws:forward"]),
                dict(policy_doc(), StatelessDefaultActions=["aws:pass", "aws:drop"]),
                dict(policy_doc(), StatefulDefaultActions=["aws:drop_established", "aws:drop_strict"], **engine),
                dict(policy_doc(), StatefulDefaultActions=["aws:deny"], **engine)):
        with pytest.raises(ClientError) as e:
            nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=doc)
        assert err(e) == ("InvalidRequestException", 400), doc
    doc = dict(policy_doc(), StatelessFragmentDefaultActions=["aws:forward_to_sfe"],
               StatefulDefaultActions=["aws:drop_established", "aws:alert_established"], **engine)
    arn = nfw.create_firewall_policy(FirewallPolicyName=name("p"), FirewallPolicy=doc)["FirewallPolicyResponse"][
        "FirewallPolicyArn"]
    assert nfw.describe_firewall_policy(FirewallPolicyArn=arn)["FirewallPolicy"] == doc


def test_associate_firewall_policy_frees_the_old_policy(make_emulator):
    # API reference, AssociateFirewallPolicy; a policy in use cannot be deleted, one no longer used can.
    emulator = make_emulator(scale=SCALE)
    nfw, ec2 = emulator.client("network-firewall"), emulator.client("ec2")
    vpc, subnets = network(ec2)
    old = nfw.create_firewall_policy(FirewallPolicyName=name("p"),
                                     FirewallPolicy=policy_doc())["FirewallPolicyResponse"]["FirewallPolicyArn"]
    new = nfw.create_firewall_policy(FirewallPolicyName=name("p"),
                                     FirewallPolicy=policy_doc())["FirewallPolicyResponse"]["FirewallPolicyArn"]
    fw_name = name("fw")
    fw = nfw.create_firewall(FirewallName=fw_name, FirewallPolicyArn=old, VpcId=vpc,
                             SubnetMappings=[{"SubnetId": subnets[0]}], FirewallPolicyChangeProtection=True,
                             DeleteProtection=False)
    arn = fw["Firewall"]["FirewallArn"]
    token = nfw.describe_firewall(FirewallArn=arn)["UpdateToken"]
    with pytest.raises(ClientError) as e:  # under FirewallPolicyChangeProtection
        nfw.associate_firewall_policy(FirewallArn=arn, FirewallPolicyArn=new, UpdateToken=token)
    assert err(e) == ("InvalidOperationException", 400)
    assert nfw.describe_firewall(FirewallArn=arn)["Firewall"]["FirewallPolicyArn"] == old
    fw2 = nfw.create_firewall(FirewallName=name("fw"), FirewallPolicyArn=old, VpcId=vpc,
                              SubnetMappings=[{"SubnetId": subnets[0]}], FirewallPolicyChangeProtection=False)
    arn2 = fw2["Firewall"]["FirewallArn"]
    token2 = nfw.describe_firewall(FirewallArn=arn2)["UpdateToken"]
    with pytest.raises(ClientError) as e:  # a stale token
        nfw.associate_firewall_policy(FirewallArn=arn2, FirewallPolicyArn=new, UpdateToken=token2 + "x")
    assert err(e) == ("InvalidTokenException", 400)
    with pytest.raises(ClientError) as e:  # a policy that does not exist
        nfw.associate_firewall_policy(FirewallArn=arn2, FirewallPolicyArn=new + "x", UpdateToken=token2)
    assert err(e) == ("ResourceNotFoundException", 400)
    out = nfw.associate_firewall_policy(FirewallArn=arn2, FirewallPolicyArn=new, UpdateToken=token2)
    assert out["FirewallPolicyArn"] == new and out["UpdateToken"] != token2
    assert nfw.describe_firewall(FirewallArn=arn2)["Firewall"]["FirewallPolicyArn"] == new
    with pytest.raises(ClientError) as e:  # still used by the first firewall
        nfw.delete_firewall_policy(FirewallPolicyArn=old)
    assert err(e) == ("InvalidOperationException", 400)
    nfw.delete_firewall(FirewallArn=arn)
    assert wait_for(lambda: not [f for f in nfw.list_firewalls()["Firewalls"] if f["FirewallArn"] == arn], timeout=30)
    nfw.delete_firewall_policy(FirewallPolicyArn=old)  # used by no firewall now

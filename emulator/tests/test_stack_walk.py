"""The whole stack provision builds, walked with boto3: up in dependency order, then down
in the teardown order, with AWS's refusals on the way and nothing left at the end.

boto3 raises ClientError on any error answer, so every call below that is not inside
``pytest.raises`` is asserted to succeed. A private emulator at a small scale gives every
lifecycle (NAT, endpoints, firewall, domain, profile, app, mount targets, EFS) a real wait.
"""
import json
import time

import pytest
from botocore.exceptions import ClientError
from helpers import DISTRIBUTION_IMAGE

SCALE = 0.002  # firewall 330 s -> 0.66 s up, 450 s -> 0.9 s down; domain 120 s -> 0.24 s
PROJECT = "sagemaker-studio-anfw"
REGION = "us-east-1"
AZ = f"{REGION}a"
VPC_CIDR, FW_CIDR, NAT_CIDR, SM_CIDR = "10.2.0.0/16", "10.2.1.0/24", "10.2.2.0/24", "10.2.3.0/24"
INTERFACE_SERVICES = [
    f"com.amazonaws.{REGION}.sagemaker.api", f"com.amazonaws.{REGION}.sagemaker.runtime",
    f"aws.sagemaker.{REGION}.notebook", f"com.amazonaws.{REGION}.sts", f"com.amazonaws.{REGION}.ssm",
    f"com.amazonaws.{REGION}.monitoring", f"com.amazonaws.{REGION}.logs", f"com.amazonaws.{REGION}.ecr.dkr",
    f"com.amazonaws.{REGION}.ecr.api", f"com.amazonaws.{REGION}.servicecatalog",
]
NO_POLICY = {f"com.amazonaws.{REGION}.ssm", f"com.amazonaws.{REGION}.servicecatalog"}
ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})


# --- small helpers ------------------------------------------------------------------------

def wait_until(probe, what, timeout=20.0, step=0.02):
    """Poll `probe()` until it returns something truthy; return that."""
    deadline = time.time() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(step)


def gone(call, code, **kw):
    """A probe: True once `call(**kw)` fails with error `code`."""
    def probe():
        try:
            call(**kw)
        except ClientError as e:
            assert e.response["Error"]["Code"] == code, e
            return True
        return False
    return probe


def refused(code, call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    assert e.value.response["Error"]["Code"] == code, e.value.response["Error"]


def tags(resource_type, step, name=None):
    t = [{"Key": "provision:stack", "Value": PROJECT}, {"Key": "provision:step", "Value": step}]
    if name:
        t.insert(0, {"Key": "Name", "Value": name})
    return [{"ResourceType": resource_type, "Tags": t}]


def statement(effect, actions, resources, **extra):
    return dict({"Effect": effect, "Action": actions, "Resource": resources}, **extra)


# --- the walk -----------------------------------------------------------------------------

def test_walk_the_whole_stack_up_and_down(make_emulator):
    emu = make_emulator(scale=SCALE)
    ec2, nfw, efs = emu.client("ec2"), emu.client("network-firewall"), emu.client("efs")
    kms, s3, iam, sm = emu.client("kms"), emu.client("s3"), emu.client("iam"), emu.client("sagemaker")
    account = emu.client("sts").get_caller_identity()["Account"]

    # ---------------------------------------------------------------- up: network
    vpc = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=tags("vpc", "vpc", f"{PROJECT}-vpc"))["Vpc"]["VpcId"]
    for attr in ("EnableDnsSupport", "EnableDnsHostnames"):  # AWS takes one attribute per call
        ec2.modify_vpc_attribute(VpcId=vpc, **{attr: {"Value": True}})
        key = attr[0].lower() + attr[1:]
        assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute=key)[attr]["Value"] is True

    subnet = {}
    for role, cidr, name in (("firewall", FW_CIDR, f"sn-{PROJECT}-firewall"),
                             ("nat", NAT_CIDR, f"sn-{PROJECT}-nat-gateway"),
                             ("sagemaker", SM_CIDR, f"sn-{PROJECT}-sagemaker-studio")):
        subnet[role] = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=AZ,
                                         TagSpecifications=tags("subnet", f"subnet.{role}", name))["Subnet"]["SubnetId"]

    sg_sm = ec2.create_security_group(
        GroupName=f"sg-sagemaker-{PROJECT}", VpcId=vpc,
        Description="security group for SageMaker notebook instance, training jobs and hosting endpoint",
        TagSpecifications=tags("security-group", "sg.sagemaker", f"sg-sagemaker-{PROJECT}"))["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg_sm, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg_sm}]}])
    sg_vpce = ec2.create_security_group(
        GroupName=f"sg-vpce-{PROJECT}", VpcId=vpc, Description="Allow TLS for VPC Endpoint",
        TagSpecifications=tags("security-group", "sg.vpce", f"sg-vpce-{PROJECT}"))["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg_vpce, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": sg_sm}]},
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": VPC_CIDR}]}])
    rules = ec2.describe_security_groups(GroupIds=[sg_vpce])["SecurityGroups"][0]["IpPermissions"]
    assert len(rules) == 2

    alloc = ec2.allocate_address(Domain="vpc", TagSpecifications=tags("elastic-ip", "eip"))["AllocationId"]
    igw = ec2.create_internet_gateway(TagSpecifications=tags("internet-gateway", "igw", f"igw-{PROJECT}"))[
        "InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)

    nat = ec2.create_nat_gateway(SubnetId=subnet["nat"], AllocationId=alloc, ConnectivityType="public",
                                 TagSpecifications=tags("natgateway", "nat", f"nat-gateway-{PROJECT}"))[
        "NatGateway"]["NatGatewayId"]

    def nat_state():
        return ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"]

    wait_until(lambda: nat_state() == "available", "NAT gateway available")

    nfw_tags = [{"Key": "provision:stack", "Value": PROJECT}]
    rule_group = nfw.create_rule_group(
        RuleGroupName=f"domain-allow-{PROJECT}", Type="STATEFUL", Capacity=100, Tags=nfw_tags,
        RuleGroup={"RuleVariables": {"IPSets": {"HOME_NET": {"Definition": [VPC_CIDR]}}},
                   "RulesSource": {"RulesSourceList": {"Targets": [".kaggle.com", ".amazonaws.com"],
                                                       "TargetTypes": ["HTTP_HOST", "TLS_SNI"],
                                                       "GeneratedRulesType": "ALLOWLIST"}}},
    )["RuleGroupResponse"]["RuleGroupArn"]
    fw_policy = nfw.create_firewall_policy(
        FirewallPolicyName=f"network-firewall-policy-{PROJECT}", Tags=nfw_tags,
        FirewallPolicy={"StatelessDefaultActions": ["aws:forward_to_sfe"],
                        "StatelessFragmentDefaultActions": ["aws:pass"],
                        "StatefulRuleGroupReferences": [{"ResourceArn": rule_group}]},
    )["FirewallPolicyResponse"]["FirewallPolicyArn"]
    fw_name = f"network-firewall-{PROJECT}"
    nfw.create_firewall(FirewallName=fw_name, FirewallPolicyArn=fw_policy, VpcId=vpc,
                        SubnetMappings=[{"SubnetId": subnet["firewall"]}], DeleteProtection=False,
                        SubnetChangeProtection=False, FirewallPolicyChangeProtection=False, Tags=nfw_tags)

    def firewall_endpoint():
        status = nfw.describe_firewall(FirewallName=fw_name)["FirewallStatus"]
        attachment = status.get("SyncStates", {}).get(AZ, {}).get("Attachment", {})
        ready = status["Status"] == "READY" and attachment.get("Status") == "READY"
        return ready and attachment["EndpointId"]

    assert nfw.describe_firewall(FirewallName=fw_name)["FirewallStatus"]["Status"] == "PROVISIONING"
    fw_endpoint = wait_until(firewall_endpoint, "firewall READY with its endpoint in the AZ")
    assert fw_endpoint.startswith("vpce-")
    refused("InvalidOperationException", nfw.delete_firewall_policy, FirewallPolicyArn=fw_policy)
    refused("InvalidOperationException", nfw.delete_rule_group, RuleGroupArn=rule_group)

    rtb, assoc = {}, {}
    for role in ("igw", "firewall", "nat", "sagemaker"):
        name = f"rtb-{PROJECT}-nat-gateway" if role == "nat" else f"rtb-{PROJECT}-{role}"
        rtb[role] = ec2.create_route_table(VpcId=vpc, TagSpecifications=tags("route-table", f"rtb.{role}", name))[
            "RouteTable"]["RouteTableId"]
    assoc["igw"] = ec2.associate_route_table(RouteTableId=rtb["igw"], GatewayId=igw)["AssociationId"]
    for role in ("firewall", "nat", "sagemaker"):
        assoc[role] = ec2.associate_route_table(RouteTableId=rtb[role], SubnetId=subnet[role])["AssociationId"]
    routes = [(rtb["igw"], NAT_CIDR, {"VpcEndpointId": fw_endpoint}),
              (rtb["firewall"], "0.0.0.0/0", {"GatewayId": igw}),
              (rtb["nat"], "0.0.0.0/0", {"VpcEndpointId": fw_endpoint}),
              (rtb["sagemaker"], "0.0.0.0/0", {"NatGatewayId": nat})]
    for table, dest, target in routes:
        assert ec2.create_route(RouteTableId=table, DestinationCidrBlock=dest, **target)["Return"] is True
    edge = ec2.describe_route_tables(RouteTableIds=[rtb["igw"]])["RouteTables"][0]
    assert [a.get("GatewayId") for a in edge["Associations"]] == [igw]
    # DescribeRouteTables has no VpcEndpointId: a route to a GWLB endpoint shows it as GatewayId, as in AWS
    assert [r.get("GatewayId") for r in edge["Routes"] if r.get("DestinationCidrBlock") == NAT_CIDR] == [fw_endpoint]

    buckets = [f"{PROJECT}-{account}-{REGION}-{kind}" for kind in ("data", "models")]
    bucket_arns = [f"arn:aws:s3:::{b}{suffix}" for b in buckets for suffix in ("", "/*")]
    vpce_s3 = ec2.create_vpc_endpoint(
        VpcEndpointType="Gateway", VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", RouteTableIds=[rtb["sagemaker"]],
        TagSpecifications=tags("vpc-endpoint", "vpce.s3"),
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement(
            "Allow", ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"], bucket_arns,
            Principal="*")]}),
    )["VpcEndpoint"]["VpcEndpointId"]
    interface = []
    for service in INTERFACE_SERVICES:
        kw = {} if service in NO_POLICY else {"PolicyDocument": ALLOW_ALL}
        interface.append(ec2.create_vpc_endpoint(
            VpcEndpointType="Interface", VpcId=vpc, ServiceName=service, SubnetIds=[subnet["sagemaker"]],
            SecurityGroupIds=[sg_vpce], PrivateDnsEnabled=True,
            TagSpecifications=tags("vpc-endpoint", "vpce." + service.split(f"{REGION}.")[-1]), **kw,
        )["VpcEndpoint"]["VpcEndpointId"])
    endpoints = [vpce_s3] + interface

    def endpoint_states():
        return {e["VpcEndpointId"]: e["State"] for e in ec2.describe_vpc_endpoints(VpcEndpointIds=endpoints)["VpcEndpoints"]}

    wait_until(lambda: set(endpoint_states().values()) == {"available"}, "11 endpoints available")

    # ---------------------------------------------------------------- up: data and keys
    root = f"arn:aws:iam::{account}:root"
    key_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        statement("Allow", "kms:*", "*", Sid="root", Principal={"AWS": root})]})
    key_s3 = kms.create_key(Description="KMS key for S3 buckets", Policy=key_policy,
                            Tags=[{"TagKey": "Name", "TagValue": PROJECT}])["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=f"alias/kms-cmk-{PROJECT}", TargetKeyId=key_s3)
    key_ebs = kms.create_key(Description="Generated KMS Key for sagemaker Notebook's EBS encryption",
                             Policy=key_policy)["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key_ebs)
    assert kms.get_key_rotation_status(KeyId=key_ebs)["KeyRotationEnabled"] is True
    kms.create_alias(AliasName=f"alias/sagemaker-anfw-kms-{PROJECT}", TargetKeyId=key_ebs)
    aliases = {f"alias/kms-cmk-{PROJECT}", f"alias/sagemaker-anfw-kms-{PROJECT}"}

    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")})
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_s3}}]})
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement(
            "Deny", ["s3:GetObject", "s3:PutObject", "s3:ListBucket"], [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            Principal="*", Condition={"StringNotEquals": {"aws:sourceVpce": vpce_s3}})]}))
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key_s3
        with pytest.raises(ClientError) as e:  # we are not calling through vpce.s3
            s3.put_object(Bucket=bucket, Key="outside.txt", Body=b"x")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert e.value.response["Error"]["Code"] == "AccessDenied"

    # ---------------------------------------------------------------- up: identity
    policy_arn = iam.create_policy(
        PolicyName=f"{PROJECT}-{REGION}-sagemaker-policy",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            statement("Allow", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                      f"arn:aws:logs:{REGION}:{account}:log-group:/aws/sagemaker/*"),
            statement("Allow", ["cloudwatch:PutMetricData"], "*"),
            statement("Allow", ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt",
                                "kms:GenerateDataKey", "kms:ListAliases"], "*"),
            statement("Allow", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"], bucket_arns),
            statement("Allow", ["iam:PassRole"], "*",
                      Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
            statement("Deny", ["sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "sagemaker:CreateModel",
                               "sagemaker:CreateHyperParameterTuningJob"], "*",
                      Condition={"Null": {"sagemaker:VpcSubnets": "true"}}),
            statement("Allow", ["sagemaker:Describe*", "sagemaker:List*", "sagemaker:CreateApp"], "*"),
            statement("Allow", ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                                "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeSubnets",
                                "ec2:DescribeSecurityGroups"], "*"),
        ]}))["Policy"]["Arn"]
    role_name = f"{PROJECT}-{REGION}-sagemaker-execution-role"
    role_arn = iam.create_role(RoleName=role_name, Path="/", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "sagemaker.amazonaws.com"}}]}))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)

    # ---------------------------------------------------------------- up: SageMaker Studio
    domain_arn = sm.create_domain(
        DomainName=f"sagemaker-anfw-domain-{REGION}", AuthMode="IAM", AppNetworkAccessType="VpcOnly", VpcId=vpc,
        SubnetIds=[subnet["sagemaker"]], DefaultUserSettings={"ExecutionRole": role_arn, "SecurityGroups": [sg_sm]},
        Tags=[{"Key": "ProjectName", "Value": PROJECT}])["DomainArn"]
    domain = domain_arn.split("/")[-1]
    described = wait_until(lambda: (lambda d: d["Status"] == "InService" and d)(sm.describe_domain(DomainId=domain)),
                           "domain InService")
    home_efs = described["HomeEfsFileSystemId"]
    efs_tags = efs.describe_file_systems(FileSystemId=home_efs)["FileSystems"][0]["Tags"]
    assert {"Key": "ManagedByAmazonSageMakerResource", "Value": domain_arn} in efs_tags
    mount_targets = efs.describe_mount_targets(FileSystemId=home_efs)["MountTargets"]
    assert [mt["SubnetId"] for mt in mount_targets] == [subnet["sagemaker"]]
    nfs_sg = {way: ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc]},
        {"Name": "group-name", "Values": [f"security-group-for-{way}-nfs-{domain}"]}])["SecurityGroups"][0]["GroupId"]
        for way in ("inbound", "outbound")}

    user = f"anfw-user-profile-{REGION}"
    sm.create_user_profile(DomainId=domain, UserProfileName=user,
                           UserSettings={"ExecutionRole": role_arn, "SecurityGroups": [sg_sm]})
    wait_until(lambda: sm.describe_user_profile(DomainId=domain, UserProfileName=user)["Status"] == "InService",
               "user profile InService")
    space = f"{user}-space"
    sm.create_space(DomainId=domain, SpaceName=space, OwnershipSettings={"OwnerUserProfileName": user},
                    SpaceSharingSettings={"SharingType": "Private"},
                    SpaceSettings={"AppType": "JupyterLab",
                                   "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}}})
    wait_until(lambda: sm.describe_space(DomainId=domain, SpaceName=space)["Status"] == "InService",
               "space InService")
    app = dict(DomainId=domain, SpaceName=space, AppType="JupyterLab", AppName="default")
    sm.create_app(ResourceSpec={"InstanceType": "ml.t3.medium", "SageMakerImageArn": DISTRIBUTION_IMAGE}, **app)
    wait_until(lambda: sm.describe_app(**app)["Status"] == "InService", "app InService")

    # ---------------------------------------------------------------- down: SageMaker
    refused("ResourceInUse", sm.delete_space, DomainId=domain, SpaceName=space)  # its app runs
    refused("ResourceInUse", sm.delete_user_profile, DomainId=domain, UserProfileName=user)  # it owns the space
    sm.delete_app(**app)
    wait_until(lambda: sm.describe_app(**app)["Status"] == "Deleted", "app Deleted")
    sm.delete_space(DomainId=domain, SpaceName=space)
    wait_until(gone(sm.describe_space, "ResourceNotFound", DomainId=domain, SpaceName=space), "space gone")
    refused("ResourceInUse", sm.delete_domain, DomainId=domain)
    sm.delete_user_profile(DomainId=domain, UserProfileName=user)
    wait_until(gone(sm.describe_user_profile, "ResourceNotFound", DomainId=domain, UserProfileName=user),
               "user profile gone")
    sm.delete_domain(DomainId=domain, RetentionPolicy={"HomeEfsFileSystem": "Retain"})
    wait_until(gone(sm.describe_domain, "ResourceNotFound", DomainId=domain), "domain gone")

    # ---------------------------------------------------------------- down: what SageMaker left (--purge-efs)
    def enis_in_sagemaker_subnet():
        return {e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces(
            Filters=[{"Name": "subnet-id", "Values": [subnet["sagemaker"]]}])["NetworkInterfaces"]}

    endpoint_enis = {eni for e in ec2.describe_vpc_endpoints(VpcEndpointIds=interface)["VpcEndpoints"]
                     for eni in e["NetworkInterfaceIds"]}
    assert len(endpoint_enis) == 10
    # the app's ENI went with the app; the mount target's stays, and with the endpoints' it blocks the subnet
    assert enis_in_sagemaker_subnet() == endpoint_enis | {mount_targets[0]["NetworkInterfaceId"]}
    refused("DependencyViolation", ec2.delete_subnet, SubnetId=subnet["sagemaker"])
    refused("FileSystemInUse", efs.delete_file_system, FileSystemId=home_efs)
    for mt in mount_targets:
        efs.delete_mount_target(MountTargetId=mt["MountTargetId"])
    wait_until(lambda: not efs.describe_mount_targets(FileSystemId=home_efs)["MountTargets"], "mount targets gone")
    efs.delete_file_system(FileSystemId=home_efs)
    wait_until(gone(efs.describe_file_systems, "FileSystemNotFound", FileSystemId=home_efs), "EFS gone")
    assert enis_in_sagemaker_subnet() == endpoint_enis  # no leftover SageMaker ENI
    refused("DependencyViolation", ec2.delete_security_group, GroupId=nfs_sg["inbound"])
    ec2.revoke_security_group_ingress(GroupId=nfs_sg["inbound"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049, "UserIdGroupPairs": [{"GroupId": nfs_sg["outbound"]}]}])
    ec2.revoke_security_group_egress(GroupId=nfs_sg["outbound"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049, "UserIdGroupPairs": [{"GroupId": nfs_sg["inbound"]}]}])
    for group in nfs_sg.values():
        ec2.delete_security_group(GroupId=group)

    # ---------------------------------------------------------------- down: network, in reverse
    for table, dest, _ in routes:
        ec2.delete_route(RouteTableId=table, DestinationCidrBlock=dest)
    for association in assoc.values():
        ec2.disassociate_route_table(AssociationId=association)
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=endpoints)["Unsuccessful"] == []
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc]}]

    def vpc_endpoints():  # deleted endpoints stay listed as `deleted`, as in AWS
        return [e for e in ec2.describe_vpc_endpoints(Filters=vpc_filter)["VpcEndpoints"] if e["State"] != "deleted"]

    wait_until(lambda: {e["VpcEndpointId"] for e in vpc_endpoints()} == {fw_endpoint}, "11 endpoints deleted")

    nfw.delete_firewall(FirewallName=fw_name)
    wait_until(gone(nfw.describe_firewall, "ResourceNotFoundException", FirewallName=fw_name), "firewall gone")
    wait_until(lambda: not vpc_endpoints(), "firewall endpoint deleted")
    nfw.delete_firewall_policy(FirewallPolicyArn=fw_policy)
    wait_until(gone(nfw.describe_firewall_policy, "ResourceNotFoundException", FirewallPolicyArn=fw_policy),
               "firewall policy gone")
    nfw.delete_rule_group(RuleGroupArn=rule_group)
    wait_until(gone(nfw.describe_rule_group, "ResourceNotFoundException", RuleGroupArn=rule_group), "rule group gone")

    ec2.delete_nat_gateway(NatGatewayId=nat)
    wait_until(lambda: nat_state() == "deleted", "NAT gateway deleted")
    ec2.release_address(AllocationId=alloc)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    for table in rtb.values():
        ec2.delete_route_table(RouteTableId=table)
    for sub in subnet.values():
        ec2.delete_subnet(SubnetId=sub)
    refused("DependencyViolation", ec2.delete_security_group, GroupId=sg_sm)  # sg.vpce's rule references it
    ec2.delete_security_group(GroupId=sg_vpce)
    ec2.delete_security_group(GroupId=sg_sm)
    ec2.delete_vpc(VpcId=vpc)

    # ---------------------------------------------------------------- down: data, keys, identity
    for bucket in buckets:
        s3.delete_bucket_policy(Bucket=bucket)  # the policy denies ListBucket from outside the endpoint
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
        s3.delete_bucket(Bucket=bucket)
    for key in (key_s3, key_ebs):
        assert kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)["DeletionDate"]
        assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    for alias in aliases:
        kms.delete_alias(AliasName=alias)
    iam.detach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    iam.delete_role(RoleName=role_name)
    iam.delete_policy(PolicyArn=policy_arn)

    # ---------------------------------------------------------------- nothing of the stack remains
    default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]}
    assert {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]} == default_vpcs
    assert {s["VpcId"] for s in ec2.describe_subnets()["Subnets"]} <= default_vpcs
    assert {g["VpcId"] for g in ec2.describe_security_groups()["SecurityGroups"]} <= default_vpcs
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
    assert {n["State"] for n in ec2.describe_nat_gateways()["NatGateways"]} <= {"deleted"}
    assert {(e["State"], len(e["NetworkInterfaceIds"])) for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]} == {
        ("deleted", 0)}  # all 12 still listed as deleted, as in AWS, without ENIs
    assert ec2.describe_addresses()["Addresses"] == []
    assert ec2.describe_internet_gateways()["InternetGateways"] == []
    assert {t["VpcId"] for t in ec2.describe_route_tables()["RouteTables"]} <= default_vpcs
    assert nfw.list_firewalls()["Firewalls"] == []
    assert nfw.list_firewall_policies()["FirewallPolicies"] == []
    assert nfw.list_rule_groups()["RuleGroups"] == []
    assert s3.list_buckets()["Buckets"] == []
    keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    assert {k["Arn"] for k in keys} == {key_s3, key_ebs}
    assert {k["KeyState"] for k in keys} == {"PendingDeletion"}
    assert [a["AliasName"] for a in kms.list_aliases()["Aliases"] if not a["AliasName"].startswith("alias/aws/")] == []
    assert iam.list_roles()["Roles"] == []
    assert iam.list_policies(Scope="Local")["Policies"] == []
    assert sm.list_domains()["Domains"] == []
    assert sm.list_user_profiles()["UserProfiles"] == []
    assert {a["Status"] for a in sm.list_apps()["Apps"]} <= {"Deleted"}
    assert efs.describe_file_systems()["FileSystems"] == []

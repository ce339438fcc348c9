"""EFS: CreationToken idempotency (FileSystemAlreadyExists with the existing id); mount target ENIs are managed."""
import pytest
from botocore.exceptions import ClientError


def test_creation_token_in_use_answers_the_existing_file_system(emulator):
    efs = emulator.client("efs")
    fs = efs.create_file_system(CreationToken="token-once", Encrypted=True)["FileSystemId"]
    for kw in ({}, {"Encrypted": True}, {"PerformanceMode": "maxIO"}):
        with pytest.raises(ClientError) as e:
            efs.create_file_system(CreationToken="token-once", **kw)
        assert e.value.response["Error"]["Code"] == "FileSystemAlreadyExists"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        assert e.value.response["FileSystemId"] == fs
    assert [f["FileSystemId"] for f in efs.describe_file_systems(CreationToken="token-once")["FileSystems"]] == [fs]
    efs.delete_file_system(FileSystemId=fs)
    # Once the file system is gone its token is free again.
    assert efs.create_file_system(CreationToken="token-once")["FileSystemId"] != fs


def test_mount_target_eni_is_in_use_and_requester_managed(emulator):
    ec2, efs = emulator.client("ec2"), emulator.client("efs")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    fs = efs.create_file_system(CreationToken="mt-eni")["FileSystemId"]
    mt = efs.create_mount_target(FileSystemId=fs, SubnetId=subnet)
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[mt["NetworkInterfaceId"]])["NetworkInterfaces"][0]
    assert eni["Status"] == "in-use" and eni["RequesterManaged"] is True
    assert eni["Description"] == f"EFS mount target for {fs} ({mt['MountTargetId']})"
    with pytest.raises(ClientError) as e:
        ec2.delete_network_interface(NetworkInterfaceId=mt["NetworkInterfaceId"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    efs.delete_mount_target(MountTargetId=mt["MountTargetId"])
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"] == []

"""EFS: CreationToken idempotency (FileSystemAlreadyExists with the existing id); mount target ENIs are managed;
PutBackupPolicy and DescribeBackupPolicy."""
import pytest
from botocore.exceptions import ClientError
from helpers import err


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


def test_backup_policy_put_and_describe(emulator):
    # EFS API reference, PutBackupPolicy / DescribeBackupPolicy; botocore's efs model for the errors.
    efs = emulator.client("efs")
    fs = efs.create_file_system(CreationToken="backup-policy", Encrypted=True)
    fs_id = fs["FileSystemId"]
    with pytest.raises(ClientError) as e:  # never had one
        efs.describe_backup_policy(FileSystemId=fs_id)
    assert err(e) == ("PolicyNotFound", 404)
    assert efs.put_backup_policy(FileSystemId=fs_id, BackupPolicy={"Status": "ENABLED"})["BackupPolicy"] == {
        "Status": "ENABLED"}
    assert efs.describe_backup_policy(FileSystemId=fs_id)["BackupPolicy"] == {"Status": "ENABLED"}
    assert efs.put_backup_policy(FileSystemId=fs_id, BackupPolicy={"Status": "DISABLED"})["BackupPolicy"] == {
        "Status": "DISABLED"}
    assert efs.describe_backup_policy(FileSystemId=fs_id)["BackupPolicy"] == {"Status": "DISABLED"}
    with pytest.raises(ClientError) as e:  # a transitional status is not something to set
        efs.put_backup_policy(FileSystemId=fs_id, BackupPolicy={"Status": "ENABLING"})
    assert err(e) == ("BadRequest", 400)
    assert efs.describe_backup_policy(FileSystemId=fs_id)["BackupPolicy"] == {"Status": "DISABLED"}

    backed_up = efs.create_file_system(CreationToken="backup-on", Backup=True)["FileSystemId"]
    assert efs.describe_backup_policy(FileSystemId=backed_up)["BackupPolicy"] == {"Status": "ENABLED"}

    missing = "fs-0123456789abcdef0"
    for call in (lambda: efs.describe_backup_policy(FileSystemId=missing),
                 lambda: efs.put_backup_policy(FileSystemId=missing, BackupPolicy={"Status": "ENABLED"})):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("FileSystemNotFound", 404)


def test_put_backup_policy_needs_an_available_file_system(make_emulator):
    emu = make_emulator(scale=0.2)  # efs.file_system: deleting for 10 s x 0.2
    efs = emu.client("efs")
    fs_id = efs.create_file_system(CreationToken="going")["FileSystemId"]
    efs.delete_file_system(FileSystemId=fs_id)
    with pytest.raises(ClientError) as e:
        efs.put_backup_policy(FileSystemId=fs_id, BackupPolicy={"Status": "ENABLED"})
    assert err(e) == ("IncorrectFileSystemLifeCycleState", 409)

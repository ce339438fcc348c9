"""KMS fixes: ScheduleKeyDeletion by ARN, its window and answer, refusals when pending deletion, unknown key."""
import pytest
from botocore.exceptions import ClientError


def test_schedule_deletion_by_arn_then_refused_when_pending(emulator):
    kms = emulator.client("kms")
    arn = kms.create_key(Description="k")["KeyMetadata"]["Arn"]
    kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    with pytest.raises(ClientError) as e:
        kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    assert e.value.response["Error"]["Code"] == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=arn)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Disabled"


def test_schedule_deletion_of_unknown_key_is_not_found(emulator):
    kms = emulator.client("kms")
    with pytest.raises(ClientError) as e:
        kms.schedule_key_deletion(KeyId="arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000", PendingWindowInDays=7)
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def test_schedule_deletion_window_outside_7_to_30_days_is_refused(emulator):
    kms = emulator.client("kms")
    arn = kms.create_key(Description="window")["KeyMetadata"]["Arn"]
    for days in (6, 31, 365):
        with pytest.raises(ClientError) as e:
            kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=days)
        assert e.value.response["Error"]["Code"] == "ValidationException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Enabled"  # nothing scheduled


def test_schedule_deletion_answer_carries_key_arn_state_and_window(emulator):
    kms = emulator.client("kms")
    arn = kms.create_key(Description="answer")["KeyMetadata"]["Arn"]
    key_id = arn.split("/")[-1]
    out = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyId"] == arn  # the ARN, even when asked by key id
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    assert out["DeletionDate"]
    arn30 = kms.create_key(Description="default window")["KeyMetadata"]["Arn"]
    assert kms.schedule_key_deletion(KeyId=arn30)["PendingWindowInDays"] == 30  # the default


def test_enable_key_rotation_of_a_key_pending_deletion_is_refused(emulator):
    kms = emulator.client("kms")
    arn = kms.create_key(Description="rotation")["KeyMetadata"]["Arn"]
    kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    with pytest.raises(ClientError) as e:
        kms.enable_key_rotation(KeyId=arn)
    assert e.value.response["Error"]["Code"] == "KMSInvalidStateException"
    assert kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"] is False
    kms.cancel_key_deletion(KeyId=arn)
    kms.enable_key(KeyId=arn.split("/")[-1])  # (moto's EnableKey takes no ARN)
    kms.enable_key_rotation(KeyId=arn)
    assert kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"] is True

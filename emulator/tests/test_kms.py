"""KMS fixes: ScheduleKeyDeletion by ARN, refusal when already pending, unknown key."""
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

"""KMS fixes for the stack's teardown (moto 5.2.5).

moto's ScheduleKeyDeletion / CancelKeyDeletion index the key table with the
raw KeyId parameter, so a key ARN (which AWS accepts, and which provision
records) fails with a 500. AWS also refuses to schedule a key that is
already pending deletion (KMSInvalidStateException), refuses a waiting period
outside 7..30 days (ValidationException; moto accepted it and scheduled
nothing), answers ScheduleKeyDeletion with the key ARN, DeletionDate,
KeyState and PendingWindowInDays (moto: the KeyId as sent and DeletionDate),
and refuses EnableKeyRotation on a key pending deletion
(KMSInvalidStateException; moto enabled it).
"""
import json

from moto.core.exceptions import JsonRESTError
from moto.kms.exceptions import NotFoundException, ValidationException
from moto.kms.models import KmsBackend
from moto.kms.responses import KmsResponse


class KMSInvalidStateException(JsonRESTError):
    code = 400

    def __init__(self, message):
        super().__init__("KMSInvalidStateException", message)


_orig_schedule = KmsBackend.schedule_key_deletion
_orig_cancel = KmsBackend.cancel_key_deletion
_orig_enable_rotation = KmsBackend.enable_key_rotation


def _resolve(backend, key_id):
    raw = backend.any_id_to_key_id(key_id)
    if raw not in backend.keys:
        raise NotFoundException(f"Key '{key_id}' does not exist")
    return raw


def schedule_key_deletion(self, key_id, pending_window_in_days):
    raw = _resolve(self, key_id)
    if self.keys[raw].key_state == "PendingDeletion":
        raise KMSInvalidStateException(f"{self.keys[raw].arn} is pending deletion.")
    return _orig_schedule(self, raw, pending_window_in_days)


def cancel_key_deletion(self, key_id):
    return _orig_cancel(self, _resolve(self, key_id))


def enable_key_rotation(self, key_id, *args, **kwargs):
    """KMS's key-state table ("Key states of KMS keys", Key Management Service Developer Guide):
    EnableKeyRotation on a key PendingDeletion fails with KMSInvalidStateException, which
    botocore's kms model lists for the operation ("The key state of the KMS key is not compatible
    with the operation")."""
    raw = _resolve(self, key_id)
    key = self.keys[raw]
    if key.key_state in ("PendingDeletion", "PendingReplicaDeletion"):
        raise KMSInvalidStateException(f"{key.arn} is pending deletion.")
    return _orig_enable_rotation(self, raw, *args, **kwargs)


def schedule_key_deletion_response(self):
    """botocore's kms model (ScheduleKeyDeletion PendingWindowInDays): "If you include a value, it
    must be between 7 and 30, inclusive. If you do not include a value, it defaults to 30." A value
    outside is refused with ValidationException (Skyscanner/kms-issuer#8: "ValidationException:
    PendingWindowInDays must be between 7 and 30"). The answer (ScheduleKeyDeletionResponse)
    carries KeyId (the key ARN), DeletionDate, KeyState and PendingWindowInDays."""
    key_id = self._get_param("KeyId")
    window = self._get_param("PendingWindowInDays")
    window = 30 if window is None else int(window)
    if not 7 <= window <= 30:
        raise ValidationException("PendingWindowInDays must be between 7 and 30")
    self._validate_cmk_id(key_id)
    deletion_date = self.kms_backend.schedule_key_deletion(key_id, window)
    key = self.kms_backend.keys[_resolve(self.kms_backend, key_id)]
    return json.dumps({"KeyId": key.arn, "DeletionDate": deletion_date, "KeyState": key.key_state,
                       "PendingWindowInDays": window})


def install(app):
    KmsBackend.schedule_key_deletion = schedule_key_deletion
    KmsBackend.cancel_key_deletion = cancel_key_deletion
    KmsBackend.enable_key_rotation = enable_key_rotation
    KmsResponse.schedule_key_deletion = schedule_key_deletion_response
    return None

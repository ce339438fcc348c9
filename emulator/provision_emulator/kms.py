"""KMS fixes for the stack's teardown (moto 5.2.5).

moto's ScheduleKeyDeletion / CancelKeyDeletion index the key table with the
raw KeyId parameter, so a key ARN (which AWS accepts, and which provision
records) fails with a 500. AWS also refuses to schedule a key that is
already pending deletion (KMSInvalidStateException).
"""
from moto.core.exceptions import JsonRESTError
from moto.kms.exceptions import NotFoundException
from moto.kms.models import KmsBackend


class KMSInvalidStateException(JsonRESTError):
    code = 400

    def __init__(self, message):
        super().__init__("KMSInvalidStateException", message)


_orig_schedule = KmsBackend.schedule_key_deletion
_orig_cancel = KmsBackend.cancel_key_deletion


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


def install(app):
    KmsBackend.schedule_key_deletion = schedule_key_deletion
    KmsBackend.cancel_key_deletion = cancel_key_deletion
    return None

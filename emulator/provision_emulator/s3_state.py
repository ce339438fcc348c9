"""S3 as a state store needs it (moto 5.2.5): atomic conditional writes, and GetBucketVersioning's answer.

``provision --state s3://BUCKET/KEY`` relies on S3's conditional requests (S3 user guide,
"Add preconditions to S3 operations with conditional requests"; S3 API reference, PutObject
``If-None-Match`` / ``If-Match`` and DeleteObject ``If-Match``): a PutObject with
``If-None-Match: *`` writes only if the key does not exist, one with ``If-Match: <ETag>`` only if
the current object has that ETag, else 412 PreconditionFailed — and when several conditional
writes race for a key, exactly one wins ("the first write operation to finish succeeds", the
others get 412 or 409). moto checks the header and then stores the object in two separate steps
of a threaded server, so two racing writes could both pass the check. Here every PutObject and
DeleteObject of a key is serialized with the others, which makes check-and-write atomic as S3's
is. (A lock per server, not per key: the state's writes are few.)

The TLS-only bucket policy ``state init`` puts (S3 user guide, "Enforce encryption of data in
transit": Deny ``s3:*`` to everyone when ``aws:SecureTransport`` is false): moto's policy check
(``FakeBucket.get_permission``, applied to object calls) treats every statement whose condition it
cannot verify as a denial, even a Deny whose condition does not hold, so it would deny every object
call on such a bucket. This emulator's plain-HTTP endpoint stands in for S3's HTTPS one, so its
requests are taken as sent over TLS (``aws:SecureTransport`` true): a statement that denies only
when ``aws:SecureTransport`` is false denies nothing here, as on AWS for SDK clients (which use
HTTPS). Other statements are evaluated as moto does.

GetBucketVersioning: S3 answers ``<VersioningConfiguration>`` (with ``<Status>`` once versioning
was ever set; empty before — S3 API reference, GetBucketVersioning, "Response Syntax"); moto 5.2.5
answers ``<GetBucketVersioningResponse>``, a root element SDKs that check it refuse.
"""
import json
import threading

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket
from moto.s3.responses import S3Response

_writes = threading.RLock()
_orig_put_object = S3Response.put_object
_orig_delete_object = S3Response.delete_object
_orig_get_permission = FakeBucket.get_permission

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def put_object(self, *args, **kwargs):
    with _writes:
        return _orig_put_object(self, *args, **kwargs)


def delete_object(self, *args, **kwargs):
    with _writes:
        return _orig_delete_object(self, *args, **kwargs)


def get_bucket_versioning(self):
    self.data["Action"] = "GetBucketVersioning"
    status = self.backend.get_bucket_versioning(self.bucket_name)  # NoSuchBucket raised by moto
    inner = f"<Status>{status}</Status>" if status else ""
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration xmlns="{NS}">{inner}</VersioningConfiguration>'
    return 200, {"Content-Type": "application/xml"}, body


def _tls_only(statement):
    """A Deny whose one condition is ``Bool aws:SecureTransport false``."""
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    cond = statement.get("Condition")
    if not isinstance(cond, dict) or list(cond) != ["Bool"] or not isinstance(cond["Bool"], dict):
        return False
    block = {k.lower(): v for k, v in cond["Bool"].items()}
    value = block.get("aws:securetransport")
    return list(block) == ["aws:securetransport"] and str(value[0] if isinstance(value, list) else value).lower() == "false"


def get_permission(self, action, resource):
    if self.policy is None:
        return _orig_get_permission(self, action, resource)
    try:
        doc = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return _orig_get_permission(self, action, resource)
    kept = [s for s in statements if not _tls_only(s)]
    if len(kept) == len(statements):
        return _orig_get_permission(self, action, resource)
    if not kept:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps(dict(doc, Statement=kept))).is_action_permitted(action, resource)


def install(app):
    S3Response.put_object = put_object
    S3Response.delete_object = delete_object
    S3Response.get_bucket_versioning = get_bucket_versioning
    FakeBucket.get_permission = get_permission
    return None

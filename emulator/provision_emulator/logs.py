"""CloudWatch Logs on top of moto's logs backend.

moto 5.2.5 stores a log group's ``kmsKeyId`` and ``retentionInDays`` as given, whatever they
are, and has no AssociateKmsKey. Added, as the CloudWatch Logs API reference documents them:

* PutRetentionPolicy: ``retentionInDays`` must be one of the values the API lists ("Possible
  values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
  2557, 2922, 3288, and 3653") -> InvalidParameterException.
* CreateLogGroup and AssociateKmsKey with ``kmsKeyId``: it must be a key ARN ("the Amazon
  Resource Name (ARN) of the KMS key to use when encrypting log data"), of a key that exists and
  is enabled ("If you attempt to associate a KMS key with a log group but the KMS key does not
  exist or the KMS key is disabled, you receive an InvalidParameterException error",
  CreateLogGroup / AssociateKmsKey) -> InvalidParameterException; and the key's policy must let
  CloudWatch Logs of the region use it for this log group: a statement allowing the service
  principal ``logs.{region}.amazonaws.com`` kms:GenerateDataKey/kms:Encrypt, whose
  ``kms:EncryptionContext:aws:logs:arn`` condition (if any) matches the group's ARN (CloudWatch
  Logs user guide, "Encrypt log data in CloudWatch Logs using AWS KMS", step 2) ->
  AccessDeniedException "The specified KMS key does not exist or is not allowed to be used with
  Arn '...'" (the answer AWS gives, quoted in terraform-provider-aws issues on
  aws_cloudwatch_log_group with kms_key_id).
* AssociateKmsKey (logGroupName, kmsKeyId) with the same checks.
"""
import fnmatch
import json

from moto.kms.models import kms_backends
from moto.logs.exceptions import InvalidParameterException, LogsClientError, ResourceNotFoundException
from moto.logs.responses import LogsResponse

#: PutRetentionPolicy ``retentionInDays`` (CloudWatch Logs API reference).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)


class AccessDenied(LogsClientError):
    def __init__(self, msg):
        super().__init__("AccessDeniedException", msg)


def _list(v):
    return v if isinstance(v, list) else [v] if v is not None else []


def _allows_logs(policy, region, group_arn):
    """Whether a key policy lets CloudWatch Logs of `region` encrypt for `group_arn`."""
    service = f"logs.{region}.amazonaws.com"
    for st in _list(policy.get("Statement")):
        if st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal") or {}
        services = _list(principal.get("Service")) if isinstance(principal, dict) else []
        if service not in services:
            continue
        actions = _list(st.get("Action"))
        if not any(fnmatch.fnmatchcase(a, pattern) for a in ("kms:GenerateDataKey", "kms:Encrypt")
                   for pattern in actions):
            continue
        ok = True
        for op, conds in (st.get("Condition") or {}).items():
            for k, want in conds.items():
                if k != "kms:EncryptionContext:aws:logs:arn":
                    continue
                like = op.startswith(("ArnLike", "StringLike"))
                ok &= any(fnmatch.fnmatchcase(group_arn, w) if like else group_arn == w for w in _list(want))
        if ok:
            return True
    return False


def _check_key(backend, group_name, key_id):
    """The checks AWS makes of a kmsKeyId for a log group (see the module documentation)."""
    if key_id is None:
        return
    if not key_id.startswith("arn:aws:kms:"):
        raise InvalidParameterException(f"Specified KMS key {key_id} is not an ARN; specify the key's ARN.")
    kms = kms_backends[backend.account_id][backend.region_name]
    key = kms.keys.get(kms.any_id_to_key_id(key_id))
    if key is None or key.key_state != "Enabled":
        raise InvalidParameterException(
            f"The specified KMS Key Id could not be found or is not enabled: {key_id}")
    group_arn = f"arn:aws:logs:{backend.region_name}:{backend.account_id}:log-group:{group_name}"
    if not _allows_logs(json.loads(key.policy), backend.region_name, group_arn):
        raise AccessDenied(f"The specified KMS key does not exist or is not allowed to be used with Arn '{group_arn}'")


_orig_create_log_group = LogsResponse.create_log_group
_orig_put_retention_policy = LogsResponse.put_retention_policy


def create_log_group(self):
    _check_key(self.logs_backend, self._get_param("logGroupName"), self._get_param("kmsKeyId"))
    return _orig_create_log_group(self)


def put_retention_policy(self):
    days = self._get_param("retentionInDays")
    if days not in RETENTION_DAYS:
        raise InvalidParameterException(
            constraint=f"Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]",
            parameter="retentionInDays", value=days)
    return _orig_put_retention_policy(self)


def associate_kms_key(self):
    name, key_id = self._get_param("logGroupName"), self._get_param("kmsKeyId")
    group = self.logs_backend.groups.get(name)
    if group is None:
        raise ResourceNotFoundException()
    _check_key(self.logs_backend, name, key_id)
    group.kms_key_id = key_id
    return ""


def install(app):
    LogsResponse.create_log_group = create_log_group
    LogsResponse.put_retention_policy = put_retention_policy
    LogsResponse.associate_kms_key = associate_kms_key

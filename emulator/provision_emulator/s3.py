"""S3 as AWS has it since 2023, and the one bucket-policy shape the stack relies on.

* New buckets carry AWS's defaults until changed: default encryption SSE-S3 (AES256, no bucket
  key) and all four Block Public Access settings on. botocore's s3 model: GetBucketEncryption
  "By default, all buckets have a default encryption configuration that uses server-side
  encryption with Amazon S3 managed keys (SSE-S3)"; DeleteBucketEncryption "resets the default
  encryption for the bucket as server-side encryption with Amazon S3 managed keys (SSE-S3)";
  CreateBucket "you can create a new bucket with Block Public Access enabled, then separately
  call the DeletePublicAccessBlock API" (S3 User Guide, "Blocking public access to your Amazon
  S3 storage": new buckets have all four settings on since April 2023). moto made buckets with
  neither (GetBucketEncryption -> ServerSideEncryptionConfigurationNotFoundError,
  GetPublicAccessBlock -> NoSuchPublicAccessBlockConfiguration).
* A bucket policy statement that denies everyone (``"Principal": "*"`` or ``{"AWS": "*"}``)
  unless the request comes through a VPC endpoint (or VPC) —
  ``"Condition": {"StringNotEquals": {"aws:sourceVpce": ...}}``, ``aws:SourceVpc`` likewise,
  also ``StringNotEqualsIgnoreCase``/``StringNotLike`` and their ``IfExists`` forms — is
  enforced for the object and list calls it names (GetObject, HeadObject, PutObject, the
  multipart and copy calls, DeleteObject, ListObjects(V2), HeadBucket, ListObjectVersions...).
  No request here comes through a VPC endpoint, so such a statement always applies: IAM's
  "Condition operators" page, "If the key that you specify in a policy condition is not present
  in the request context, the values do not match" — a negated operator (StringNotEquals) is
  then true. A statement without a Condition is enforced the same way. Answer: HTTP 403
  ``AccessDenied`` "Access Denied" (S3 error codes; no body for HEAD, as S3 does). Bucket
  configuration calls (Get/Put/DeleteBucketPolicy, tagging, encryption...) are never gated by it:
  the account can always change the policy. Path-style and virtual-hosted-style requests,
  SigV4 and SigV2, headers and presigned URLs, are all gated. Statements with other conditions, NotAction,
  NotResource or NotPrincipal are left to moto (which applies explicit denies to object GET, PUT
  and DELETE only, with a bare 403). This is not an IAM evaluator: Allow statements, identity
  policies and ACLs are not evaluated (the caller is the account's administrator).
* With ``--realistic`` (realistic.py), two propagation answers, each for a window drawn like
  the eventual-consistency ones: right after CreateBucket, a write of the bucket's settings
  (``SETTINGS``: tagging, public access block, encryption, policy, versioning...) answers
  ``NoSuchBucket`` (404) — terraform-provider-aws retries every bucket sub-resource call on
  NoSuchBucket for ``bucketPropagationTimeout`` = 2 minutes (internal/service/s3/bucket.go, citing
  the S3 user guide's consistency model); and right after DeleteBucket, CreateBucket of the same
  name answers ``OperationAborted`` (409, "A conflicting conditional operation is currently in
  progress against this resource. Please try again.": S3 API reference, "Error responses"), which
  resourceBucketCreate retries (``RetryWhenAWSErrCodeEquals(..., errCodeOperationAborted)``).
  Reads of the settings are not delayed (a limit: the tool only writes them right after a create).
"""
import json
import re
import uuid

from moto.core.request import Request
from moto.core.routing import get_service_router
from moto.s3.models import PublicAccessBlock, S3Backend, s3_backends

from . import realistic


#: SSE-S3 as moto stores a PutBucketEncryption rule.
DEFAULT_ENCRYPTION = {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                               "BucketKeyEnabled": False}}

#: S3 operation -> the IAM action it needs (S3 User Guide, "Amazon S3 actions" / the Service
#: Authorization Reference's "Actions defined by Amazon S3"), for the data-plane calls gated here.
#: Bucket-level actions are checked against the bucket ARN, object-level ones against bucket/key.
OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "GetObjectAttributes": "s3:GetObject",
    "PutObject": "s3:PutObject", "CopyObject": "s3:PutObject", "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject", "UploadPartCopy": "s3:PutObject", "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload", "ListParts": "s3:ListMultipartUploadParts",
    "DeleteObject": "s3:DeleteObject", "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging", "DeleteObjectTagging": "s3:DeleteObjectTagging",
    "GetObjectAcl": "s3:GetObjectAcl", "PutObjectAcl": "s3:PutObjectAcl",
}
#: With a versionId, the object calls need the Version actions.
VERSIONED = {"s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion",
             "s3:GetObjectTagging": "s3:GetObjectVersionTagging", "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
             "s3:PutObjectTagging": "s3:PutObjectVersionTagging", "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
             "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging"}
BUCKET_ACTIONS = {
    "ListObjects": "s3:ListBucket", "ListObjectsV2": "s3:ListBucket", "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions", "ListMultipartUploads": "s3:ListBucketMultipartUploads",
}

#: Condition operators that are true for a request carrying no VPC endpoint / VPC (negated
#: operators on an absent key), and the keys they may name (condition keys are case-insensitive).
_NEGATED = {"stringnotequals", "stringnotequalsignorecase", "stringnotlike"}
_VPC_KEYS = {"aws:sourcevpce", "aws:sourcevpc"}


# --- defaults -------------------------------------------------------------------------

_orig_create_bucket = S3Backend.create_bucket
_orig_delete_encryption = S3Backend.delete_bucket_encryption


def create_bucket(self, bucket_name, region_name, *args, **kwargs):
    bucket = _orig_create_bucket(self, bucket_name, region_name, *args, **kwargs)
    realistic.created(BUCKET, bucket_name)
    bucket.encryption = json.loads(json.dumps(DEFAULT_ENCRYPTION))
    bucket.public_access_block = PublicAccessBlock("true", "true", "true", "true")
    return bucket


def delete_bucket_encryption(self, bucket_name):
    """DeleteBucketEncryption resets the default encryption to SSE-S3 (there is always one)."""
    _orig_delete_encryption(self, bucket_name)
    self.get_bucket(bucket_name).encryption = json.loads(json.dumps(DEFAULT_ENCRYPTION))


# --- the deny-unless-endpoint policy --------------------------------------------------

def _as_list(v):
    return v if isinstance(v, list) else [v]


def _wildcard(pattern, value, ignore_case=False):
    """IAM's ``*`` / ``?`` matching of actions and ARNs."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.IGNORECASE if ignore_case else 0) is not None


def _everyone(principal):
    if principal == "*":
        return True
    return isinstance(principal, dict) and set(principal) == {"AWS"} and "*" in _as_list(principal["AWS"])


def _applies_without_vpc(condition):
    """True if the statement's condition holds for a request with no VPC endpoint; None if the
    condition is not one modelled here (the statement is then left to moto)."""
    if condition is None:
        return True
    if not isinstance(condition, dict) or not condition:
        return None
    for operator, block in condition.items():
        op = operator.lower()
        op = op[:-len("ifexists")] if op.endswith("ifexists") else op
        if op not in _NEGATED or not isinstance(block, dict) or not block:
            return None
        if any(k.lower() not in _VPC_KEYS for k in block):
            return None
    return True


def denying_statement(policy, action, resource):
    """The statement of `policy` (a JSON document) that denies `action` on `resource` to a request
    that does not come through a VPC endpoint, or None."""
    try:
        doc = json.loads(policy.decode() if isinstance(policy, bytes) else policy)
    except (ValueError, AttributeError):
        return None
    for st in _as_list(doc.get("Statement") or []):
        if not isinstance(st, dict) or st.get("Effect") != "Deny":
            continue
        if any(k in st for k in ("NotAction", "NotResource", "NotPrincipal")) or not _everyone(st.get("Principal")):
            continue
        if not _applies_without_vpc(st.get("Condition")):
            continue
        if not any(_wildcard(a, action, ignore_case=True) for a in _as_list(st.get("Action") or [])):
            continue
        if any(_wildcard(r, resource) for r in _as_list(st.get("Resource") or [])):
            return st
    return None


def _bucket(name):
    owner = s3_backends.bucket_accounts.get(name)  # (partition, account)
    if owner is None:
        return None
    partition, account = owner
    try:
        return s3_backends[account][partition].buckets.get(name)
    except KeyError:
        return None


def _checks(operation, bucket, key, query, headers):
    """(IAM action, resource ARN) pairs the request needs, for the calls gated here."""
    arn = f"arn:aws:s3:::{bucket}"
    if operation in BUCKET_ACTIONS:
        return [(BUCKET_ACTIONS[operation], arn)]
    if operation not in OBJECT_ACTIONS or key is None:
        return []
    action = OBJECT_ACTIONS[operation]
    if "versionId" in query:
        action = VERSIONED.get(action, action)
    out = [(action, f"{arn}/{key}")]
    source = headers.get("x-amz-copy-source")
    if source:  # CopyObject / UploadPartCopy also read the source object
        src = source.split("?")[0].lstrip("/")
        out.append(("s3:GetObject", f"arn:aws:s3:::{src}"))
    return out


def _access_denied(environ, start_response):
    request_id = uuid.uuid4().hex[:16].upper()
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message>'
        f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>").encode()
    start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body))),
                                     ("x-amz-request-id", request_id)])
    return [body]


def _for_s3(environ):
    """Signed for S3: SigV4 with the s3 scope (header or presigned query), or SigV2 (header or
    presigned query), which only S3 still takes."""
    auth, query = environ.get("HTTP_AUTHORIZATION", ""), environ.get("QUERY_STRING", "")
    return ("/s3/aws4_request" in auth or "%2Fs3%2Faws4_request" in query.replace("%2f", "%2F")
            or auth.startswith("AWS ") or "AWSAccessKeyId=" in query)


def denied(environ):
    """True if a bucket policy of the modelled shape denies this S3 request."""
    request = Request(dict(environ))
    try:  # moto's router reads the bucket from the path or, virtual-hosted style, from the Host
        operation, params = get_service_router("s3").match(request)
    except Exception:
        return False
    name = params.get("Bucket")
    bucket = _bucket(name) if name else None
    if bucket is None or not bucket.policy:
        return False
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    return any(denying_statement(bucket.policy, action, resource)
               for action, resource in _checks(operation.name, name, params.get("Key"), request.args, headers))


#: The bucket-settings writes that answer NoSuchBucket right after CreateBucket under --realistic.
SETTINGS = {"PutBucketTagging", "PutPublicAccessBlock", "PutBucketEncryption", "PutBucketPolicy",
            "PutBucketVersioning", "PutBucketAcl", "PutBucketCors", "PutBucketLifecycleConfiguration",
            "PutBucketLogging", "PutBucketOwnershipControls"}
BUCKET = "s3.bucket"  # realistic kind: a bucket S3 does not know yet
NAME_FREED = "s3.bucket_name_freed"  # realistic kind: a name whose deletion is still in progress

_orig_delete_bucket = S3Backend.delete_bucket


def delete_bucket(self, bucket_name):
    out = _orig_delete_bucket(self, bucket_name)
    realistic.forget(BUCKET, bucket_name)
    realistic.created(NAME_FREED, bucket_name)
    return out


def _error(environ, start_response, status, code, message):
    request_id = uuid.uuid4().hex[:16].upper()
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>").encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body))),
                            ("x-amz-request-id", request_id)])
    return [body]


def propagation(environ):
    """--realistic: (HTTP status, code, message) of a propagation answer for this request, or None."""
    if not realistic.enabled():
        return None
    try:
        operation, params = get_service_router("s3").match(Request(dict(environ)))
    except Exception:
        return None
    name = params.get("Bucket")
    if not name:
        return None
    if operation.name == "CreateBucket" and not realistic.visible(NAME_FREED, name):
        return ("409 Conflict", "OperationAborted",
                "A conflicting conditional operation is currently in progress against this resource. Please try again.")
    if operation.name in SETTINGS and not realistic.visible(BUCKET, name):
        return ("404 Not Found", "NoSuchBucket", "The specified bucket does not exist")
    return None


class BucketPolicyGate:
    """WSGI wrapper: answers AccessDenied before moto for requests the modelled policy denies."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if _for_s3(environ):
            answer = propagation(environ)
            if answer:
                return _error(environ, start_response, *answer)
            if denied(environ):
                return _access_denied(environ, start_response)
        return self.app(environ, start_response)


def install(app):
    S3Backend.create_bucket = create_bucket
    S3Backend.delete_bucket = delete_bucket
    S3Backend.delete_bucket_encryption = delete_bucket_encryption
    return BucketPolicyGate(app)

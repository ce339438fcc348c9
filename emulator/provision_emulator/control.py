"""Control path for tests, under /_emulator/ (JSON in and out), wrapped around moto's app.

Every AWS call is named IAM-style, ``prefix:Operation`` (``ec2:CreateVpc``,
``network-firewall:CreateRuleGroup``, ``s3:PutBucketPolicy``, ``elasticfilesystem:
DescribeMountTargets``...): the prefix is the service of the SigV4 credential scope, the
operation comes from botocore's model via moto's router (query ``Action``, JSON
``X-Amz-Target``, REST method + requestUri).

  POST   /_emulator/faults  {"operation": "ec2:CreateNatGateway", "count": 1,
                             "error_code": "InternalError", "status": 500, "message": "...",
                             "apply": false, "delay_s": 0}
         Fail the next ``count`` calls of the operation with that AWS error, in the
         service's own error format. ``apply``: run the call in moto first, then answer the
         error instead (the resource exists, the client never heard). ``delay_s``: hold the
         call that long first (with ``error_code`` omitted, the call is only delayed).
         Optional ``"except_key": "KEY"``: calls signed with that access key id are not faulted
         (a test harness's own setup calls, e.g. making the IAM user a test runs as, are not the
         calls under test).
  GET    /_emulator/faults  -> {"faults": [...pending, with the count left...]}
  DELETE /_emulator/faults  -> clears them
  GET    /_emulator/calls   -> {"calls": [{"t": epoch, "dur_s": seconds, "operation": "ec2:CreateVpc",
                                           "status": 200, "region": "us-east-1",
                                           "key": "AKIA...", "code": null}, ...]}
         ``key``: the caller's access key id, from the SigV4 credential (Authorization header,
         or a presigned URL's X-Amz-Credential; null if neither), so concurrent clients with
         different keys can be told apart. ``code``: for an error answer (status >= 400) the
         AWS error code (``RequestLimitExceeded``, ``InternalError``...): the fault's or
         transient error's own, else read from the answer (x-amzn-ErrorType header, XML
         ``<Code>``, JSON ``__type`` / ``code``); null for a success or an error without one.
  DELETE /_emulator/calls   -> clears the log
  GET    /_emulator/denials -> {"denials": [{"t", "key", "principal", "operation", "action", "resource",
                                               "why": "implicit"|"explicit"|"unevaluable"|"session",
                                               "detail", "message"}, ...]}
         Every request authz.py refused (IAM enforcement of IAM users' and assumed roles' keys),
         since the last reset.
  POST   /_emulator/reset   -> moto's reset of every backend, faults, call log, and every
                               hook registered with ``on_reset(fn)`` (throttle buckets, ...)
  GET    /_emulator/health  -> {"ready": true, "scale": S, "throttle": bool, "realistic": bool, "seed": N|null}
  GET    /_emulator/realistic -> --realistic's settings and the windows not yet over
  POST   /_emulator/realistic {"error_rate": R, "ec_window_s": [lo, hi], "iam_window_s": [lo, hi]}
         -> change them for what follows (400 without --realistic)
  POST   /_emulator/force-state  {"kind": "nat_gateway", "id": "nat-...", "state": "failed",
                                  "message": "...", "failure_code": "InternalError"}
  POST   /_emulator/force-state  {"kind": "sagemaker_app", "domain_id": "d-...",
                                  "user_profile_name": "...", "app_type": "JupyterServer",
                                  "app_name": "default", "state": "Failed", "message": "..."}
  POST   /_emulator/force-state  {"kind": "lingering_eni", "subnet_id": "subnet-...", "in_use_s": 30,
                                  "description": "...", "tags": {...}, "group_ids": [...]}
         (ec2.plant_lingering_eni: an ENI in-use for in_use_s wall-clock seconds, then available)
         Put a resource into the failed state AWS sometimes leaves it in; answers what was set
         (``{"kind", ..., "state", "message", ...}``). A failed NAT gateway shows State
         ``failed``, FailureCode (``failure_code``, default InternalError) and FailureMessage,
         never becomes available, and has its ENI and EIP association released at once;
         DeleteNatGateway: ``deleting`` -> ``deleted``. A Failed app shows Status ``Failed``
         and (DescribeApp) FailureReason; DeleteApp: ``Deleting`` -> ``Deleted``, then its name
         is free. Unknown kind or id, a state other than those, or a resource already
         deleting/deleted -> 400 {"error": "..."}. Nothing of this is kept outside moto's
         backends, so reset needs nothing extra.

Extensions reach this module one way only: ``from . import control`` at the top of the
extension, and calls to ``control.on_reset(fn)`` / ``control.on_force_state(kind, fn)`` from
its ``install(app)`` (no import checks, no ``hasattr``); ``__main__`` runs every extension's
``install(app)`` and then ``control.install(app)``, which wraps them all. ``on_reset(fn)``:
``fn()`` runs on every reset, after moto's backends are reset (for state kept outside them,
e.g. throttle buckets). ``on_force_state(kind, fn)`` offers a kind to force-state:
``fn(request dict)`` returns what it set (a dict) or raises ValueError (400).

With ``--realistic`` every AWS call that no fault claims may instead fail, before it is applied,
with a transient 5xx drawn from the seeded generator (``realistic.transient_error``); the control
path never does.
"""
import io
import json
import re
import threading
import time
import warnings

from moto.core.exceptions import ServiceException
from moto.core.request import Request, determine_request_protocol
from moto.core.routing import get_service_router
from moto.core.serialize import get_serializer_class
from moto.core.utils import get_service_model

from . import profile, realistic

#: SigV4 signing name -> botocore service name, where they differ.
BOTOCORE_NAME = {"elasticfilesystem": "efs", "servicequotas": "service-quotas"}
_DEFAULT_STATUS = {"InternalError": 500, "InternalFailure": 500, "InternalServerError": 500,
                   "ServiceUnavailable": 503, "RequestLimitExceeded": 503}
_TRANSIENT_MESSAGE = {500: "We encountered an internal error. Please try again.",
                      503: "Service is unavailable. Please try again."}
_CREDENTIAL = re.compile(r"Credential=([^/\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_FORM = "application/x-www-form-urlencoded"
# An error answer's code: XML (query, EC2, restXml) <Code>, JSON __type ("prefix#Code" or "Code"), else a
# JSON "code" / "Code" / "ErrorCode" member (restJson services).
_XML_CODE = re.compile(rb"<Code>\s*([^<\s]+)\s*</Code>")
_JSON_TYPE = re.compile(rb'"__type"\s*:\s*"(?:[^"#]*#)?([^"]+)"')
_JSON_CODE = re.compile(rb'"(?:code|Code|ErrorCode)"\s*:\s*"([^"]+)"')


class InjectedFault(ServiceException):
    """An error the test asked for (defined here: moto maps its own exception modules to services)."""


_lock = threading.Lock()
_faults = []
_calls = []
_reset_hooks = []
_force_state = {}  # kind -> fn(request dict) -> dict of what was set (ValueError: 400)


def on_reset(fn):
    """Register ``fn()`` to run on POST /_emulator/reset."""
    _reset_hooks.append(fn)


def on_force_state(kind, fn):
    """Register ``fn(data)`` to serve POST /_emulator/force-state for ``{"kind": kind, ...}``."""
    _force_state[kind] = fn


def force_state(data):
    """POST /_emulator/force-state: dispatch to the kind's extension; the answer echoes what was set."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    kind = data.get("kind")
    if kind not in _force_state:
        raise ValueError(f'unknown "kind" {kind!r}: one of {sorted(_force_state)}')
    if data.get("message") is not None and not isinstance(data["message"], str):
        raise ValueError('"message" must be a string')
    return dict({"kind": kind}, **_force_state[kind](data))


def reset():
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    with _lock:
        _faults.clear()
        _calls.clear()
    realistic.reset()
    for fn in _reset_hooks:
        fn()


def identify(environ):
    """(signing service, operation name or None, region, access key id) of an AWS request; all None if
    unsigned."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = _CREDENTIAL.search(auth) or _CREDENTIAL.search(
        "Credential=" + Request(environ).args.get("X-Amz-Credential", ""))
    if not m:
        return None, None, None, None
    key, region, service = m.group(1), m.group(2), m.group(3)
    try:
        operation, _ = get_service_router(BOTOCORE_NAME.get(service, service)).match(Request(dict(environ)))
        return service, operation.name, region, key
    except Exception:  # not a modelled operation (or an unknown service): log it unnamed
        return service, None, region, key


def error_code(headers, body):
    """The AWS error code of an error answer (its headers, its body's first 4 KiB), or None.

    Read where the SDKs read it (botocore/parsers.py): the x-amzn-ErrorType header
    ("Code:uri", BaseRestParser / RestJSONParser `_parse_error_from_http_status` and
    `_inject_error_code`), else the body: <Error><Code> of the query/ec2/rest-xml protocols
    (QueryParser, EC2QueryParser `_do_error_parse`; "Error codes for the Amazon EC2 API" puts
    RequestLimitExceeded there), or JSON `__type` ("prefix#Code", BaseJSONParser
    `_do_error_parse`) / a restJson `code` member. This models no AWS behaviour the tool meets:
    it only labels the call log for the benchmark (`bench/run.py` `throttled`)."""
    for name, value in headers:
        if name.lower() == "x-amzn-errortype" and value:
            return value.split(":", 1)[0].rsplit("#", 1)[-1]  # "Code:uri" or "Prefix#Code", as botocore reads it
    head = body[:4096]
    m = _XML_CODE.search(head) or _JSON_TYPE.search(head) or _JSON_CODE.search(head)
    return m.group(1).decode("utf-8", "replace") if m else None


def error_response(service, operation, code, message, status, content_type=""):
    """(status, headers, body) of an AWS error in the request's protocol (moto's serializer)."""
    model = get_service_model(BOTOCORE_NAME.get(service, service))
    protocol = determine_request_protocol(model, content_type)
    serializer = get_serializer_class(model.service_name, protocol)(operation_model=model.operation_model(operation))
    with warnings.catch_warnings():  # codes outside the service model are fine here
        warnings.simplefilter("ignore")
        out = serializer.serialize(InjectedFault(code, message))
    return status, out["headers"], out["body"]


def _take_fault(name, key=None):
    with _lock:
        for f in _faults:
            if f["operation"] == name and (f["except_key"] is None or f["except_key"] != key):
                f["count"] -= 1
                if f["count"] <= 0:
                    _faults.remove(f)
                return dict(f)
    return None


def _parse_fault(data):
    if not isinstance(data, dict) or ":" not in str(data.get("operation", "")):
        raise ValueError('"operation" must be "prefix:OperationName", e.g. "ec2:CreateNatGateway"')
    code = data.get("error_code")
    delay = float(data.get("delay_s", 0))
    count = int(data.get("count", 1))
    if count < 1 or delay < 0 or (not code and delay == 0):
        raise ValueError('need "count" >= 1 and an "error_code" or a positive "delay_s"')
    return {"operation": data["operation"], "count": count, "error_code": code,
            "status": int(data.get("status") or _DEFAULT_STATUS.get(code, 400)),
            "message": data.get("message") or f"Injected fault: {code}",
            "apply": bool(data.get("apply", False)), "delay_s": delay,
            "except_key": data.get("except_key")}


class ControlApp:
    """WSGI wrapper: serves /_emulator/, applies faults and logs every AWS call."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            return self._control(environ, start_response)
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        started = time.time()
        if _FORM in environ.get("CONTENT_TYPE", ""):  # query protocol: Action is in the body
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            service, operation, region, key = identify(dict(environ, **{"wsgi.input": io.BytesIO(body)}))
        else:
            service, operation, region, key = identify(environ)
        name = f"{service}:{operation}" if service and operation else (f"{service}:?" if service else None)
        fault = _take_fault(name, key) if operation else None
        transient = None if fault else realistic.transient_error(service, operation)
        if transient:  # --realistic: a rare 5xx, not applied (the SDKs retry it)
            code, status = transient
            fault = {"error_code": code, "status": status, "message": _TRANSIENT_MESSAGE[status], "apply": False,
                     "delay_s": 0}
        if fault and fault["delay_s"]:
            time.sleep(fault["delay_s"])
        seen = {}

        def capture(status, headers, exc_info=None):
            seen["status"] = int(status.split()[0])
            seen["headers"] = headers
            return start_response(status, headers, exc_info)

        if fault and fault["error_code"]:
            if fault["apply"]:  # let AWS do it, then lose the answer
                result = self.app(environ, lambda *a, **k: (lambda data: None))
                b"".join(result)
                getattr(result, "close", lambda: None)()
            status, headers, body = error_response(service, operation, fault["error_code"],
                                                   fault["message"], fault["status"], environ.get("CONTENT_TYPE", ""))
            body = body.encode() if isinstance(body, str) else body
            headers = dict(headers, **{"Content-Length": str(len(body))})
            start_response(f"{status} ERROR", list(headers.items()))
            seen["status"] = status
            seen["code"] = fault["error_code"]
            result = [body]
        else:
            result = self.app(environ, capture)
            if name and (seen.get("status") or 0) >= 400:
                # An error answer (small): read it here for its code (EC2's RequestLimitExceeded,
                # moto's and the extensions' own errors), then hand the same bytes on.
                try:
                    body = b"".join(result)
                finally:
                    getattr(result, "close", lambda: None)()
                result = [body]
                seen["code"] = error_code(seen.get("headers") or [], body)
        if name:
            with _lock:
                # dur_s: the time inside request handling (the service time a
                # benchmark attributes to the emulator), up to the answer.
                _calls.append({"t": started, "operation": name, "status": seen.get("status"), "region": region,
                               "dur_s": round(time.time() - started, 6), "key": key,
                               "code": seen.get("code")})
        return result

    def _control(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"].rstrip("/")
        status, out = 200, None
        try:
            if path == "/_emulator/health" and method == "GET":
                out = {"ready": True, "scale": profile.scale(), "throttle": profile.throttle_enabled(),
                       "realistic": realistic.enabled(), "seed": realistic.seed()}
            elif path == "/_emulator/reset" and method == "POST":
                reset()
                out = {"reset": True}
            elif path == "/_emulator/faults" and method == "POST":
                raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                fault = _parse_fault(json.loads(raw or b"{}"))
                with _lock:
                    _faults.append(fault)
                out = fault
            elif path == "/_emulator/faults" and method in ("GET", "DELETE"):
                with _lock:
                    if method == "DELETE":
                        _faults.clear()
                    out = {"faults": [dict(f) for f in _faults]}
            elif path == "/_emulator/force-state" and method == "POST":
                raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                out = force_state(json.loads(raw or b"{}"))
            elif path == "/_emulator/realistic" and method == "GET":
                out = realistic.status()
            elif path == "/_emulator/realistic" and method == "POST":
                raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                out = realistic.tune(json.loads(raw or b"{}"))
            elif path == "/_emulator/quotas" and method == "GET":
                from . import quotas  # here: quotas registers its reset hook with this module
                out = quotas.status()
            elif path == "/_emulator/quotas" and method == "POST":
                raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                from . import quotas
                out = quotas.tune(json.loads(raw or b"{}"))
            elif path == "/_emulator/denials" and method == "GET":
                from . import authz  # here: authz imports this module
                out = {"denials": authz.denials()}
            elif path == "/_emulator/calls" and method in ("GET", "DELETE"):
                with _lock:
                    if method == "DELETE":
                        _calls.clear()
                    out = {"calls": list(_calls)}
            else:
                status, out = 404, {"error": f"no control endpoint {method} {path}"}
        except (ValueError, TypeError) as e:
            status, out = 400, {"error": str(e)}
        body = json.dumps(out).encode()
        start_response(f"{status} {'OK' if status == 200 else 'ERROR'}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def install(app):
    """Wrap the (already extended) moto app; ``__main__`` calls this last, so it is outermost."""
    return ControlApp(app)

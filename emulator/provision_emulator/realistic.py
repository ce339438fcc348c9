"""``--realistic``: what AWS does that depends on time, seeded so a failing run can be replayed.

Off by default (then nothing here changes an answer). ``emulator/run --realistic [--seed N]``
turns on, together:

* Eventual consistency. For a window after a create, drawn per resource uniformly in
  ``EC_WINDOW_S`` (real-world seconds) times the profile scale, a describe that names the new
  resource answers the service's not-found error, and a list (filtered or not) leaves it out.
  EC2 API reference, "Eventual consistency in the Amazon EC2 API": "If you run a command to
  modify or describe the resource that you just created, its ID might not have propagated
  throughout the system, and you will get an error responding that the resource does not
  exist" (terraform-provider-aws internal/service/ec2/wait.go: ``ec2PropagationTimeout`` = 5
  minutes, citing that page; WaitSecurityGroupCreated and others keep polling through
  NotFound). The same holds for the
  other services of the stack (SageMaker, Network Firewall, IAM: IAM user guide, "Changes that I
  make are not always immediately visible": "IAM ... achieves high availability by replicating
  data across multiple servers ... changes are not immediately visible"). Kinds: EC2 VPC,
  subnet, route table, security group, NAT gateway, VPC endpoint, flow log; IAM role; SageMaker domain,
  user profile, space, app; Network Firewall firewall, policy, rule group. Extensions fill the
  registry with ``created(kind, key)`` where they create, and ``guard(...)`` wraps the
  describe/list response methods that consult it.
* IAM propagation. A role cannot be assumed by a service until ``IAM_WINDOW_S`` (real-world,
  drawn per role, times the scale) after CreateRole: the IAM user guide, same section, "we
  recommend that you ... verify that the changes have been propagated before production
  workflows depend on them"; terraform-provider-aws retries for ``iamPropagationTimeout`` = 2
  minutes (internal/service/ec2/wait.go: "We have settled on 2 minutes as the best timeout
  value"); seconds to tens of seconds are what is seen. SageMaker's CreateDomain, CreateUserProfile and CreateApp then answer
  ValidationException naming the role (``assumable``).
* Throttling: the EC2 token buckets (``--throttle``), which ``--realistic`` implies.
* Rare transient 5xx: every AWS call (never the control path) fails, before it is applied,
  with probability ``error_rate`` (default ``ERROR_RATE``) with the service's InternalError-like
  (HTTP 500) or ServiceUnavailable-like (503) code (``transient_error``). The SDKs retry these
  ("Retry behavior", AWS SDKs and Tools reference guide: transient errors are HTTP 500, 502,
  503, 504).

Each kind of draw has its own generator, ``random.Random(f"{seed}/{stream}")`` (windows per
resource kind, 5xx per operation), so one seed gives the same draws in the same order whatever
the other kinds do; only the interleaving of concurrent calls of one kind is up to scheduling.
"""
import random
import threading
import time

from . import profile

#: Eventual-consistency window after a create, real-world seconds (drawn uniformly per resource).
#: AWS gives no figure ("might not have propagated"); a second or two is what is commonly seen,
#: and the tool must cope with any value below its own bound (minutes).
EC_WINDOW_S = (0.0, 2.0)
#: Until a new role can be assumed by a service, real-world seconds (drawn uniformly per role).
IAM_WINDOW_S = (5.0, 15.0)
#: Share of AWS calls answered with a transient 5xx.
ERROR_RATE = 0.005

#: (HTTP 500 code, HTTP 503 code) per signing service; others: the common errors of the AWS
#: API references ("Common Errors": InternalFailure 500, ServiceUnavailable 503).
TRANSIENT_CODES = {
    "ec2": ("InternalError", "Unavailable"),  # "Error codes for the Amazon EC2 API", server errors
    "s3": ("InternalError", "ServiceUnavailable"),  # S3 API reference, "Error responses"
    "iam": ("ServiceFailure", "ServiceUnavailable"),  # botocore iam model, ServiceFailureException
    "network-firewall": ("InternalServerError", "ServiceUnavailable"),  # botocore model
}
DEFAULT_TRANSIENT = ("InternalFailure", "ServiceUnavailable")

_state = {"on": False, "seed": None, "error_rate": ERROR_RATE, "ec_window_s": EC_WINDOW_S,
          "iam_window_s": IAM_WINDOW_S}
_lock = threading.RLock()
_streams = {}  # stream name -> random.Random
_windows = {}  # (kind, key) -> (time.time() from which reads see it, the window drawn, scaled)


def configure(enabled, seed=None, error_rate=None):
    """Turn the mode on or off; returns the seed (drawn at random when on and none is given)."""
    if enabled and seed is None:
        seed = random.SystemRandom().randrange(1, 1_000_000)
    _state.update(on=bool(enabled), seed=seed if enabled else None,
                  error_rate=ERROR_RATE if error_rate is None else float(error_rate),
                  ec_window_s=EC_WINDOW_S, iam_window_s=IAM_WINDOW_S)
    reset()
    return _state["seed"]


def _bounds(value, name):
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and v >= 0 for v in value) or value[0] > value[1]):
        raise ValueError(f'"{name}" must be [low, high] seconds, 0 <= low <= high')
    return (float(value[0]), float(value[1]))


def tune(data):
    """Control path (POST /_emulator/realistic): change ``error_rate`` (0..1), ``ec_window_s`` or
    ``iam_window_s`` ([low, high] real-world seconds, still times the scale) for what follows; the
    answer is ``status()``. ValueError (400) when the mode is off or for a bad value."""
    if not _state["on"]:
        raise ValueError("the emulator runs without --realistic")
    if not isinstance(data, dict) or set(data) - {"error_rate", "ec_window_s", "iam_window_s"}:
        raise ValueError('expected a JSON object with "error_rate", "ec_window_s" and/or "iam_window_s"')
    update = {}
    if "error_rate" in data:
        rate = data["error_rate"]
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError('"error_rate" must be a number within 0..1')
        update["error_rate"] = float(rate)
    for name in ("ec_window_s", "iam_window_s"):
        if name in data:
            update[name] = _bounds(data[name], name)
    _state.update(update)
    return status()


def status():
    """Control path (GET /_emulator/realistic): the settings, and every window not yet over:
    ``{"kind", "key", "window_s" (as drawn, scaled), "visible_in_s"}``."""
    now = time.time()
    with _lock:
        pending = [{"kind": k, "key": key, "window_s": w, "visible_in_s": after - now}
                   for (k, key), (after, w) in _windows.items() if after > now]
    return {"realistic": _state["on"], "seed": _state["seed"], "scale": profile.scale(),
            "error_rate": error_rate(), "ec_window_s": list(_state["ec_window_s"]),
            "iam_window_s": list(_state["iam_window_s"]), "pending": pending}


def enabled():
    return _state["on"]


def seed():
    return _state["seed"]


def error_rate():
    return _state["error_rate"] if _state["on"] else 0.0


def reset():
    """Forget every window and restart every generator (control path reset; settings stay)."""
    with _lock:
        _streams.clear()
        _windows.clear()


def _rng(stream):
    g = _streams.get(stream)
    if g is None:
        g = _streams[stream] = random.Random(f"{_state['seed']}/{stream}")
    return g


def draw(stream, lo, hi):
    """The next value of `stream`, uniform in [lo, hi]."""
    with _lock:
        return _rng(stream).uniform(lo, hi)


def created(kind, key, window="ec_window_s"):
    """`key` of `kind` was just created: reads miss it for a window drawn from the kind's stream
    within the setting `window` (real-world seconds), times the scale. No-op when off."""
    if not _state["on"] or key is None:
        return
    seconds = draw(f"window/{kind}", *_state[window]) * profile.scale()
    with _lock:
        _windows[(kind, key)] = (time.time() + seconds, seconds)


def forget(kind, key):
    """`key` of `kind` is visible at once (e.g. planted through the control path as already there)."""
    with _lock:
        _windows.pop((kind, key), None)


def visible(kind, key):
    if not _state["on"]:
        return True
    with _lock:
        after = _windows.get((kind, key), (0, 0))[0]
    return time.time() >= after


# --- IAM propagation --------------------------------------------------------------------

ROLE_ASSUME = "iam.role.assume"


def role_created(arn):
    created(ROLE_ASSUME, arn, "iam_window_s")


def assumable(arn):
    """False while a role made by CreateRole is younger than its propagation window."""
    return visible(ROLE_ASSUME, arn)


def unassumable(*arns):
    """The first of `arns` (None and repeats skipped) a service cannot assume yet, or None."""
    return next((a for a in arns if a and not assumable(a)), None)


# --- transient 5xx ----------------------------------------------------------------------

def transient_error(service, operation):
    """(code, HTTP status) to fail this call with, or None. Drawn from the operation's stream."""
    rate = error_rate()
    if rate <= 0 or not service or not operation:
        return None
    with _lock:
        g = _rng(f"5xx/{service}:{operation}")
        hit = g.random() < rate
        unavailable = g.random() < 0.5
    if not hit:
        return None
    codes = TRANSIENT_CODES.get(service, DEFAULT_TRANSIENT)
    return (codes[1], 503) if unavailable else (codes[0], 500)


# --- reads that consult the registry --------------------------------------------------------

def guard(cls, method, kind, key_of, not_found, list_key=None, named=lambda response: False):
    """Wrap the response method ``cls.method`` (returning moto's ActionResult) so that it does not
    show what is in its eventual-consistency window.

    ``list_key``: the result's list of items (None: the result is one item, a describe).
    ``key_of(item)``: the registry key of an item. ``named(response)``: whether the request names
    resources (ids, names): then an item in its window answers ``not_found(key)`` (an exception),
    as a describe by id does; otherwise (a list, a filter) the item is left out."""
    orig = getattr(cls, method)

    def handler(self):
        result = orig(self)
        if not _state["on"]:
            return result
        body = result.result
        items = body if list_key is None else body.get(list_key)
        if list_key is None or named(self):
            for item in [items] if list_key is None else items or []:
                key = key_of(item)
                if not visible(kind, key):
                    raise not_found(key)
            return result
        shown = [i for i in items or [] if visible(kind, key_of(i))]
        if len(shown) == len(items or []):
            return result
        return type(result)(dict(body, **{list_key: shown}))

    handler.__name__ = method
    setattr(cls, method, handler)

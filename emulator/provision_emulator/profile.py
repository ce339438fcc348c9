"""Latency profile and time scale shared by every extension.

``delay(kind, "create_s")`` is the profile's seconds for that kind times the
scale (0 = instant). Set once at startup by ``configure``; tests may call
``configure`` again (the control path's reset keeps the profile).
"""
import json
import os
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROFILE = os.path.join(_HERE, "..", "latency-profile.json")

_state = {"kinds": {}, "throttling": {}, "scale": 0.0, "throttle": False}


def configure(profile_path=None, scale=0.0, throttle=False):
    with open(profile_path or DEFAULT_PROFILE) as f:
        data = json.load(f)
    _state["kinds"] = data.get("kinds", {})
    _state["throttling"] = data.get("throttling", {})
    _state["scale"] = float(scale)
    _state["throttle"] = bool(throttle)


def scale():
    return _state["scale"]


def throttle_enabled():
    return _state["throttle"]


def throttling_buckets():
    return _state["throttling"].get("buckets", {})


def delay(kind, key):
    """Seconds (already scaled) that `kind` takes for `key` ("create_s"/"delete_s")."""
    k = _state["kinds"].get(kind)
    if not k:
        return 0.0
    return float(k.get(key, 0)) * _state["scale"]


def elapsed_at_least(start, kind, key):
    """True once `delay(kind, key)` seconds have passed since `start` (time.time())."""
    return time.time() - start >= delay(kind, key)

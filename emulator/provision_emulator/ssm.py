"""AWS's public parameters of regions and services, and a region that lacks a service.

`provision`'s pre-flight asks Systems Manager whether the stack's region offers Network Firewall
and SageMaker: GetParameter on ``/aws/service/global-infrastructure/regions/REGION/services/SERVICE``,
which exists exactly when it does (AWS Systems Manager user guide, "Calling public parameters for
AWS services, Regions, endpoints, Availability Zones, local zones, and Wavelength Zones in Parameter
Store", https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters-global-infrastructure.html).
moto serves these parameters from its own copy (``moto/ssm/resources/regions.json`` and
``services.json``: 39 regions, each with network-firewall and sagemaker), loaded on first use in
every account and region; GetParameter, GetParameters and GetParametersByPath answer them as AWS
does (ParameterNotFound for a name that does not exist).

What moto cannot do is a region without one of them, which a test needs to see the pre-flight
refuse it:

  POST /_emulator/force-state {"kind": "region_service", "region": "eu-south-2",
                               "service": "network-firewall", "offered": false}

takes the service out of the region in every account and region's copy of the parameters (both
``regions/REGION/services/SERVICE...`` and ``services/SERVICE/regions/REGION...``): GetParameter
answers ParameterNotFound, GetParametersByPath and GetParameters leave them out. ``"offered": true``
puts it back; a reset puts every one back.
"""
import threading

from moto.ssm.models import ParameterDict, SimpleSystemManagerBackend

from . import control

_PREFIX = "/aws/service/global-infrastructure"
_lock = threading.Lock()
#: (region, service) pairs taken out.
_hidden = set()


def _is_hidden(name):
    """Whether the parameter ``name`` (a name, an ARN, or either with ``:version``) is taken out."""
    name = str(name or "")
    if name.startswith("arn:"):
        name = name.split(":parameter", 1)[-1]
    name = name.split(":", 1)[0]
    if not name.startswith(_PREFIX + "/"):
        return False
    parts = name[len(_PREFIX) + 1:].split("/")
    with _lock:
        hidden = set(_hidden)
    for region, service in hidden:
        if parts[:4] == ["regions", region, "services", service] or parts[:4] == ["services", service, "regions", region]:
            return True
    return False


def take_out(data):
    region, service = data.get("region"), data.get("service")
    if not (isinstance(region, str) and region and isinstance(service, str) and service):
        raise ValueError('"region" and "service" must be non-empty strings')
    offered = data.get("offered", False)
    if not isinstance(offered, bool):
        raise ValueError('"offered" must be true or false')
    with _lock:
        (_hidden.discard if offered else _hidden.add)((region, service))
    return {"region": region, "service": service, "offered": offered}


def _reset():
    with _lock:
        _hidden.clear()


def install(app):
    get_parameter = SimpleSystemManagerBackend.get_parameter
    keys = ParameterDict.get_keys_beginning_with

    def patched_get_parameter(self, name):
        return None if _is_hidden(name) else get_parameter(self, name)

    def patched_keys(self, path, recursive):
        return (k for k in keys(self, path, recursive) if not _is_hidden(k))

    SimpleSystemManagerBackend.get_parameter = patched_get_parameter
    ParameterDict.get_keys_beginning_with = patched_keys
    control.on_force_state("region_service", take_out)
    control.on_reset(_reset)
    return app

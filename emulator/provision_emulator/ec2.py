"""EC2 realism on top of moto's EC2 backend: lifecycles, dependency refusals, throttling.

Modelled AWS behaviour (probed against moto 5.2.5 first; only the holes are filled):

* Network ACLs: a custom ACL starts closed (its `*` rule 32767 denying both ways); a deleted
  subnet's association goes with it; DeleteVpc refuses while a custom ACL exists (see
  ``create_network_acl``, ``delete_subnet``, ``delete_vpc``); at most 20 numbered rules per
  direction (``NetworkAclEntryLimitExceeded``); deleting or replacing an entry that is not there
  is ``InvalidNetworkAclEntry.NotFound`` (``create_network_acl_entry``, ``delete_network_acl_entry``).

* NAT gateways: ``pending`` for ``ec2.nat_gateway`` create_s, then ``available``;
  DeleteNatGateway -> ``deleting`` for delete_s, then ``deleted`` (still listed, as AWS
  does); only then is its ENI released and its Elastic IP disassociated.
  DeleteNatGateway of an unknown id -> NatGatewayNotFound (moto: HTTP 500).
  The control path can force a gateway to ``failed`` (``force_nat_gateway_state``): it
  stays ``failed`` (FailureCode/FailureMessage) with its ENI and EIP association released,
  until DeleteNatGateway takes it through ``deleting`` -> ``deleted``.
* VPC endpoints: ``pending`` -> ``available`` (``ec2.vpce_interface`` for Interface and
  GatewayLoadBalancer endpoints, ``ec2.vpce_gateway`` for Gateway endpoints; an endpoint
  may carry ``lifecycle_kind`` to borrow another kind's timing, as firewall endpoints do).
  DeleteVpcEndpoints -> ``deleting`` for delete_s, then ``deleted`` (still listed), and only
  then are its ENIs and routes removed. Interface endpoints' ENIs carry the endpoint's security groups;
  GatewayLoadBalancer endpoints get an ENI per subnet too (moto makes none).
  Unknown ids come back in ``Unsuccessful`` (InvalidVpcEndpoint.NotFound).
  ModifyVpcEndpoint (moto edits only the id lists): Add/RemoveSubnetIds create/remove an
  Interface endpoint's ENIs (one subnet per AZ: DuplicateSubnetsInSameZone), Add/Remove
  SecurityGroupIds reach its ENIs, Add/RemoveRouteTableIds add/remove a Gateway endpoint's
  prefix-list routes.
* DependencyViolation (moto lets these through): DeleteSubnet while any ENI is in the
  subnet; DeleteSecurityGroup while an ENI uses the group or another group's rule
  references it; DeleteVpc while an internet gateway is attached, a non-default security
  group, an undeleted VPC endpoint or an undeleted NAT gateway remains (moto checks subnets and
  route tables itself); DetachInternetGateway while an Elastic IP in the VPC is mapped.
* ClientToken idempotency (CreateNatGateway, CreateRouteTable, CreateVpcEndpoint): the same
  token answers the same resource (as it is now); with other parameters,
  IdempotentParameterMismatch.
* Service-managed ENIs (NAT gateway, interface and GatewayLoadBalancer endpoints, which
  includes firewall endpoints) are ``in-use`` and requester-managed; DeleteNetworkInterface of
  an in-use ENI -> InvalidParameterValue. They go with their owner.
* Lingering ENIs (control path, force-state kind ``lingering_eni``, ``plant_lingering_eni``): an
  ENI in a given subnet, ``in-use`` and requester-managed for ``in_use_s`` wall-clock seconds, then
  ``available`` and not requester-managed, as SageMaker leaves its ENIs behind after their app or
  domain is gone (terraform-provider-aws#34397, cloudformation-coverage-roadmap#1327).
* What lingers: a deleted VPC endpoint stays listed as ``deleted`` (as a NAT gateway does); a
  route whose NAT gateway is deleted or failed, whose internet gateway is detached, or whose
  firewall endpoint is gone, is ``blackhole``.
* Refusals: a public NAT gateway in a VPC without an attached internet gateway ends
  ``failed`` (Gateway.NotAttached); ReleaseAddress of an associated address
  (InvalidIPAddress.InUse); CreateVpcEndpoint of an unknown service (InvalidServiceName) or
  of an interface endpoint with private DNS in a VPC without DNS support and hostnames
  (InvalidParameter); ModifyVpcAttribute with more than one attribute
  (InvalidParameterCombination); CreateRoute/ReplaceRoute to a missing gateway
  (InvalidGatewayID.NotFound) or NAT gateway (InvalidNatGatewayID.NotFound);
  DescribeNatGateways of an unknown id (NatGatewayNotFound).
* Request-rate token buckets from the profile's ``throttling`` section when
  ``profile.throttle_enabled()``: over the limit -> HTTP 503 RequestLimitExceeded. Refill rates are
  divided by the scale (time runs faster); at scale 0 (instant) a bucket never runs dry.
* Eventual consistency (``--realistic``, ``realistic.py``): a VPC, subnet, route table, security
  group, NAT gateway or VPC endpoint just created (by any caller: SageMaker's NFS groups and the
  firewall's endpoints too) is, for its drawn window, not found by a describe naming it and left
  out of lists.

Time-dependent state is computed from timestamps when read; ``settle(backend)`` (run
before every EC2 action) finishes deletions whose time is up. Other extensions may
register ``on_settle(fn)``; ``fn(backend)`` then runs inside every settle.
"""
import functools
import inspect
import json
import os
import threading
import time

from moto.core.responses import ActionResult
from moto.ec2.exceptions import DependencyViolationError, EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.models.nat_gateways import NatGateway
from moto.ec2.models.route_tables import Route
from moto.ec2.models.vpcs import VPCEndPoint
from moto.ec2.responses import EC2Response

from . import control, profile, realistic

_settle_hooks = []


def on_settle(fn):
    """Register ``fn(ec2_backend)``, run before every EC2 action (finish timed work)."""
    _settle_hooks.append(fn)


def _elapsed(start, kind, key):
    return time.time() - start >= profile.delay(kind, key)


# --- NAT gateways -------------------------------------------------------------------

# The reference for the EC2 error codes used below is "Error codes for the Amazon EC2 API"
# (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html), cited as
# "EC2 error codes".

def _nat_failure(self):
    """(FailureCode, FailureMessage) of a failed gateway, or None.

    Forced through the control path, or: a public gateway made in a VPC without an attached
    internet gateway fails with Gateway.NotAttached once it would have become available.
    botocore's ec2 model (NatGateway.FailureMessage): 'For Gateway.NotAttached: "Network
    vpc-xxxxxxxx has no Internet gateway attached"'."""
    forced = getattr(self, "_forced_failure", None)
    if forced:
        return forced
    if getattr(self, "_no_igw", False) and _elapsed(self._created_t, "ec2.nat_gateway", "create_s"):
        return "Gateway.NotAttached", f"Network {self.vpc_id} has no Internet gateway attached"
    return None


def _nat_get_state(self):
    if self._deleting_since is not None:
        return "deleted" if _elapsed(self._deleting_since, "ec2.nat_gateway", "delete_s") else "deleting"
    if _nat_failure(self):  # stays failed until deleted
        return "failed"
    return "available" if _elapsed(self._created_t, "ec2.nat_gateway", "create_s") else "pending"


def _nat_set_state(self, value):
    # moto writes "available" on create and "deleted" on delete: record the moments.
    if value == "deleted":
        if getattr(self, "_deleting_since", None) is None:
            self._deleting_since = time.time()
    else:
        self._created_t, self._deleting_since, self._released = time.time(), None, False


def _nat_failure_field(i):
    return property(lambda self: (_nat_failure(self) or (None, None))[i])


def _release_nat(backend, nat):
    """A deleted or failed NAT gateway gives back its ENI and Elastic IP association."""
    if nat._released:
        return
    nat._released = True
    backend.enis.pop(nat._eni.id, None)
    for eip in backend.addresses:
        if eip.eni is nat._eni:
            eip.eni, eip.association_id = None, None


def _igw_attached(backend, vpc_id):
    return any(igw.vpc is not None and igw.vpc.id == vpc_id for igw in backend.internet_gateways.values())


_orig_create_nat = EC2Backend.create_nat_gateway


def _leaving_nothing(backend, create, *args, **kwargs):
    """``create(backend, ...)``; if it raises, the ENIs it had made are removed: moto makes a NAT
    gateway's or an interface endpoint's ENIs before its last checks, where AWS makes nothing for a
    refused create."""
    before = set(backend.enis)
    try:
        return create(backend, *args, **kwargs)
    except Exception:
        for eni_id in set(backend.enis) - before:
            backend.enis.pop(eni_id, None)
        raise


def create_nat_gateway(self, *args, **kwargs):
    """A refused CreateNatGateway makes nothing. moto builds the gateway's ENI before it associates
    the Elastic IP, so an allocation the call cannot use (InvalidAllocationID.NotFound, an address
    already associated) left an ENI with no description in the subnet, one no AWS call ever makes:
    AWS creates a NAT gateway's interface with the gateway (EC2 User Guide, "Requester-managed
    network interfaces") and answers the refusal with nothing made (EC2 API reference,
    CreateNatGateway: the error codes of the call, no partial result)."""
    nat = _leaving_nothing(self, _orig_create_nat, *args, **kwargs)
    eni = nat._eni
    # A requester-managed ENI in use by the gateway (EC2 User Guide, "Requester-managed network
    # interfaces": a NAT gateway's interface is one; it goes when the gateway is deleted).
    eni.interface_type, eni.requester_managed, eni._group_set = "nat_gateway", True, []
    eni.description, eni.status = f"Interface for NAT Gateway {nat.id}", "in-use"
    # A public gateway needs an internet gateway attached to its VPC, or it fails (see _nat_failure).
    nat._no_igw = (nat.connectivity_type or "public") != "private" and not _igw_attached(self, nat.vpc_id)
    return nat


_orig_delete_nat = EC2Backend.delete_nat_gateway


def delete_nat_gateway(self, nat_gateway_id):
    if nat_gateway_id not in self.nat_gateways:
        raise EC2ClientError("NatGatewayNotFound", f"The Nat Gateway {nat_gateway_id} was not found")
    return _orig_delete_nat(self, nat_gateway_id)


_orig_describe_nats = EC2Backend.describe_nat_gateways


def describe_nat_gateways(self, filters, nat_gateway_ids):
    """An unknown id is an error, not an empty answer. EC2 error codes: "NatGatewayNotFound: The
    specified NAT gateway does not exist"; terraform-provider-aws (internal/service/ec2/find.go,
    findNATGatewayByID) treats that code as not found. moto answers an empty list."""
    missing = [i for i in nat_gateway_ids or [] if i not in self.nat_gateways]
    if missing:
        raise EC2ClientError("NatGatewayNotFound", f"NAT gateway {missing[0]} was not found")
    return _orig_describe_nats(self, filters, nat_gateway_ids)


# --- forced failure (control path: POST /_emulator/force-state) -----------------------

NAT_FORCEABLE_STATES = ("failed",)


def force_nat_gateway_state(data):
    """Put a pending or available NAT gateway into ``failed``, as AWS sometimes leaves one.

    ``data``: {"id": "nat-...", "state": "failed", "message": "...", "failure_code"?: "InternalError"}.
    DescribeNatGateways then shows State ``failed``, FailureCode and FailureMessage; the
    lifecycle no longer makes it ``available``; its ENI and Elastic IP association are released
    at once (AWS releases a failed gateway's resources). It stays listed as ``failed``;
    DeleteNatGateway takes it through ``deleting`` -> ``deleted`` as any other gateway.
    Raises ValueError (control answers 400) for a bad state, an unknown id, or a gateway that is
    already ``deleting``/``deleted``."""
    from moto.ec2.models import ec2_backends

    nat_id, state = data.get("id"), data.get("state")
    if state not in NAT_FORCEABLE_STATES:
        raise ValueError(f"state {state!r} not allowed for nat_gateway: one of {list(NAT_FORCEABLE_STATES)}")
    if not isinstance(nat_id, str) or not nat_id:
        raise ValueError('nat_gateway needs "id": "nat-..."')
    for account in list(ec2_backends.values()):
        for backend in list(account.values()):
            nat = backend.nat_gateways.get(nat_id)
            if nat is None:
                continue
            if nat.state in ("deleting", "deleted"):
                raise ValueError(f"NAT gateway {nat_id} is {nat.state}: only a pending, available or failed "
                                 "gateway can be forced to failed")
            nat._forced_failure = (str(data.get("failure_code") or "InternalError"),
                                   str(data.get("message") or "The NAT gateway failed (forced by the emulator)"))
            _release_nat(backend, nat)
            return {"id": nat_id, "state": "failed", "failure_code": nat.failure_code,
                    "message": nat.failure_message, "region": backend.region_name}
    raise ValueError(f"no NAT gateway {nat_id}")


# --- lingering ENIs (control path) -------------------------------------------------

def _release_lingering_enis(backend):
    """A planted ENI whose in-use time is up is detached: ``available``, no longer requester-managed."""
    now = time.time()
    for eni in list(backend.enis.values()):
        until = getattr(eni, "_in_use_until", None)
        if until is not None and now >= until:
            eni.status, eni.requester_managed, eni._in_use_until = "available", False, None


def plant_lingering_eni(data):
    """Control path (POST /_emulator/force-state, kind ``lingering_eni``): an ENI in ``subnet_id`` that
    reports Status ``in-use`` (RequesterManaged true) for ``in_use_s`` seconds of wall-clock time (not
    scaled by --scale; 0: available at the next EC2 call), then ``available`` with RequesterManaged false,
    as a service's ENI is left detached in the subnet after its owner is gone: SageMaker's ENIs outlive
    their endpoint or app and block the subnet and its security groups (terraform-provider-aws#34397,
    aws-cloudformation/cloudformation-coverage-roadmap#1327: "SageMaker creates Elastic Network Interfaces
    (ENIs) in the customer's account ... stack deletion will fail ... DependencyViolation"). Meanwhile
    DeleteNetworkInterface of it answers InvalidParameterValue "... is currently in use." (as for every
    in-use ENI here), DeleteSubnet and DeleteSecurityGroup of its groups answer DependencyViolation while it
    exists (also once available, until it is deleted).

    ``data``: {"subnet_id": "subnet-...", "in_use_s": N, "description"?: str, "tags"?: {"k": "v"},
    "group_ids"?: ["sg-..."] (default: the VPC's default group, as CreateNetworkInterface), "state"?: "in-use"}.
    Any account and region is searched for the subnet. Answers {"id", "subnet_id", "vpc_id", "state":
    "in-use", "in_use_s", "available_at" (epoch seconds), "description", "tags", "group_ids", "region"}.
    Raises ValueError (400) for a missing or unknown subnet, a bad ``in_use_s``, tags that are not a
    string-to-string object, a group not in the subnet's VPC, or another state."""
    from moto.ec2.models import ec2_backends

    subnet_id, in_use_s = data.get("subnet_id"), data.get("in_use_s")
    if data.get("state", "in-use") != "in-use":
        raise ValueError(f"state {data.get('state')!r} not allowed for lingering_eni: only 'in-use' (it becomes "
                         "'available' by itself after in_use_s)")
    if not isinstance(subnet_id, str) or not subnet_id:
        raise ValueError('lingering_eni needs "subnet_id": "subnet-..."')
    if isinstance(in_use_s, bool) or not isinstance(in_use_s, (int, float)) or in_use_s < 0:
        raise ValueError('lingering_eni needs "in_use_s": a number of seconds >= 0 (wall clock, not scaled)')
    description = data.get("description") or ""
    tags = data.get("tags") or {}
    if not isinstance(description, str):
        raise ValueError('"description" must be a string')
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ValueError('"tags" must be an object of string keys and values')
    group_ids = data.get("group_ids")
    if group_ids is not None and (not isinstance(group_ids, list) or not all(isinstance(g, str) for g in group_ids)):
        raise ValueError('"group_ids" must be a list of security group ids')
    for account in list(ec2_backends.values()):
        for backend in list(account.values()):
            subnet = next((sn for sn in backend.describe_subnets() if sn.id == subnet_id), None)
            if subnet is None:
                continue
            for g in group_ids or []:
                group = backend.get_security_group_from_id(g)
                if group is None or group.vpc_id != subnet.vpc_id:
                    raise ValueError(f"no security group {g} in {subnet.vpc_id}")
            eni = backend.create_network_interface(subnet, None, group_ids=group_ids or None,
                                                   description=description, tags=tags)
            eni.status, eni.requester_managed = "in-use", True
            eni._in_use_until = time.time() + float(in_use_s)
            return {"id": eni.id, "subnet_id": subnet_id, "vpc_id": subnet.vpc_id, "state": "in-use",
                    "in_use_s": in_use_s, "available_at": round(eni._in_use_until, 3), "description": description,
                    "tags": tags, "group_ids": [g.id for g in eni.group_set], "region": backend.region_name}
    raise ValueError(f"no subnet {subnet_id}")


# --- VPC endpoints ------------------------------------------------------------------

_VPCE_KIND = {"interface": "ec2.vpce_interface", "gatewayloadbalancer": "ec2.vpce_interface"}


def _vpce_kind(ep):
    return getattr(ep, "lifecycle_kind", None) or _VPCE_KIND.get(
        (ep.vpc_endpoint_type or "gateway").lower(), "ec2.vpce_gateway")


def _vpce_get_state(self):
    if getattr(self, "_deleted", False):
        return "deleted"
    if self._deleting_since is not None:
        return "deleting"  # settle() makes it deleted once delete_s has passed
    return "available" if _elapsed(self._created_t, _vpce_kind(self), "create_s") else "pending"


def _live(ep):
    """Not (yet) deleted: a deleted endpoint is only still listed."""
    return not getattr(ep, "_deleted", False)


def _vpce_set_state(self, value):
    if value == "available":
        self._created_t, self._deleting_since = time.time(), None


_orig_create_vpce = EC2Backend.create_vpc_endpoint


def create_vpc_endpoint(self, *args, **kwargs):
    ep = _leaving_nothing(self, _orig_create_vpce, *args, **kwargs)
    etype = (ep.vpc_endpoint_type or "gateway").lower()
    if etype == "gatewayloadbalancer":
        for subnet_id in ep.subnet_ids or []:
            eni = self.create_network_interface(subnet_id, None)
            eni.interface_type, eni._group_set = "gateway_load_balancer_endpoint", []
            ep.network_interface_ids.append(eni.id)
    groups = [g for g in map(self.get_security_group_from_id, ep.security_group_ids) if g]
    for eni_id in ep.network_interface_ids:
        eni = self.enis[eni_id]
        # Requester-managed and in use by the endpoint (EC2 User Guide, "Requester-managed network
        # interfaces": an interface VPC endpoint's interface is one; it goes with the endpoint).
        eni.requester_managed, eni.description = True, f"VPC Endpoint Interface {ep.id}"
        eni.status = "in-use"
        if etype == "interface":
            eni.interface_type = "vpc_endpoint"
            if groups:
                eni._group_set = list(groups)
    return ep


_orig_modify_vpce = EC2Backend.modify_vpc_endpoint


def modify_vpc_endpoint(self, vpc_id, policy_doc, add_subnets=None, remove_subnets=None, remove_route_tables=None,
                        add_route_tables=None, add_security_groups=None, remove_security_groups=None):
    """moto's ModifyVpcEndpoint only edits the id lists; AWS also moves the ENIs and routes.

    Interface endpoints: an ENI (the endpoint's groups) per added subnet, one subnet per AZ
    (DuplicateSubnetsInSameZone); a removed subnet's ENI goes at once; changed groups reach
    every ENI. Gateway endpoints: a prefix-list route per added table, removed per removed one.
    (`vpc_id` is the endpoint id: moto's parameter name.)"""
    ep = self.describe_vpc_endpoints(vpc_end_point_ids=[vpc_id])[0]  # InvalidVpcEndpointId.NotFound
    etype = (ep.vpc_endpoint_type or "gateway").lower()
    current = list(ep.subnet_ids or [])
    new_subnets = [s for s in dict.fromkeys(add_subnets or []) if s not in current]
    gone_subnets = [s for s in current if s in (remove_subnets or [])]
    if etype == "interface" and new_subnets:
        zones = {self.get_subnet(s).availability_zone for s in current if s not in gone_subnets}
        for subnet_id in new_subnets:
            subnet = self.get_subnet(subnet_id)  # InvalidSubnetID.NotFound
            if subnet.vpc_id != ep.vpc_id:
                raise EC2ClientError("InvalidParameter", f"Subnet {subnet_id} is not in VPC {ep.vpc_id}")
            if subnet.availability_zone in zones:
                raise EC2ClientError(
                    "DuplicateSubnetsInSameZone",
                    f"Found another VPC endpoint subnet in the availability zone of {subnet_id}. VPC endpoint "
                    "subnets should be in different availability zones supported by the VPC endpoint service.")
            zones.add(subnet.availability_zone)
    new_tables = [t for t in dict.fromkeys(add_route_tables or []) if t not in ep.route_table_ids]
    gone_tables = [t for t in ep.route_table_ids if t in (remove_route_tables or [])]
    for rt_id in new_tables:
        self.get_route_table(rt_id)  # InvalidRouteTableID.NotFound
    _orig_modify_vpce(self, vpc_id, policy_doc, add_subnets, remove_subnets, remove_route_tables,
                      add_route_tables, add_security_groups, remove_security_groups)
    if etype == "interface":
        for eni_id in list(ep.network_interface_ids):
            eni = self.enis.get(eni_id)
            if eni is None or (eni.subnet is not None and eni.subnet.id in gone_subnets):
                ep.network_interface_ids.remove(eni_id)
                self.enis.pop(eni_id, None)
        for subnet_id in new_subnets:
            ep.network_interface_ids.append(_endpoint_eni(self, ep, subnet_id).id)
        if add_security_groups or remove_security_groups:
            groups = [g for g in map(self.get_security_group_from_id, ep.security_group_ids) if g]
            for eni_id in ep.network_interface_ids:
                self.enis[eni_id]._group_set = list(groups)
    if ep.destination_prefix_list_id:
        for rt_id in new_tables:
            self.create_route(rt_id, None, gateway_id=ep.id, destination_prefix_list_id=ep.destination_prefix_list_id)
        for rt_id in gone_tables:
            try:
                self.delete_route(rt_id, ep.destination_prefix_list_id)
            except EC2ClientError:  # route or table already gone
                pass


def _endpoint_eni(backend, ep, subnet_id):
    """An interface endpoint's ENI in `subnet_id`, as CreateVpcEndpoint makes them here."""
    groups = [g for g in map(backend.get_security_group_from_id, ep.security_group_ids) if g]
    eni = backend.create_network_interface(backend.get_subnet(subnet_id), None)
    eni.requester_managed, eni.description = True, f"VPC Endpoint Interface {ep.id}"
    eni.interface_type, eni._group_set, eni.status = "vpc_endpoint", list(groups), "in-use"
    return eni


def begin_delete_vpc_endpoint(backend, ep):
    """Start an endpoint's deletion; settle() removes it after its kind's delete_s."""
    if ep._deleting_since is None:
        ep._deleting_since = time.time()


def delete_vpc_endpoints(self, vpce_ids=None):
    """Returns the ids that were not found (AWS reports them in Unsuccessful)."""
    missing = []
    for vpce_id in vpce_ids or []:
        ep = self.vpc_end_points.get(vpce_id)
        if ep is None:
            missing.append(vpce_id)
        else:
            begin_delete_vpc_endpoint(self, ep)
    settle(self)
    return missing


def _remove_vpc_endpoint(backend, ep):
    """The endpoint is deleted: its ENIs go, and so do a gateway endpoint's prefix-list routes.

    It stays listed with State ``deleted`` (moto's own DeleteVpcEndpoints does the same; AWS
    keeps returning deleted endpoints for a while: terraform-provider-aws's finder
    findVPCEndpointByID, internal/service/ec2/find.go, treats State ``deleted`` as not found;
    openshift/hypershift#9517: "AWS continues to return endpoints in Deleting and Deleted states
    for a period after DeleteVpcEndpoints"). Here it stays until a reset."""
    for eni_id in ep.network_interface_ids:
        backend.enis.pop(eni_id, None)
    ep.network_interface_ids = []
    if ep.destination_prefix_list_id:
        for rt_id in ep.route_table_ids:
            try:
                backend.delete_route(rt_id, ep.destination_prefix_list_id)
            except EC2ClientError:  # route or table already gone
                pass
    ep._deleted = True


def _delete_vpc_endpoints_response(self):
    ids = self._get_param("VpcEndpointIds", [])
    missing = self.ec2_backend.delete_vpc_endpoints(vpce_ids=ids)
    return ActionResult({"Unsuccessful": [
        {"ResourceId": i, "Error": {"Code": "InvalidVpcEndpoint.NotFound",
                                    "Message": f"The VpcEndpoint Id '{i}' does not exist"}}
        for i in missing]})


# --- settle: finish whatever deletions are due ----------------------------------------

def settle(backend):
    _release_lingering_enis(backend)
    for nat in list(backend.nat_gateways.values()):
        if nat.state in ("deleted", "failed"):
            _release_nat(backend, nat)
    for ep in list(backend.vpc_end_points.values()):
        if _live(ep) and ep._deleting_since is not None and _elapsed(ep._deleting_since, _vpce_kind(ep), "delete_s"):
            _remove_vpc_endpoint(backend, ep)
    for fn in _settle_hooks:
        fn(backend)


# --- routes ---------------------------------------------------------------------------

def _route_state(self):
    """``blackhole`` when the route's target is not available, else ``active``.

    botocore's ec2 model (Route.State): "The blackhole state indicates that the route's target
    isn't available (for example, the specified gateway isn't attached to the VPC, or the
    specified NAT instance has been terminated)". Here: a NAT gateway deleted or failed, an
    internet gateway not attached to the table's VPC, or a (firewall) endpoint deleted."""
    nat = self.nat_gateway
    if nat is not None and nat.state in ("deleted", "failed"):
        return "blackhole"
    gw = self.gateway
    if gw is not None and gw.id.startswith("igw-") and (gw.vpc is None or gw.vpc.id != self.route_table.vpc_id):
        return "blackhole"
    if self.vpc_endpoint_id:
        ep = self.route_table.ec2_backend.vpc_end_points.get(self.vpc_endpoint_id)
        if ep is None or not _live(ep):
            return "blackhole"
    return "active"


def _check_route_target(backend, gateway_id=None, nat_gateway_id=None):
    """CreateRoute/ReplaceRoute to a target that does not exist. EC2 error codes:
    "InvalidGatewayID.NotFound: The specified gateway does not exist", "InvalidNatGatewayID.NotFound:
    The specified NAT gateway ID does not exist". The message is EC2's: terraform-provider-aws
    (internal/service/ec2/vpc_route.go) matches "The gateway ID 'local' does not exist" on
    InvalidGatewayID.NotFound. moto answered InvalidInternetGatewayID.NotFound for an internet
    gateway and made a route to nothing for a NAT gateway."""
    if gateway_id and gateway_id.startswith("igw-") and gateway_id not in backend.internet_gateways:
        raise EC2ClientError("InvalidGatewayID.NotFound", f"The gateway ID '{gateway_id}' does not exist")
    if nat_gateway_id and nat_gateway_id not in backend.nat_gateways:
        raise EC2ClientError("InvalidNatGatewayID.NotFound", f"The natGateway ID '{nat_gateway_id}' does not exist")


_orig_create_route = EC2Backend.create_route
_orig_replace_route = EC2Backend.replace_route


def create_route(self, *args, **kwargs):
    given = inspect.signature(_orig_create_route).bind(self, *args, **kwargs).arguments
    _check_route_target(self, given.get("gateway_id"), given.get("nat_gateway_id"))
    return _orig_create_route(self, *args, **kwargs)


def replace_route(self, *args, **kwargs):
    given = inspect.signature(_orig_replace_route).bind(self, *args, **kwargs).arguments
    _check_route_target(self, given.get("gateway_id"), given.get("nat_gateway_id"))
    return _orig_replace_route(self, *args, **kwargs)


# --- Elastic IPs ----------------------------------------------------------------------

_orig_release_address = EC2Backend.release_address


def release_address(self, address=None, allocation_id=None):
    """An associated address is not released. botocore's ec2 model (ReleaseAddress):
    "[Nondefault VPC] You must disassociate the Elastic IP address before you can release it.
    Otherwise, Amazon EC2 returns an error (InvalidIPAddress.InUse)". moto disassociated it."""
    eips = self.address_by_ip([address]) if address else self.address_by_allocation([allocation_id])
    if eips and (eips[0].eni is not None or eips[0].instance is not None):
        raise EC2ClientError("InvalidIPAddress.InUse", f"Address {eips[0].public_ip} is in use.")
    return _orig_release_address(self, address=address, allocation_id=allocation_id)


# --- API-level rules (the backend methods stay usable by the other extensions) ----------

class IdempotentParameterMismatch(EC2ClientError):
    def __init__(self, action, token):
        super().__init__("IdempotentParameterMismatch",
                         f"Client token '{token}' was used with different parameters in an earlier {action} request.")


_tokens = {}  # (account, region, action, token) -> (parameters, resource)
_token_lock = threading.RLock()


def _idempotent(method, action, key):
    """``method`` (an EC2Response create) honouring ClientToken, as EC2 does ("Ensuring
    idempotency in Amazon EC2 API requests",
    https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html): "If you retry a
    request with the same client token and the same parameters after it has completed
    successfully, the result of the original request is returned. If you retry a request with
    the same client token, but change one or more of the API parameters, the
    IdempotentParameterMismatch error is returned." The result shows the resource as it is now
    ("the result might contain updated information, such as the current creation status").
    botocore's ec2 model marks ClientToken of CreateNatGateway, CreateRouteTable and
    CreateVpcEndpoint as ``idempotencyToken``."""
    orig = getattr(EC2Response, method)

    def handler(self):
        token = self._get_param("ClientToken")
        if not token:
            return orig(self)
        params = {k: v for k, v in self.querystring.items() if k not in ("ClientToken", "Action", "Version")}
        seen_key = (self.current_account, self.region, action, token)
        with _token_lock:
            seen = _tokens.get(seen_key)
            if seen is not None:
                if seen[0] != params:
                    raise IdempotentParameterMismatch(action, token)
                return ActionResult({key: seen[1], "ClientToken": token})
            result = orig(self)
            _tokens[seen_key] = (params, result.result[key])
            return ActionResult(dict(result.result, ClientToken=token))

    handler.__name__ = method
    return handler


_SERVICES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vpc_endpoint_services.json")


@functools.cache
def known_endpoint_services(region):
    """The AWS service names DescribeVpcEndpointServices lists for `region` (moto 5.2.5's list)."""
    with open(_SERVICES_FILE) as f:
        return frozenset(t.replace("{region}", region) for t in json.load(f)["services"])


def _true(v):
    return v is True or str(v).lower() == "true"


_orig_create_vpce_response = EC2Response.create_vpc_endpoint


def create_vpc_endpoint_response(self):
    """CreateVpcEndpoint's refusals that moto lacks, checked before anything is made.

    * An unknown service: EC2 error codes, "InvalidServiceName: The name of the service is not
      valid. To get a list of available service names, use DescribeVpcEndpointServices." The
      names known are those DescribeVpcEndpointServices lists: moto's list of AWS services for
      the region (kept in vpc_endpoint_services.json: to answer it moto builds every service's
      backend for the region, a second's stall; a test checks the file against moto), plus
      this account's endpoint service configurations.
    * An interface endpoint with private DNS (AWS's default when PrivateDnsEnabled is omitted)
      in a VPC without both DNS attributes on: botocore's ec2 model (CreateVpcEndpoint
      PrivateDnsEnabled): "To use a private hosted zone, you must set the following VPC
      attributes to true: enableDnsHostnames and enableDnsSupport." EC2 answers InvalidParameter."""
    service = self._get_param("ServiceName") or ""
    if service not in known_endpoint_services(self.region) and \
            service not in [c.service_name for c in self.ec2_backend.configurations.values()]:
        raise EC2ClientError("InvalidServiceName", f"The Vpc Endpoint Service '{service}' does not exist")
    if (self._get_param("VpcEndpointType") or "Gateway").lower() == "interface" \
            and self._get_bool_param("PrivateDnsEnabled", if_none=True):
        vpc_id = self._get_param("VpcId")
        vpc = self.ec2_backend.get_vpc(vpc_id)  # InvalidVpcID.NotFound
        if not (_true(vpc.enable_dns_support) and _true(vpc.enable_dns_hostnames)):
            raise EC2ClientError(
                "InvalidParameter",
                f"Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes "
                f"set to true for {vpc_id}")
    return _orig_create_vpce_response(self)


_orig_modify_vpc_attribute = EC2Response.modify_vpc_attribute
_VPC_ATTRIBUTES = ("EnableDnsSupport", "EnableDnsHostnames", "EnableNetworkAddressUsageMetrics")


def modify_vpc_attribute_response(self):
    """One attribute per request. botocore's ec2 model (ModifyVpcAttribute EnableDnsHostnames):
    "You cannot modify the DNS resolution and DNS hostnames attributes in the same request. Use
    separate requests for each attribute." EC2's answer (aws/aws-sdk-go#415, apache/libcloud#328):
    "InvalidParameterCombination: Fields for multiple attribute types specified: enableDnsSupport,
    enableDnsHostnames". moto applied both."""
    given = [a for a in _VPC_ATTRIBUTES if self._get_param(f"{a}.Value") is not None]
    if len(given) > 1:
        raise EC2ClientError("InvalidParameterCombination", "Fields for multiple attribute types specified: "
                             + ", ".join(a[0].lower() + a[1:] for a in given))
    return _orig_modify_vpc_attribute(self)


_orig_delete_eni_response = EC2Response.delete_network_interface


def delete_network_interface_response(self):
    """An interface in use (a NAT gateway's, an endpoint's, a mount target's) is not deleted.
    EC2 error codes: "InvalidNetworkInterface.InUse: The specified interface is currently in use
    and cannot be deleted ... If a network interface is in use, you may also receive the
    InvalidParameterValue error"; what EC2 answers for an interface endpoint's ENI
    (gruntwork-io/cloud-nuke#431): "InvalidParameterValue: Network interface 'eni-...' is
    currently in use." The EC2 User Guide ("Requester-managed network interfaces"): when the
    resource is deleted, the service detaches and deletes the interface; a detached one may be
    deleted. Other extensions release their ENIs through the backend, not through this call."""
    eni_id = self._get_param("NetworkInterfaceId")
    eni = self.ec2_backend.get_network_interface(eni_id)  # InvalidNetworkInterfaceID.NotFound
    if eni.status == "in-use":
        raise EC2ClientError("InvalidParameterValue", f"Network interface '{eni_id}' is currently in use.")
    return _orig_delete_eni_response(self)


# --- dependency refusals ------------------------------------------------------------

_orig_delete_subnet = EC2Backend.delete_subnet


def delete_subnet(self, subnet_id):
    if any(eni.subnet is not None and eni.subnet.id == subnet_id for eni in self.enis.values()):
        raise DependencyViolationError(f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
    out = _orig_delete_subnet(self, subnet_id)
    # Its network ACL association goes with it (moto keeps it: a deleted subnet stayed associated).
    for acl in self.network_acls.values():
        for assoc_id in [a for a, assoc in acl._associations.items() if assoc.subnet_id == subnet_id]:
            del acl._associations[assoc_id]
    return out


_orig_create_network_acl = EC2Backend.create_network_acl


def create_network_acl(self, vpc_id, tags=None, default=False):
    """A custom network ACL starts closed: "Each custom network ACL starts out closed (that is, it denies
    all inbound traffic) until you add a rule", and every ACL ends with the rule numbered `*` that denies
    what no numbered rule matched (VPC user guide, "Custom network ACLs for your VPC"; DescribeNetworkAcls
    lists it as RuleNumber 32767, action deny, both directions). moto made a custom ACL with no entry."""
    acl = _orig_create_network_acl(self, vpc_id, tags=tags, default=default)
    if not default:
        for egress in (True, False):
            self.create_network_acl_entry(network_acl_id=acl.id, rule_number=32767, protocol="-1",
                                          rule_action="deny", egress=egress, cidr_block="0.0.0.0/0", icmp_code=None,
                                          icmp_type=None, port_range_from=None, port_range_to=None,
                                          ipv6_cidr_block=None)
    return acl


# "Inbound or outbound rules per network ACL: 20" (VPC user guide, "Amazon VPC quotas", Network
# ACLs; adjustable to 40, the `*` rule not counted), refused with NetworkAclEntryLimitExceeded (EC2 API
# reference, "Error codes": "You've reached the limit on the number of rules that you can add to the
# network ACL"). moto set no limit.
NACL_RULES_PER_DIRECTION = 20

_orig_create_network_acl_entry = EC2Backend.create_network_acl_entry
_orig_delete_network_acl_entry = EC2Backend.delete_network_acl_entry


def create_network_acl_entry(self, network_acl_id, rule_number, protocol, rule_action, egress, cidr_block,
                             icmp_code, icmp_type, port_range_from, port_range_to, ipv6_cidr_block):
    acl = self.get_network_acl(network_acl_id)
    numbered = [e for e in acl.network_acl_entries
                if _acl_egress(e.egress) == _acl_egress(egress) and int(e.rule_number) != 32767]
    if int(rule_number) != 32767 and len(numbered) >= NACL_RULES_PER_DIRECTION:
        raise EC2ClientError("NetworkAclEntryLimitExceeded",
                             f"The maximum number of network ACL entries ({NACL_RULES_PER_DIRECTION}) "
                             f"has been reached for {network_acl_id}.")
    return _orig_create_network_acl_entry(self, network_acl_id, rule_number, protocol, rule_action, egress,
                                          cidr_block, icmp_code, icmp_type, port_range_from, port_range_to,
                                          ipv6_cidr_block)


def delete_network_acl_entry(self, network_acl_id, rule_number, egress):
    """DeleteNetworkAclEntry (and ReplaceNetworkAclEntry, which moto makes of a delete and a create) of
    an entry that is not there: InvalidNetworkAclEntry.NotFound (EC2 API reference, "Error codes":
    "The specified network ACL entry does not exist"). moto raised StopIteration, a 500."""
    acl = self.get_network_acl(network_acl_id)
    if not any(_acl_egress(e.egress) == _acl_egress(egress) and int(e.rule_number) == int(rule_number)
               for e in acl.network_acl_entries):
        raise EC2ClientError("InvalidNetworkAclEntry.NotFound",
                             f"The network ACL entry identified by {rule_number} "
                             f"({'egress' if _acl_egress(egress) else 'ingress'}) does not exist in {network_acl_id}.")
    return _orig_delete_network_acl_entry(self, network_acl_id, rule_number, egress)


def _acl_egress(v):
    """moto keeps Egress as the request's text ("true"/"false") or a bool, depending on the caller."""
    return v is True or str(v).lower() == "true"


_orig_delete_sg = EC2Backend.delete_security_group


def delete_security_group(self, name=None, group_id=None):
    sg = self.get_security_group_from_id(group_id) if group_id else (
        self.get_security_group_by_name_or_id(name) if name else None)
    if sg is not None:
        in_use = any(sg in eni.group_set for eni in self.enis.values())
        referenced = any(
            rule.source_group.get("GroupId") == sg.id
            for groups in self.groups.values() for other in groups.values() if other is not sg
            for rule in other.ingress_rules + other.egress_rules)
        if in_use or referenced:
            raise DependencyViolationError(f"resource {sg.id} has a dependent object")
    return _orig_delete_sg(self, name=name, group_id=group_id)


_orig_delete_vpc = EC2Backend.delete_vpc


def delete_vpc(self, vpc_id):
    if vpc_id in self.vpcs:
        blockers = (
            [igw.id for igw in self.internet_gateways.values() if igw.vpc is not None and igw.vpc.id == vpc_id]
            + [g.id for g in self.groups.get(vpc_id, {}).values() if g.name != "default"]
            + [ep.id for ep in self.vpc_end_points.values() if ep.vpc_id == vpc_id and _live(ep)]
            + [n.id for n in self.nat_gateways.values() if n.vpc_id == vpc_id and n.state != "deleted"]
            # Custom network ACLs too (DeleteVpc, EC2 API reference: "You must ... delete all
            # ... resources that are associated with the VPC"; the VPC console deletes its network ACLs
            # before the VPC). moto dropped the VPC and kept them.
            + [a.id for a in self.network_acls.values() if a.vpc_id == vpc_id and not a.default])
        if blockers:
            raise DependencyViolationError(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
    return _orig_delete_vpc(self, vpc_id)


_orig_detach_igw = EC2Backend.detach_internet_gateway


def detach_internet_gateway(self, internet_gateway_id, vpc_id):
    mapped = [eip.public_ip for eip in self.addresses
              if eip.eni is not None and eip.eni.subnet is not None and eip.eni.subnet.vpc_id == vpc_id]
    if mapped:
        raise DependencyViolationError(
            f"Network {vpc_id} has some mapped public address(es). "
            "Please unmap those public address(es) before detaching the gateway.")
    return _orig_detach_igw(self, internet_gateway_id, vpc_id)


# --- throttling ---------------------------------------------------------------------

_buckets = {}  # (account, region, bucket key) -> [tokens, last refill time]
_bucket_lock = threading.Lock()
_NARROWING = ("Filter.", "MaxResults", "NextToken", "NetworkInterfaceId.", "GroupId.", "GroupName.")


def bucket_for(action, params):
    """The profile's bucket key that `action` (with query `params`) draws from, or None."""
    buckets = profile.throttling_buckets()
    special = {k.split(" ")[0]: k for k in buckets if "(" in k}
    for key in buckets:
        if "(" not in key and action in [a.strip() for a in key.split(",")]:
            return key
    unfiltered = special.get("unfiltered")
    if unfiltered and action in unfiltered and not any(p.startswith(_NARROWING) for p in params):
        return unfiltered
    if action.startswith(("Describe", "List", "Get")):
        return special.get("non-mutating")
    return special.get("mutating")


def take_token(account, region, action, params):
    """True if the call may proceed; False when its bucket is empty (RequestLimitExceeded)."""
    key = bucket_for(action, params)
    if key is None or profile.scale() == 0:  # scale 0: time is instant, a bucket refills at once
        return True
    spec = profile.throttling_buckets()[key]
    rate = spec["refill_per_s"] / profile.scale()
    now = time.time()
    with _bucket_lock:
        tokens, last = _buckets.get((account, region, key), (spec["capacity"], now))
        tokens = min(spec["capacity"], tokens + (now - last) * rate)
        ok = tokens >= 1
        _buckets[(account, region, key)] = (tokens - 1 if ok else tokens, now)
    return ok


class RequestLimitExceeded(EC2ClientError):
    code = "RequestLimitExceeded"
    message = "Request limit exceeded."


_orig_call_action = EC2Response.call_action


def call_action(self):
    if profile.throttle_enabled() and not take_token(
            self.current_account, self.region, self._get_action(), list(self.querystring)):
        _, headers, body = self.serialized(ActionResult(RequestLimitExceeded()))
        return 503, headers, body
    settle(self.ec2_backend)
    return _orig_call_action(self)


def _reset():
    _buckets.clear()
    with _token_lock:
        _tokens.clear()


# --- eventual consistency (--realistic) -------------------------------------------------

# kind -> (backend create method, DescribeX response method, result list, request ids/names, not-found).
# The codes: "Error codes for the Amazon EC2 API" (InvalidVpcID.NotFound, InvalidSubnetID.NotFound,
# InvalidRouteTableID.NotFound, InvalidGroup.NotFound, NatGatewayNotFound, InvalidVpcEndpointId.NotFound).
EVENTUAL = {
    "ec2.vpc": ("create_vpc", "describe_vpcs", "Vpcs", ("VpcIds",),
                lambda i: EC2ClientError("InvalidVpcID.NotFound", f"The vpc ID '{i}' does not exist")),
    "ec2.subnet": ("create_subnet", "describe_subnets", "Subnets", ("SubnetIds",),
                   lambda i: EC2ClientError("InvalidSubnetID.NotFound", f"The subnet ID '{i}' does not exist")),
    "ec2.route_table": ("create_route_table", "describe_route_tables", "RouteTables", ("RouteTableIds",),
                        lambda i: EC2ClientError("InvalidRouteTableID.NotFound",
                                                 f"The routeTable ID '{i}' does not exist")),
    "ec2.security_group": ("create_security_group", "describe_security_groups", "SecurityGroups",
                           ("GroupIds", "GroupNames"),
                           lambda i: EC2ClientError("InvalidGroup.NotFound", f"The security group '{i}' does not exist")),
    "ec2.nat_gateway": ("create_nat_gateway", "describe_nat_gateways", "NatGateways", ("NatGatewayIds",),
                        lambda i: EC2ClientError("NatGatewayNotFound", f"NAT gateway {i} was not found")),
    "ec2.vpc_endpoint": ("create_vpc_endpoint", "describe_vpc_endpoints", "VpcEndpoints", ("VpcEndpointIds",),
                         lambda i: EC2ClientError("InvalidVpcEndpointId.NotFound",
                                                  f"The VpcEndpoint Id '{i}' does not exist")),
}


def _registering(kind, create):
    def wrapped(self, *args, **kwargs):
        made = create(self, *args, **kwargs)
        realistic.created(kind, made.id)
        return made

    wrapped.__name__ = create.__name__
    return wrapped


def _install_eventual():
    for kind, (create, describe, items, params, not_found) in EVENTUAL.items():
        setattr(EC2Backend, create, _registering(kind, getattr(EC2Backend, create)))
        realistic.guard(EC2Response, describe, kind, lambda o: o.id, not_found, list_key=items,
                        named=lambda r, params=params: any(r._get_param(p) for p in params))


def _registering_flow_logs(create):
    """CreateFlowLogs answers (flow logs, unsuccessful): each new flow log enters its window."""
    def wrapped(self, *args, **kwargs):
        made, unsuccessful = create(self, *args, **kwargs)
        for fl in made:
            realistic.created("ec2.flow_log", fl.id)
        return made, unsuccessful

    wrapped.__name__ = create.__name__
    return wrapped


def _flow_log_role_propagation(create):
    """--realistic: CreateFlowLogs with a delivery role younger than its IAM propagation window
    (``realistic.assumable``) is refused, before anything is made, with InvalidParameter "Unable
    to assume given IAM role, or role does not exist": the answer terraform-provider-aws retries
    for its IAM propagation timeout (internal/service/ec2/vpc_flow_log.go, resourceLogFlowCreate:
    RetryWhenAWSErrMessageContains(ctx, iamPropagationTimeout, ..., errCodeInvalidParameter,
    "Unable to assume given IAM role"))."""
    def wrapped(self, *args, **kwargs):
        role = kwargs.get("deliver_logs_permission_arn")
        if role and not realistic.assumable(role):
            raise EC2ClientError("InvalidParameter", "Unable to assume given IAM role, or role does not exist")
        return create(self, *args, **kwargs)

    wrapped.__name__ = create.__name__
    return wrapped


def _install_flow_log_eventual():
    """A flow log just created is left out of DescribeFlowLogs for its window, by id or filter:
    DescribeFlowLogs answers an unknown id with an empty list, not an error (EC2 API reference,
    DescribeFlowLogs; the eventual consistency of the EC2 API, above)."""
    EC2Backend.create_flow_logs = _registering_flow_logs(_flow_log_role_propagation(EC2Backend.create_flow_logs))
    realistic.guard(EC2Response, "describe_flow_logs", "ec2.flow_log", lambda o: o.id,
                    lambda i: EC2ClientError("InvalidFlowLogId.NotFound", f"Flow log {i} does not exist"),
                    list_key="FlowLogs")


def install(app):
    _install_flow_log_eventual()
    NatGateway.state = property(_nat_get_state, _nat_set_state)
    NatGateway.failure_code = _nat_failure_field(0)
    NatGateway.failure_message = _nat_failure_field(1)
    VPCEndPoint.state = property(_vpce_get_state, _vpce_set_state)
    Route.state = property(_route_state)
    for fn in (create_nat_gateway, delete_nat_gateway, describe_nat_gateways, create_vpc_endpoint, modify_vpc_endpoint,
               delete_vpc_endpoints, delete_subnet, delete_security_group, delete_vpc, detach_internet_gateway,
               create_route, replace_route, release_address, create_network_acl, create_network_acl_entry,
               delete_network_acl_entry):
        setattr(EC2Backend, fn.__name__, fn)
    EC2Response.delete_vpc_endpoints = _delete_vpc_endpoints_response
    EC2Response.create_vpc_endpoint = create_vpc_endpoint_response
    EC2Response.modify_vpc_attribute = modify_vpc_attribute_response
    EC2Response.delete_network_interface = delete_network_interface_response
    for method, action, key in (("create_nat_gateway", "CreateNatGateway", "NatGateway"),
                                ("create_route_table", "CreateRouteTable", "RouteTable"),
                                ("create_vpc_endpoint", "CreateVpcEndpoint", "VpcEndpoint")):
        setattr(EC2Response, method, _idempotent(method, action, key))
    EC2Response.call_action = call_action
    _install_eventual()  # after the overrides above: it wraps them
    control.on_reset(_reset)
    control.on_force_state("nat_gateway", force_nat_gateway_state)
    control.on_force_state("lingering_eni", plant_lingering_eni)

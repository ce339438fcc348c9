"""SageMaker Studio as AWS runs it, on top of moto's SageMaker backend.

moto 5.2.5 has domains only (instantly InService, a fake EFS id, no side
effects, DescribeDomain of a missing domain answers ValidationException) and
answers 500 for user profiles, spaces, apps and presigned URLs. This module adds:

- user profiles, spaces (today's Studio), apps in profiles or spaces and
  CreatePresignedDomainUrl (with SpaceName and LandingUri), with tags on their ARNs;
- lifecycles from the latency profile, evaluated lazily: domain, user profile
  and space Pending -> InService, Deleting -> gone (ResourceNotFound); app
  Pending -> InService, Deleting -> Deleted (still listed, as in AWS); a Failed
  app is deleted by SageMaker itself after sm.app delete_s (then DeleteApp
  answers "previously failed and was automatically deleted");
- AWS's refusals: ResourceInUse for DeleteDomain while user profiles or spaces
  exist, DeleteUserProfile while apps are not Deleted or it owns spaces,
  DeleteSpace while its apps are not Deleted, duplicate names, and creating
  under a parent that is not InService; ValidationException for Studio Classic
  apps (JupyterServer, KernelGateway: no longer creatable) and app types that do
  not fit where they are created; a JupyterLab app without a SageMaker image (the request's ResourceSpec
  over the settings' DefaultResourceSpec, field by field, which is what DescribeApp/ListApps then show);
- CreateDomain's side effects in the VPC: the two NFS security groups that
  reference each other, an encrypted EFS tagged with the domain ARN and a
  mount target (with its ENI) in every domain subnet; an ENI per app.
  DeleteDomain keeps all that (RetentionPolicy Retain, the default) or
  deletes the EFS and its mount targets (Delete); the groups always stay;
- UpdateDomain (moto has none): settings, VpcId, and SubnetIds, whose new AZs get a
  mount target of the home EFS; removing subnets is refused while apps run; VpcOnly needs
  VpcId and SubnetIds in the same request;
- with ``--realistic`` (realistic.py): a domain, user profile, space or app just created is, for
  its drawn window, ResourceNotFound to its describe and left out of lists; CreateDomain,
  CreateUserProfile and CreateApp answer ValidationException while the execution role they would
  run with is younger than its IAM propagation window;
- for the control path (force-state): ``force_app_state`` (kind sagemaker_app) makes an
  app Failed (FailureReason), and ``plant_classic_app`` (kind sagemaker_classic_app)
  plants an InService Studio Classic app, as a stack made before Studio Classic closed has.
"""
import re
import threading
import time
from datetime import datetime, timezone

from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import InvalidNetworkInterfaceIdError
from moto.ec2.models import ec2_backends
from moto.efs.exceptions import MountTargetConflict
from moto.efs.models import efs_backends
from moto.moto_api._internal import mock_random
from moto.sagemaker import urls as sagemaker_urls
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import BaseObject, Domain, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter
from moto.utilities.paginator import paginate

from . import control, efs, realistic
from .profile import delay

SM_TAG = "ManagedByAmazonSageMakerResource"
NFS_SG_NAME = "security-group-for-{}-nfs-{}"
NFS_SG_DESC = "[DO NOT DELETE] Security Group that allows {} NFS traffic for SageMaker Notebooks Domain [{}]"
PAGINATION = {
    name: {"input_token": "next_token", "limit_key": "max_results", "limit_default": 100, "unique_attribute": "arn"}
    for name in ("list_user_profiles", "list_apps", "list_spaces")
}
# Studio Classic's app types. SageMaker developer guide: "Studio Classic is still maintained for existing
# workloads but is no longer available for onboarding. You can only stop or delete existing Studio Classic
# applications and cannot create new ones." CreateApp of one answers ValidationException "Invalid AppType
# [KernelGateway]. This AppType has been deprecated." (seen through CloudFormation, "Invalid request provided: ...",
# github.com/aws-samples/aws-ai-intelligent-document-processing/issues/53; the same text for JupyterServer).
CLASSIC_APP_TYPES = ("JupyterServer", "KernelGateway")
# Apps that run in a space in today's Studio (developer guide, "Amazon SageMaker Studio spaces"; the space's
# SpaceSettings carry their settings). That CreateApp refuses them for a bare user profile is our inference:
# AWS publishes no error text for it.
SPACE_APP_TYPES = ("JupyterLab", "CodeEditor")
# CreateApp of a JupyterLab app needs a SageMaker image: AWS refuses one whose ResourceSpec, with the settings'
# DefaultResourceSpec under it, names none (terraform-provider-aws#36008, a JupyterLab aws_sagemaker_app: "it's
# giving me an error message saying that I need to specify a sagemaker-Image-arn"; AWS's exact text is not
# quoted anywhere we found, so NO_IMAGE paraphrases it). CodeEditor is not listed: no source says the same of it.
IMAGE_REQUIRED_APP_TYPES = ("JupyterLab",)
NO_IMAGE = ("ResourceSpec.SageMakerImageArn is required to create a {app_type} app: specify a SageMaker image in "
            "the request's ResourceSpec or in the {app_type}AppSettings.DefaultResourceSpec of the space or "
            "user settings it runs with")
_IMAGE_VERSION_ARN = re.compile(r"^(arn:[^:]+:sagemaker:[^:]*:[^:]*:)image-version/([^/]+)/\d+$")
_lock = threading.RLock()


def _merged(layers):
    """Settings layers (lowest first, None skipped) merged key by key, as the app runs with them."""
    out = {}
    for layer in layers:
        out.update(layer or {})
    return out


def _effective_spec(app_type, layers, requested):
    """The ResourceSpec an app runs with, as DescribeApp and ListApps show it: the request's fields over the
    ``{AppType}AppSettings.DefaultResourceSpec`` of each settings layer, field by field (a request with only
    InstanceType keeps the default image). That SageMaker fills the stored spec in from the defaults is seen in
    ListApps answers (aws-cloudformation/cloudformation-coverage-roadmap#2307: a CodeEditor app created without
    an image lists SageMakerImageArn, SageMakerImageVersionAlias and InstanceType) and terraform-provider-aws's
    aws_sagemaker_app, whose resource_spec.sagemaker_image_arn is Computed; the field-by-field merge is our
    inference. A SageMakerImageVersionArn names its image ("When both ... are passed, SageMakerImageVersionArn
    is used", botocore ResourceSpec): its image's ARN is filled in when none is given."""
    spec = {}
    for layer in layers:
        default = ((layer or {}).get(f"{app_type}AppSettings") or {}).get("DefaultResourceSpec") or {}
        spec.update({k: v for k, v in default.items() if v is not None})
    spec.update({k: v for k, v in (requested or {}).items() if v is not None})
    m = _IMAGE_VERSION_ARN.match(spec.get("SageMakerImageVersionArn") or "")
    if m and not spec.get("SageMakerImageArn"):
        spec["SageMakerImageArn"] = f"{m.group(1)}image/{m.group(2)}"
    return spec


class Lifecycle:
    """Status computed from timestamps: creating for create_s, deleting for delete_s (profile kind)."""

    KIND = ""
    STATES = ("Pending", "InService", "Deleting", None)  # None: gone

    def start_lifecycle(self):
        self.created_at, self.deleting_since = time.time(), None
        self.creation_time = self.last_modified_time = _dt(self.created_at)
        self.status = self.STATES[0]
        realistic.created(self.KIND, self.key)  # eventual consistency (--realistic)

    def start_deletion(self):
        if self.deleting_since is None:
            self.deleting_since = time.time()
            self._set(self.STATES[2], self.deleting_since)

    def advance(self, now):
        """Bring `status` up to date; returns False once the resource is gone."""
        if self.deleting_since is not None:
            done = self.deleting_since + delay(self.KIND, "delete_s")
            if now >= done:
                self._set(self.STATES[3], done)
                return self.STATES[3] is not None
            return True
        ready = self.created_at + delay(self.KIND, "create_s")
        if now >= ready:
            self._set(self.STATES[1], ready)
        return True

    def _set(self, status, at):
        if status is not None and self.status != status:
            self.status, self.last_modified_time = status, _dt(at)


def _dt(ts):
    return datetime.fromtimestamp(ts, tz=timezone.utc)


class StudioDomain(Lifecycle, Domain):
    """A domain with an AWS-style id (d-xxxxxxxxxxxx) and a real Studio URL."""

    KIND = "sm.domain"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.id = "d-" + mock_random.get_random_string(12, lower_case=True)
        self.arn = arn_formatter("domain", self.id, self.account_id, self.region_name)
        self.url = f"https://{self.id}.studio.{self.region_name}.sagemaker.aws"
        self.tags = list(self.tags or [])
        self.home_efs_file_system_id = None
        self.nfs_security_group_ids = {}
        self.next_uid = 200000
        self.start_lifecycle()

    @property
    def key(self):
        return self.id

    def describe(self):
        out = super().describe()
        for fake in ("SecurityGroupIdForDomainBoundary", "FailureReason"):
            out.pop(fake)
        if self.auth_mode != "SSO":
            out.pop("SingleSignOnManagedApplicationInstanceId")
            out.pop("SingleSignOnApplicationArn")
        return {k: v for k, v in out.items() if v is not None}


class UserProfile(Lifecycle, BaseObject):
    KIND = "sm.user_profile"

    def __init__(self, domain, name, user_settings, sso_identifier, sso_value, tags):
        self.domain_id, self.name = domain.id, name
        self.arn = self.arn_for(domain, name)
        domain.next_uid += 1
        self.home_efs_file_system_uid = str(domain.next_uid)
        self.user_settings, self.tags = user_settings, list(tags or [])
        self.sso_identifier, self.sso_value = sso_identifier, sso_value
        self.start_lifecycle()

    @property
    def key(self):
        return f"{self.domain_id}/{self.name}"

    @staticmethod
    def arn_for(domain, name):
        return arn_formatter("user-profile", f"{domain.id}/{name}", domain.account_id, domain.region_name)

    def describe(self):
        out = {
            "DomainId": self.domain_id, "UserProfileArn": self.arn, "UserProfileName": self.name,
            "HomeEfsFileSystemUid": self.home_efs_file_system_uid, "Status": self.status,
            "CreationTime": self.creation_time, "LastModifiedTime": self.last_modified_time,
            "SingleSignOnUserIdentifier": self.sso_identifier, "SingleSignOnUserValue": self.sso_value,
            "UserSettings": self.user_settings,
        }
        return {k: v for k, v in out.items() if v is not None}

    def summary(self):
        return {"DomainId": self.domain_id, "UserProfileName": self.name, "Status": self.status,
                "CreationTime": self.creation_time, "LastModifiedTime": self.last_modified_time}


class Space(Lifecycle, BaseObject):
    """A space of today's Studio (API reference, CreateSpace/DescribeSpace): Pending -> InService,
    Deleting -> gone, timed by the profile kind sm.space."""

    KIND = "sm.space"

    def __init__(self, domain, name, settings, ownership, sharing, display_name, tags):
        self.domain_id, self.name = domain.id, name
        self.arn = self.arn_for(domain, name)
        domain.next_uid += 1
        self.home_efs_file_system_uid = str(domain.next_uid)
        self.space_settings, self.ownership_settings, self.space_sharing_settings = settings, ownership, sharing
        self.space_display_name, self.tags = display_name, list(tags or [])
        # Each space has its own Studio host (the format of DescribeSpace's Url is not documented).
        host = mock_random.get_random_string(15, lower_case=True)
        self.url = f"https://{host}.studio.{domain.region_name}.sagemaker.aws"
        self.start_lifecycle()

    @property
    def key(self):
        return f"{self.domain_id}/{self.name}"

    @staticmethod
    def arn_for(domain, name):
        return arn_formatter("space", f"{domain.id}/{name}", domain.account_id, domain.region_name)

    @property
    def owner(self):
        return (self.ownership_settings or {}).get("OwnerUserProfileName")

    @property
    def app_type(self):
        return (self.space_settings or {}).get("AppType")

    @property
    def private(self):
        return (self.space_sharing_settings or {}).get("SharingType") == "Private"

    def describe(self):
        out = {
            "DomainId": self.domain_id, "SpaceArn": self.arn, "SpaceName": self.name,
            "HomeEfsFileSystemUid": self.home_efs_file_system_uid, "Status": self.status,
            "LastModifiedTime": self.last_modified_time, "CreationTime": self.creation_time,
            "SpaceSettings": self.space_settings, "OwnershipSettings": self.ownership_settings,
            "SpaceSharingSettings": self.space_sharing_settings, "SpaceDisplayName": self.space_display_name,
            "Url": self.url,
        }
        return {k: v for k, v in out.items() if v is not None}

    def summary(self):
        """ListSpaces' SpaceDetails (botocore shape): settings only as their summaries."""
        settings = self.space_settings or {}
        out = {
            "DomainId": self.domain_id, "SpaceName": self.name, "Status": self.status,
            "CreationTime": self.creation_time, "LastModifiedTime": self.last_modified_time,
            "SpaceSettingsSummary": {k: settings[k] for k in ("AppType", "RemoteAccess", "SpaceStorageSettings")
                                     if k in settings} or None,
            "SpaceSharingSettingsSummary": self.space_sharing_settings,
            "OwnershipSettingsSummary": self.ownership_settings, "SpaceDisplayName": self.space_display_name,
        }
        return {k: v for k, v in out.items() if v is not None}


class App(Lifecycle, BaseObject):
    """A Studio app of a user profile or of a space; after deletion it stays listed with Status Deleted."""

    KIND = "sm.app"
    STATES = ("Pending", "InService", "Deleting", "Deleted")
    failure_reason = failed_at = None  # set by force_failed (control path)
    auto_deleted = False  # a Failed app SageMaker deleted by itself

    def __init__(self, domain_id, app_type, name, resource_spec, tags, account_id, region_name,
                 user_profile_name=None, space_name=None):
        self.domain_id, self.user_profile_name, self.space_name = domain_id, user_profile_name, space_name
        self.app_type, self.name = app_type, name
        self.arn = self.arn_for(domain_id, user_profile_name or space_name, app_type, name, account_id, region_name)
        self.resource_spec, self.tags = resource_spec, list(tags or [])
        self.network_interface_id = None
        self.start_lifecycle()

    @property
    def key(self):
        return f"{self.domain_id}/{self.user_profile_name or self.space_name}/{self.app_type}/{self.name}"

    @staticmethod
    def arn_for(domain_id, owner, app_type, name, account_id, region_name):
        # app/{domain}/{user profile or space}/{type}/{name}: terraform-provider-aws sagemaker/app.go decodeAppID
        return arn_formatter("app", f"{domain_id}/{owner}/{app_type.lower()}/{name}", account_id, region_name)

    def summary(self):
        # AppDetails / DescribeApp: UserProfileName for a profile's app, SpaceName for a space's ("If this
        # value is not set, then UserProfileName must be set", API reference).
        out = {"DomainId": self.domain_id, "UserProfileName": self.user_profile_name, "SpaceName": self.space_name,
               "AppType": self.app_type, "AppName": self.name, "Status": self.status,
               "CreationTime": self.creation_time, "ResourceSpec": self.resource_spec}
        return {k: v for k, v in out.items() if v is not None}

    def describe(self):
        out = dict(self.summary(), AppArn=self.arn, LastUserActivityTimestamp=self.last_modified_time,
                   LastHealthCheckTimestamp=self.last_modified_time)
        if self.status == "Failed" or self.auto_deleted:
            out["FailureReason"] = self.failure_reason
        return out

    def advance(self, now):
        """A Failed app is deleted by SageMaker after sm.app delete_s (terraform-provider-aws app.go treats
        DeleteApp's "previously failed and was automatically deleted" as gone): Failed -> Deleted, without
        Deleting. DeleteApp of a Failed app before that: Deleting -> Deleted as usual."""
        if self.status == "Failed" and self.deleting_since is None:
            if now < self.failed_at + delay(self.KIND, "delete_s"):
                return True
            self.deleting_since, self.auto_deleted = self.failed_at, True  # Deleted at failed_at + delete_s
        return super().advance(now)

    def force_failed(self, reason):
        """Status Failed with FailureReason `reason` (as AWS leaves an app that could not start)."""
        self.failure_reason, self.failed_at = reason, time.time()
        self._set("Failed", self.failed_at)


class StudioBackend(SageMakerModelBackend):
    """SageMakerModelBackend with Studio user profiles, spaces, apps, lifecycles and side effects."""

    def __init__(self, region_name, account_id):
        super().__init__(region_name, account_id)
        self.user_profiles = {}  # (domain id, name) -> UserProfile
        self.spaces = {}  # (domain id, name) -> Space
        self.apps = {}  # arn -> App

    @property
    def _url_module(self):  # moto derives it from the class's module
        return sagemaker_urls

    @property
    def ec2(self):
        return ec2_backends[self.account_id][self.region_name]

    @property
    def efs(self):
        return efs_backends[self.account_id][self.region_name]

    # lifecycle ------------------------------------------------------------
    def refresh(self):
        """Advance every status; drop deleted domains, profiles and spaces; release ENIs of Deleted apps."""
        with _lock:
            now = time.time()
            for key, domain in list(self.domains.items()):
                if not domain.advance(now):
                    del self.domains[key]
            for table in (self.user_profiles, self.spaces):
                for key, item in list(table.items()):
                    if not item.advance(now):
                        del table[key]
            for key, app in list(self.apps.items()):
                app.advance(now)
                if app.status == "Deleted":
                    self._release_eni(app)
                if app.domain_id not in self.domains:
                    del self.apps[key]

    def _domain(self, domain_id):
        self.refresh()
        if domain_id not in self.domains:
            raise ResourceNotFound(f"Cannot find Domain with ID {domain_id}")
        return self.domains[domain_id]

    def _profile(self, domain_id, name):
        self._domain(domain_id)
        if (domain_id, name) not in self.user_profiles:
            raise ResourceNotFound(f"User profile {name} does not exist in domain {domain_id}")
        return self.user_profiles[(domain_id, name)]

    def _space(self, domain_id, name):
        """ResourceNotFound for a missing space (API reference DescribeSpace, UpdateSpace, DeleteSpace)."""
        self._domain(domain_id)
        if (domain_id, name) not in self.spaces:
            raise ResourceNotFound(f"Space {name} does not exist in domain {domain_id}")
        return self.spaces[(domain_id, name)]

    def _app(self, domain_id, owner, app_type, name):
        """The app of user profile or space `owner` (both share the ARN's place)."""
        self._domain(domain_id)
        arn = App.arn_for(domain_id, owner, app_type, name, self.account_id, self.region_name)
        if arn not in self.apps:
            raise ResourceNotFound(f"App [{arn}] does not exist")
        return self.apps[arn]

    @staticmethod
    def _require_assumable(*settings):
        """ValidationException naming the first ExecutionRole of `settings` that SageMaker cannot assume
        yet: with --realistic, a role younger than its IAM propagation window (realistic.py; IAM user
        guide, "Changes that I make are not always immediately visible"). AWS publishes no text for this
        error; ours names the role and the service principal, as SageMaker's role errors do."""
        role = realistic.unassumable(*[(s or {}).get("ExecutionRole") for s in settings])
        if role:
            raise ValidationError(f"SageMaker is unable to assume the role {role}. Ensure that the role exists "
                                  "and that its trust policy allows sagemaker.amazonaws.com to assume it.")

    @staticmethod
    def _require_in_service(what, arn, parent, parent_kind):
        if parent.status != "InService":
            raise ResourceInUseException(
                f"Unable to create {what} [{arn}] because {parent_kind} [{parent.arn}] is in {parent.status} state")

    # domains --------------------------------------------------------------
    def create_domain(self, **kwargs):
        """CreateDomain; with a VPC, also what SageMaker builds there (NFS groups, EFS, mount targets)."""
        self.refresh()
        name = kwargs["domain_name"]
        if any(d.domain_name == name for d in self.domains.values()):
            raise ResourceInUseException(
                f"Resource Already Exists: Domain with name {name} already exists. Choose a different name.")
        subnets = self._domain_subnets(kwargs.get("vpc_id"), kwargs.get("subnet_ids") or [])
        self._require_assumable(kwargs.get("default_user_settings"), kwargs.get("default_space_settings"))
        domain = StudioDomain(account_id=self.account_id, region_name=self.region_name, **kwargs)
        if subnets:
            self._create_home(domain, subnets)
        self.domains[domain.id] = domain
        return {"DomainArn": domain.arn, "Url": domain.url}

    def _domain_subnets(self, vpc_id, subnet_ids):
        if not vpc_id:
            return []
        if vpc_id not in self.ec2.vpcs:
            raise ValidationError(f"Invalid VpcId {vpc_id}: the VPC does not exist")
        subnets = []
        for subnet_id in subnet_ids:
            try:
                subnet = self.ec2.get_subnet(subnet_id)
            except Exception:
                raise ValidationError(f"Invalid SubnetIds: subnet {subnet_id} does not exist")
            if subnet.vpc_id != vpc_id:
                raise ValidationError(f"Invalid SubnetIds: subnet {subnet_id} is not in VPC {vpc_id}")
            subnets.append(subnet)
        return subnets

    def _create_home(self, domain, subnets):
        tag = {SM_TAG: domain.arn}
        groups = {}
        for way in ("inbound", "outbound"):
            groups[way] = self.ec2.create_security_group(
                NFS_SG_NAME.format(way, domain.id), NFS_SG_DESC.format(way, domain.id), domain.vpc_id, tags=tag).id
        inbound, outbound = groups["inbound"], groups["outbound"]
        self.ec2.authorize_security_group_ingress(inbound, "tcp", "2049", "2049", [], source_groups=[{"GroupId": outbound}])
        self.ec2.revoke_security_group_egress(outbound, "-1", None, None, [{"CidrIp": "0.0.0.0/0"}])
        self.ec2.authorize_security_group_egress(outbound, "tcp", "2049", "2049", [], source_groups=[{"GroupId": inbound}])
        domain.nfs_security_group_ids = groups
        kms = domain.home_efs_file_system_kms_key_id
        fs = self.efs.create_file_system(
            creation_token=f"{domain.id}-home", performance_mode="generalPurpose", encrypted=True, kms_key_id=kms,
            throughput_mode="bursting", provisioned_throughput_in_mibps=None, availability_zone_name=None,
            backup=False, tags=[{"Key": SM_TAG, "Value": domain.arn}])
        domain.home_efs_file_system_id = fs.file_system_id
        self._mount_home(domain, subnets)

    def _mount_home(self, domain, subnets):
        """A mount target of the home EFS (inbound NFS group) in each subnet whose AZ has none yet."""
        fs_id = domain.home_efs_file_system_id
        if not fs_id or fs_id not in self.efs.file_systems_by_id:
            return
        inbound = domain.nfs_security_group_ids["inbound"]
        for subnet in subnets:
            try:
                self.efs.create_mount_target(fs_id, subnet.id, security_groups=[inbound])
            except MountTargetConflict:  # EFS allows one mount target per AZ
                pass

    def describe_domain(self, domain_id):
        return self._domain(domain_id).describe()

    def update_domain(self, domain_id, default_user_settings=None, domain_settings_for_update=None,
                      app_security_group_management=None, default_space_settings=None, subnet_ids=None,
                      app_network_access_type=None, tag_propagation=None, vpc_id=None):
        """UpdateDomain (moto has none). New SubnetIds get a mount target of the home EFS in every AZ
        that has none (inbound NFS group), as at CreateDomain. Applied at once; the domain stays InService.
        Refused (nothing changes):

        * ``AppNetworkAccessType`` VpcOnly without both ``VpcId`` and ``SubnetIds``, even when the domain
          is VpcOnly already: ValidationException "VpcId and Subnet IDs are required for updating domains
          to VpcOnly mode." (AWS's answer since UpdateDomain took VpcId, terraform-provider-aws#45528; the
          fix, #45530, sends VpcId and SubnetIds with every VpcOnly update);
        * a ``VpcId`` other than the domain's: ValidationException (our inference, text ours: botocore's
          UpdateDomainRequest.VpcId is "only" for "adding VPC configuration to a SageMaker AI domain ...
          that was created without VPC settings"). A domain without a VPC takes it (no home EFS is made);
        * removing subnets while the domain has apps Pending, InService or Deleting (botocore
          UpdateDomainRequest.SubnetIds: "If removing subnets, ensure there are no apps in the InService,
          Pending, or Deleting state"), and changing AppNetworkAccessType then ("This configuration can
          only be modified if there are no apps in the InService, Pending, or Deleting state"). The error
          AWS answers is not documented (UpdateDomain lists ResourceNotFound, ResourceInUse,
          ResourceLimitExceeded only): ValidationException is our inference, the text ours. A removed
          subnet's mount target of the home EFS stays, with its ENI (no source says SageMaker deletes it):
          it still blocks DeleteSubnet until the EFS is unmounted (DeleteDomain with Delete, or by hand);
        * a domain not InService: ResourceInUse."""
        with _lock:
            domain = self._domain(domain_id)
            if app_network_access_type == "VpcOnly" and not (vpc_id and subnet_ids):
                raise ValidationError("VpcId and Subnet IDs are required for updating domains to VpcOnly mode.")
            if vpc_id and domain.vpc_id and vpc_id != domain.vpc_id:
                raise ValidationError(f"Invalid VpcId {vpc_id}: Domain [{domain.arn}] is in VPC {domain.vpc_id}; "
                                      "its VPC cannot be changed")
            if domain.status != "InService":
                raise ResourceInUseException(
                    f"Unable to update Domain [{domain.arn}] because it is in {domain.status} state")
            active = [a for a in self.apps.values()
                      if a.domain_id == domain_id and a.status in ("Pending", "InService", "Deleting")]
            subnets = []
            if subnet_ids is not None:
                if not subnet_ids:
                    raise ValidationError("SubnetIds must contain at least one subnet")
                subnets = self._domain_subnets(vpc_id or domain.vpc_id, subnet_ids)
                removed = [s for s in domain.subnet_ids or [] if s not in subnet_ids]
                if removed and active:
                    raise ValidationError(
                        f"Unable to remove subnets {removed} from Domain [{domain.arn}]: "
                        "it has apps in InService, Pending or Deleting state")
            elif vpc_id:
                self._domain_subnets(vpc_id, [])
            if app_network_access_type and app_network_access_type != domain.app_network_access_type and active:
                raise ValidationError(
                    f"Unable to update AppNetworkAccessType of Domain [{domain.arn}]: "
                    "it has apps in InService, Pending or Deleting state")
            if vpc_id:
                domain.vpc_id = vpc_id
            if subnet_ids is not None:
                added = [s for s in subnets if s.id not in (domain.subnet_ids or [])]
                self._mount_home(domain, added)
                domain.subnet_ids = list(subnet_ids)
            if default_user_settings is not None:
                domain.default_user_settings = dict(domain.default_user_settings or {}, **default_user_settings)
            if domain_settings_for_update is not None:
                domain.domain_settings = dict(domain.domain_settings or {}, **domain_settings_for_update)
            if default_space_settings is not None:
                domain.default_space_settings = dict(domain.default_space_settings or {}, **default_space_settings)
            if app_security_group_management is not None:
                domain.app_security_group_management = app_security_group_management
            if app_network_access_type:
                domain.app_network_access_type = app_network_access_type
            if tag_propagation is not None:
                domain.tag_propagation = tag_propagation
            domain.last_modified_time = _dt(time.time())
            return domain.arn

    def list_domains(self, *args, **kwargs):
        self.refresh()
        return super().list_domains(*args, **kwargs)

    def delete_domain(self, domain_id, retention_policy):
        """Refused while user profiles or spaces exist (API reference DeleteDomain: ResourceInUse, "Resource
        being accessed is in use"; the original sample's README: the domain cannot be deleted while it has
        user profiles and apps; aws-nuke #1004/#1216 report the same); HomeEfsFileSystem=Delete also removes
        the EFS."""
        domain = self._domain(domain_id)
        if any(key[0] == domain_id for key in self.user_profiles):
            raise ResourceInUseException(
                f"Unable to delete Domain [{domain.arn}] because UserProfile(s) are associated with it.")
        if any(key[0] == domain_id for key in self.spaces):  # API reference DeleteDomain: ResourceInUse
            raise ResourceInUseException(
                f"Unable to delete Domain [{domain.arn}] because Space(s) are associated with it.")
        if domain.deleting_since is not None:
            return
        domain.start_deletion()
        fs_id = domain.home_efs_file_system_id
        if (retention_policy or {}).get("HomeEfsFileSystem") == "Delete" and fs_id in self.efs.file_systems_by_id:
            self.efs.delete_file_system_when_unmounted(fs_id)

    # user profiles --------------------------------------------------------
    def create_user_profile(self, domain_id, user_profile_name, user_settings=None,
                            single_sign_on_user_identifier=None, single_sign_on_user_value=None, tags=None):
        domain = self._domain(domain_id)
        arn = UserProfile.arn_for(domain, user_profile_name)
        self._require_in_service("UserProfile", arn, domain, "Domain")
        if (domain_id, user_profile_name) in self.user_profiles:
            raise ResourceInUseException(f"Resource Already Exists: UserProfile [{arn}] already exists.")
        # The profile runs with its own ExecutionRole, else the domain's default.
        self._require_assumable(dict(domain.default_user_settings or {}, **(user_settings or {})))
        profile = UserProfile(domain, user_profile_name, user_settings, single_sign_on_user_identifier,
                              single_sign_on_user_value, tags)
        self.user_profiles[(domain_id, user_profile_name)] = profile
        return profile

    def describe_user_profile(self, domain_id, user_profile_name):
        return self._profile(domain_id, user_profile_name)

    @paginate(pagination_model=PAGINATION)
    def list_user_profiles(self, domain_id_equals=None, user_profile_name_contains=None,
                           sort_by=None, sort_order=None):
        self.refresh()
        found = [p for (d, n), p in self.user_profiles.items()
                 if (not domain_id_equals or d == domain_id_equals)
                 and (not user_profile_name_contains or user_profile_name_contains in n)]
        return _sorted(found, sort_by, sort_order)

    def delete_user_profile(self, domain_id, user_profile_name):
        """Refused while the profile has apps that are not Deleted, or owns spaces (even Deleting ones)."""
        profile = self._profile(domain_id, user_profile_name)
        if any(a.domain_id == domain_id and a.user_profile_name == user_profile_name and a.status != "Deleted"
               for a in self.apps.values()):
            raise ResourceInUseException(
                f"Unable to delete UserProfile [{profile.arn}] because App(s) are associated with it.")
        if any(d == domain_id and s.owner == user_profile_name for (d, _), s in self.spaces.items()):
            raise ResourceInUseException(  # API reference DeleteUserProfile: ResourceInUse
                f"Unable to delete UserProfile [{profile.arn}] because Space(s) are associated with it.")
        profile.start_deletion()

    # spaces ---------------------------------------------------------------
    def create_space(self, domain_id, space_name, tags=None, space_settings=None, ownership_settings=None,
                     space_sharing_settings=None, space_display_name=None):
        """CreateSpace (API reference; errors ResourceInUse, ResourceLimitExceeded): ResourceInUse for a name
        taken in the domain or a domain not InService. A private space needs its owner: OwnershipSettings and
        SpaceSharingSettings go together (terraform-provider-aws sagemaker/space.go: RequiredWith both ways),
        and the owner profile must exist (ResourceNotFound, as SageMaker answers for any missing profile,
        though CreateSpace does not list it)."""
        domain = self._domain(domain_id)
        arn = Space.arn_for(domain, space_name)
        if space_sharing_settings and not ownership_settings:
            raise ValidationError(f"OwnershipSettings is required for a {space_sharing_settings.get('SharingType')} "
                                  f"space: Space [{arn}]")
        if ownership_settings and not space_sharing_settings:
            raise ValidationError(f"SpaceSharingSettings is required with OwnershipSettings: Space [{arn}]")
        if (space_settings or {}).get("AppType") in CLASSIC_APP_TYPES:
            raise ValidationError(f"Invalid AppType [{space_settings['AppType']}]. This AppType has been deprecated.")
        self._require_in_service("Space", arn, domain, "Domain")
        if (domain_id, space_name) in self.spaces:
            raise ResourceInUseException(f"Resource Already Exists: Space [{arn}] already exists.")
        if ownership_settings:
            self._profile(domain_id, ownership_settings.get("OwnerUserProfileName"))
        space = Space(domain, space_name, space_settings, ownership_settings, space_sharing_settings,
                      space_display_name, tags)
        self.spaces[(domain_id, space_name)] = space
        return space

    def describe_space(self, domain_id, space_name):
        return self._space(domain_id, space_name)

    def update_space(self, domain_id, space_name, space_settings=None, space_display_name=None):
        """UpdateSpace: SpaceSettings merged key by key, applied at once (no Updating state). The app type
        cannot change (API reference: "You can't edit the app type of a space")."""
        space = self._space(domain_id, space_name)
        if space.status != "InService":
            raise ResourceInUseException(f"Unable to update Space [{space.arn}] because it is in {space.status} state")
        new_type = (space_settings or {}).get("AppType")
        if new_type and space.app_type and new_type != space.app_type:
            raise ValidationError(f"Unable to update Space [{space.arn}]: AppType cannot be changed "
                                  f"from {space.app_type} to {new_type}")
        # A space's volume grows, never shrinks: it is an EBS volume (EBS user guide, "Modify a
        # volume": "You can't decrease the size of an EBS volume"). UpdateSpace's answer to a smaller
        # EbsVolumeSizeInGb is not documented: ValidationException is our inference, the text ours.
        new_gib = ((space_settings or {}).get("SpaceStorageSettings") or {}).get("EbsStorageSettings", {}).get(
            "EbsVolumeSizeInGb")
        old_gib = ((space.space_settings or {}).get("SpaceStorageSettings") or {}).get("EbsStorageSettings", {}).get(
            "EbsVolumeSizeInGb")
        if new_gib is not None and old_gib is not None and int(new_gib) < int(old_gib):
            raise ValidationError(f"Unable to update Space [{space.arn}]: EbsVolumeSizeInGb cannot be decreased "
                                  f"from {old_gib} to {new_gib}")
        if space_settings is not None:
            space.space_settings = dict(space.space_settings or {}, **space_settings)
        if space_display_name is not None:
            space.space_display_name = space_display_name
        space.last_modified_time = _dt(time.time())
        return space.arn

    def delete_space(self, domain_id, space_name):
        """Deleting -> gone after sm.space delete_s; refused while its apps are not Deleted (API reference
        DeleteSpace: ResourceInUse, ResourceNotFound)."""
        space = self._space(domain_id, space_name)
        if any(a.domain_id == domain_id and a.space_name == space_name and a.status != "Deleted"
               for a in self.apps.values()):
            raise ResourceInUseException(f"Unable to delete Space [{space.arn}] because App(s) are associated with it.")
        space.start_deletion()

    @paginate(pagination_model=PAGINATION)
    def list_spaces(self, domain_id_equals=None, space_name_contains=None, sort_by=None, sort_order=None):
        """ListSpaces (botocore ListSpacesRequest: default SortBy CreationTime, Ascending)."""
        self.refresh()
        found = [s for (d, n), s in self.spaces.items()
                 if (not domain_id_equals or d == domain_id_equals)
                 and (not space_name_contains or space_name_contains in n)]
        return _sorted(found, sort_by, sort_order)

    # apps -----------------------------------------------------------------
    def create_app(self, domain_id, app_type, app_name, user_profile_name=None, space_name=None,
                   resource_spec=None, tags=None):
        """CreateApp for a user profile or a space. Studio Classic apps are refused (CLASSIC_APP_TYPES);
        JupyterLab and Code Editor run in a space; a space's app must be of its AppType (SpaceSettings.AppType:
        "The type of app created within the space", API reference). The app's ResourceSpec is the request's over
        the settings' defaults, field by field (``_effective_spec``); a JupyterLab app whose effective spec has
        no SageMaker image is refused (IMAGE_REQUIRED_APP_TYPES)."""
        domain = self._domain(domain_id)
        if bool(user_profile_name) == bool(space_name):  # API reference: one of UserProfileName, SpaceName
            raise ValidationError("Exactly one of UserProfileName and SpaceName must be specified")
        if app_type in CLASSIC_APP_TYPES:
            raise ValidationError(f"Invalid AppType [{app_type}]. This AppType has been deprecated.")
        if space_name:
            parent, kind = self._space(domain_id, space_name), "Space"
            if parent.app_type and parent.app_type != app_type:
                raise ValidationError(f"AppType [{app_type}] does not match the AppType [{parent.app_type}] "
                                      f"of Space [{parent.arn}]")
            layers = self._space_layers(domain, parent)
        else:
            if app_type in SPACE_APP_TYPES:
                raise ValidationError(f"AppType [{app_type}] runs in a space: specify SpaceName")
            parent, kind = self._profile(domain_id, user_profile_name), "UserProfile"
            layers = [domain.default_user_settings, parent.user_settings]
        settings = _merged(layers)
        resource_spec = _effective_spec(app_type, layers, resource_spec)
        if app_type in IMAGE_REQUIRED_APP_TYPES and not resource_spec.get("SageMakerImageArn"):
            raise ValidationError(NO_IMAGE.format(app_type=app_type))
        app = App(domain_id, app_type, app_name, resource_spec or None, tags, self.account_id, self.region_name,
                  user_profile_name=user_profile_name, space_name=space_name)
        self._require_in_service("App", app.arn, parent, kind)
        old = self.apps.get(app.arn)
        if old is not None and old.status != "Deleted":
            raise ResourceInUseException(f"Resource Already Exists: App [{app.arn}] already exists.")
        self._require_assumable(settings)  # the role the app runs with (the settings above)
        self.apps[app.arn] = app
        self._attach_eni(app, domain, settings)
        return app

    def _space_layers(self, domain, space):
        """What a space's apps run with, lowest first: a private space its owner's user settings (the
        domain's DefaultUserSettings, then the profile's UserSettings), a shared one the domain's
        DefaultSpaceSettings ("SageMaker applies these settings only to shared spaces. It doesn't apply them
        to private spaces", botocore DefaultSpaceSettings), then the space's own SpaceSettings over them."""
        if space.private and space.owner:
            profile = self.user_profiles.get((domain.id, space.owner))
            return [domain.default_user_settings, profile and profile.user_settings, space.space_settings]
        return [domain.default_space_settings, space.space_settings]

    def plant_classic_app(self, domain_id, user_profile_name, app_type, app_name, instance_type=None):
        """An InService Studio Classic app of a profile, as a domain made before Studio Classic closed has
        one (control path only: CreateApp refuses these types). Lifecycle, ENI and DeleteApp as any app."""
        domain = self._domain(domain_id)
        profile = self._profile(domain_id, user_profile_name)
        spec = {"InstanceType": instance_type or ("system" if app_type == "JupyterServer" else "ml.t3.medium")}
        app = App(domain_id, app_type, app_name, spec, None, self.account_id, self.region_name,
                  user_profile_name=user_profile_name)
        self._require_in_service("App", app.arn, profile, "UserProfile")
        old = self.apps.get(app.arn)
        if old is not None and old.status != "Deleted":
            raise ResourceInUseException(f"Resource Already Exists: App [{app.arn}] already exists.")
        app.created_at -= delay(App.KIND, "create_s")  # already running
        app.advance(time.time())
        realistic.forget(App.KIND, app.key)  # there long since: visible at once
        self.apps[app.arn] = app
        self._attach_eni(app, domain, dict(domain.default_user_settings or {}, **(profile.user_settings or {})))
        return app

    def _attach_eni(self, app, domain, settings):
        """Studio apps run in the domain's VPC: an ENI in the first subnet, user groups + outbound NFS group."""
        if not domain.home_efs_file_system_id or not domain.subnet_ids:
            return
        groups = list(settings.get("SecurityGroups") or [])
        if domain.nfs_security_group_ids:
            groups.append(domain.nfs_security_group_ids["outbound"])
        eni = self.ec2.create_network_interface(
            self.ec2.get_subnet(domain.subnet_ids[0]), None, group_ids=groups,
            description=f"[DO NOT DELETE] ENI managed by SageMaker for Studio Domain({domain.id}) - {app.arn}",
            tags={SM_TAG: app.arn})
        eni.requester_managed = True
        app.network_interface_id = eni.id

    def _release_eni(self, app):
        if app.network_interface_id:
            try:
                self.ec2.delete_network_interface(app.network_interface_id)
            except InvalidNetworkInterfaceIdError:
                pass
            app.network_interface_id = None

    def describe_app(self, domain_id, app_type, app_name, user_profile_name=None, space_name=None):
        return self._app(domain_id, user_profile_name or space_name, app_type, app_name)

    @paginate(pagination_model=PAGINATION)
    def list_apps(self, domain_id_equals=None, user_profile_name_equals=None, space_name_equals=None,
                  sort_by=None, sort_order=None):
        self.refresh()
        if user_profile_name_equals and space_name_equals:  # API reference ListApps: not both
            raise ValidationError("UserProfileNameEquals and SpaceNameEquals cannot both be set")
        found = [a for a in self.apps.values()
                 if (not domain_id_equals or a.domain_id == domain_id_equals)
                 and (not user_profile_name_equals or a.user_profile_name == user_profile_name_equals)
                 and (not space_name_equals or a.space_name == space_name_equals)]
        return _sorted(found, sort_by, sort_order)

    def delete_app(self, domain_id, app_type, app_name, user_profile_name=None, space_name=None):
        """Deleting -> Deleted. DeleteApp of a Deleted app is a ValidationException whose message
        terraform-provider-aws sagemaker/app.go matches: "has already been deleted", or "previously failed
        and was automatically deleted" for a Failed app SageMaker deleted by itself."""
        app = self._app(domain_id, user_profile_name or space_name, app_type, app_name)
        if app.status == "Deleted" and app.auto_deleted:
            raise ValidationError(f"App [{app.arn}] previously failed and was automatically deleted")
        if app.status == "Deleted":
            raise ValidationError(f"App [{app.arn}] has already been deleted")
        app.start_deletion()

    # presigned URL --------------------------------------------------------
    def create_presigned_domain_url(self, domain_id, user_profile_name, expires_in_seconds=None,
                                    session_expiration_duration_in_seconds=None, space_name=None, landing_uri=None):
        """A sign-in URL for the profile; with SpaceName, into that space: it must exist (ResourceNotFound),
        be InService and, if private, be the profile's. LandingUri as the API reference lists it:
        "studio::..." or "app:{AppType}:..."."""
        domain = self._domain(domain_id)
        if landing_uri is not None and not re.match(r"^(studio::|app:[A-Za-z]+:)", landing_uri):
            raise ValidationError(f"Invalid LandingUri [{landing_uri}]: expected studio::<path> or "
                                  "app:<AppType>:<path>")
        profile = self._profile(domain_id, user_profile_name)
        if profile.status != "InService":
            raise ResourceInUseException(f"UserProfile [{profile.arn}] is in {profile.status} state")
        if space_name:
            space = self._space(domain_id, space_name)
            if space.private and space.owner != user_profile_name:
                raise ValidationError(f"UserProfile [{profile.arn}] cannot access private Space [{space.arn}] "
                                      f"owned by {space.owner}")
            if space.status != "InService":
                raise ResourceInUseException(f"Space [{space.arn}] is in {space.status} state")
        token = mock_random.get_random_string(64)
        return f"https://{domain.id}.studio.{self.region_name}.sagemaker.aws/auth?token={token}"

    # tags -----------------------------------------------------------------
    def _get_resource_from_arn(self, arn):
        """moto only knows 'type/name' ARNs; user profiles, spaces and apps have longer ones."""
        self.refresh()
        resource = arn.split(":", 5)[-1]
        if resource.startswith(("user-profile/", "space/")):
            kind, domain_id, name = resource.split("/", 2)
            table = self.user_profiles if kind == "user-profile" else self.spaces
            if (domain_id, name) in table:
                return table[(domain_id, name)]
        elif resource.startswith("app/"):
            if arn in self.apps:
                return self.apps[arn]
        else:
            found = super()._get_resource_from_arn(arn)
            if found is not None:
                return found
        raise ResourceNotFound(f"Resource {arn} does not exist")

    def add_tags(self, arn, tags):
        """AddTags overwrites the value of a key that is already there."""
        resource = self._get_resource_from_arn(arn)
        keys = {t["Key"] for t in tags}
        resource.tags = [t for t in resource.tags if t["Key"] not in keys] + list(tags)
        return resource.tags


def _sorted(items, sort_by, sort_order):
    key = "last_modified_time" if sort_by == "LastModifiedTime" else "creation_time"
    return sorted(items, key=lambda o: getattr(o, key), reverse=sort_order == "Descending")


class StudioResponses:
    """Response methods installed on moto's SageMakerResponse (which routes by method name)."""

    def _studio_args(self, **names):
        return {arg: self._get_param(param) for arg, param in names.items() if self._get_param(param) is not None}

    def update_domain(self):
        arn = self.sagemaker_backend.update_domain(**self._studio_args(
            domain_id="DomainId", default_user_settings="DefaultUserSettings",
            domain_settings_for_update="DomainSettingsForUpdate",
            app_security_group_management="AppSecurityGroupManagement",
            default_space_settings="DefaultSpaceSettings", subnet_ids="SubnetIds",
            app_network_access_type="AppNetworkAccessType", tag_propagation="TagPropagation",
            vpc_id="VpcId"))  # botocore's UpdateDomainRequest has VpcId
        return ActionResult({"DomainArn": arn})

    def create_user_profile(self):
        profile = self.sagemaker_backend.create_user_profile(**self._studio_args(
            domain_id="DomainId", user_profile_name="UserProfileName", user_settings="UserSettings", tags="Tags",
            single_sign_on_user_identifier="SingleSignOnUserIdentifier",
            single_sign_on_user_value="SingleSignOnUserValue"))
        return ActionResult({"UserProfileArn": profile.arn})

    def describe_user_profile(self):
        profile = self.sagemaker_backend.describe_user_profile(
            self._get_param("DomainId"), self._get_param("UserProfileName"))
        return ActionResult(profile.describe())

    def delete_user_profile(self):
        self.sagemaker_backend.delete_user_profile(self._get_param("DomainId"), self._get_param("UserProfileName"))
        return EmptyResult()

    def list_user_profiles(self):
        profiles, token = self.sagemaker_backend.list_user_profiles(**self._studio_args(
            domain_id_equals="DomainIdEquals", user_profile_name_contains="UserProfileNameContains",
            sort_by="SortBy", sort_order="SortOrder", next_token="NextToken", max_results="MaxResults"))
        return ActionResult({"UserProfiles": [p.summary() for p in profiles], "NextToken": token})

    def create_space(self):
        space = self.sagemaker_backend.create_space(**self._studio_args(
            domain_id="DomainId", space_name="SpaceName", tags="Tags", space_settings="SpaceSettings",
            ownership_settings="OwnershipSettings", space_sharing_settings="SpaceSharingSettings",
            space_display_name="SpaceDisplayName"))
        return ActionResult({"SpaceArn": space.arn})

    def describe_space(self):
        space = self.sagemaker_backend.describe_space(self._get_param("DomainId"), self._get_param("SpaceName"))
        return ActionResult(space.describe())

    def update_space(self):
        arn = self.sagemaker_backend.update_space(**self._studio_args(
            domain_id="DomainId", space_name="SpaceName", space_settings="SpaceSettings",
            space_display_name="SpaceDisplayName"))
        return ActionResult({"SpaceArn": arn})

    def delete_space(self):
        self.sagemaker_backend.delete_space(self._get_param("DomainId"), self._get_param("SpaceName"))
        return EmptyResult()

    def list_spaces(self):
        spaces, token = self.sagemaker_backend.list_spaces(**self._studio_args(
            domain_id_equals="DomainIdEquals", space_name_contains="SpaceNameContains", sort_by="SortBy",
            sort_order="SortOrder", next_token="NextToken", max_results="MaxResults"))
        return ActionResult({"Spaces": [s.summary() for s in spaces], "NextToken": token})

    _APP_KEY = dict(domain_id="DomainId", app_type="AppType", app_name="AppName",
                    user_profile_name="UserProfileName", space_name="SpaceName")

    def create_app(self):
        app = self.sagemaker_backend.create_app(**self._studio_args(
            resource_spec="ResourceSpec", tags="Tags", **StudioResponses._APP_KEY))
        return ActionResult({"AppArn": app.arn})

    def describe_app(self):
        return ActionResult(self.sagemaker_backend.describe_app(**self._studio_args(**StudioResponses._APP_KEY)).describe())

    def delete_app(self):
        self.sagemaker_backend.delete_app(**self._studio_args(**StudioResponses._APP_KEY))
        return EmptyResult()

    def list_apps(self):
        apps, token = self.sagemaker_backend.list_apps(**self._studio_args(
            domain_id_equals="DomainIdEquals", user_profile_name_equals="UserProfileNameEquals",
            space_name_equals="SpaceNameEquals", sort_by="SortBy", sort_order="SortOrder",
            next_token="NextToken", max_results="MaxResults"))
        return ActionResult({"Apps": [a.summary() for a in apps], "NextToken": token})

    def create_presigned_domain_url(self):
        url = self.sagemaker_backend.create_presigned_domain_url(**self._studio_args(
            domain_id="DomainId", user_profile_name="UserProfileName", expires_in_seconds="ExpiresInSeconds",
            session_expiration_duration_in_seconds="SessionExpirationDurationInSeconds",
            space_name="SpaceName", landing_uri="LandingUri"))
        return ActionResult({"AuthorizedUrl": url})


def refresh_all():
    """Advance every lifecycle in every account and region (SageMaker first: it drives EFS)."""
    for account in list(sagemaker_backends.values()):
        for backend in list(account.values()):
            backend.refresh()
    efs.refresh_all()


def reset():
    """Drop all SageMaker state (kept in moto's backends; this module keeps none of its own; efs
    registers its own reset)."""
    for account in list(sagemaker_backends.values()):
        account.reset()


APP_FORCEABLE_STATES = ("Failed",)


def _find_backend(domain_id):
    """The backend (any account and region) holding the domain; ValueError (control: 400) if none."""
    refresh_all()
    for account in list(sagemaker_backends.values()):
        for backend in list(account.values()):
            if domain_id in getattr(backend, "domains", {}):
                return backend
    raise ValueError(f"no SageMaker domain {domain_id}")


def _control_key(data, kind, owners):
    """domain_id, one owner key of `owners`, app_type and app_name from a control request."""
    given = [k for k in owners if data.get(k)]
    if len(given) != 1:
        raise ValueError(f"{kind} needs exactly one of {', '.join(repr(k) for k in owners)}")
    key = {k: data.get(k) for k in ("domain_id", given[0], "app_type", "app_name")}
    missing = [k for k, v in key.items() if not isinstance(v, str) or not v]
    if missing:
        raise ValueError(f"{kind} needs {', '.join(repr(k) for k in missing)}")
    return key, given[0]


def force_app_state(data):
    """Control path (POST /_emulator/force-state, kind sagemaker_app): a Pending, InService or Failed app of a
    user profile (``user_profile_name``) or a space (``space_name``) becomes Failed with FailureReason =
    ``message``. DescribeApp shows both; ListApps shows the Status (AWS's AppDetails has no FailureReason).
    After sm.app delete_s SageMaker deletes it by itself (Failed -> Deleted, ENI released; DeleteApp then
    answers "previously failed and was automatically deleted"); DeleteApp before that: Deleting -> Deleted.
    Raises ValueError (control answers 400) for a bad state, an unknown domain, profile, space or app, or an
    app already Deleting or Deleted."""
    state = data.get("state")
    if state not in APP_FORCEABLE_STATES:
        raise ValueError(f"state {state!r} not allowed for sagemaker_app: one of {list(APP_FORCEABLE_STATES)}")
    key, owner = _control_key(data, "sagemaker_app", ("user_profile_name", "space_name"))
    reason = str(data.get("message") or "The app failed to start (forced by the emulator)")
    with _lock:
        backend = _find_backend(key["domain_id"])
        try:
            app = backend._app(key["domain_id"], key[owner], key["app_type"], key["app_name"])
        except ResourceNotFound:
            raise ValueError(f"no app {key['app_type']}/{key['app_name']} of {owner.replace('_name', '')} "
                             f"{key[owner]} in domain {key['domain_id']}")
        if app.status not in ("Pending", "InService", "Failed") or app.deleting_since is not None:
            raise ValueError(f"app {app.arn} is {app.status}: only a Pending, InService or Failed app "
                             "can be forced to Failed")
        app.force_failed(reason)
        return dict(key, state="Failed", message=reason, app_arn=app.arn, region=backend.region_name)


def plant_classic_app(data):
    """Control path (POST /_emulator/force-state, kind sagemaker_classic_app): a Studio Classic app
    (``app_type`` JupyterServer or KernelGateway) of user profile ``user_profile_name``, InService at once,
    with its ENI, as a stack made before AWS closed Studio Classic has one (CreateApp refuses these types).
    ``state`` may be omitted or "InService"; ``instance_type`` defaults to "system" (JupyterServer) or
    ml.t3.medium. DescribeApp, ListApps, DeleteApp and force-state work on it as on any app. Raises
    ValueError (400) for another type or state, an unknown domain or profile, a profile not InService, or an
    app of that name not Deleted."""
    if data.get("state", "InService") != "InService":
        raise ValueError(f"state {data.get('state')!r} not allowed for sagemaker_classic_app: only 'InService'")
    key, owner = _control_key(data, "sagemaker_classic_app", ("user_profile_name", "space_name"))
    if owner != "user_profile_name":
        raise ValueError("sagemaker_classic_app plants an app of a user profile: give 'user_profile_name'")
    if key["app_type"] not in CLASSIC_APP_TYPES:
        raise ValueError(f"app_type {key['app_type']!r} is not a Studio Classic type: one of {list(CLASSIC_APP_TYPES)}")
    with _lock:
        backend = _find_backend(key["domain_id"])
        try:
            app = backend.plant_classic_app(key["domain_id"], key["user_profile_name"], key["app_type"],
                                            key["app_name"], data.get("instance_type"))
        except (ResourceNotFound, ResourceInUseException) as e:
            raise ValueError(e.message)
        return dict(key, state=app.status, app_arn=app.arn, region=backend.region_name)


def _app_key(d):
    return f"{d['DomainId']}/{d.get('UserProfileName') or d.get('SpaceName')}/{d['AppType']}/{d['AppName']}"


#: kind -> (DescribeX, ListX, list key, registry key of a describe/summary dict, not-found message).
#: ResourceNotFound: the error each Describe* lists in the SageMaker API reference.
EVENTUAL = {
    StudioDomain.KIND: ("describe_domain", "list_domains", "Domains", lambda d: d["DomainId"],
                        "Cannot find Domain with ID {}"),
    UserProfile.KIND: ("describe_user_profile", "list_user_profiles", "UserProfiles",
                       lambda d: f"{d['DomainId']}/{d['UserProfileName']}", "User profile {} does not exist"),
    Space.KIND: ("describe_space", "list_spaces", "Spaces", lambda d: f"{d['DomainId']}/{d['SpaceName']}",
                 "Space {} does not exist"),
    App.KIND: ("describe_app", "list_apps", "Apps", _app_key, "App {} does not exist"),
}


def _install_eventual():
    """--realistic: describes and lists miss what is in its eventual-consistency window."""
    for kind, (describe, list_, items, key_of, message) in EVENTUAL.items():
        not_found = lambda key, message=message: ResourceNotFound(message.format(key))  # noqa: E731
        realistic.guard(SageMakerResponse, describe, kind, key_of, not_found)
        realistic.guard(SageMakerResponse, list_, kind, key_of, not_found, list_key=items)


def install(app):
    """Swap in the extended backends, add the response methods, and refresh lifecycles per request
    (EFS's too: efs must be installed as well, before this)."""
    sagemaker_backends.backend = StudioBackend
    for account in sagemaker_backends.values():
        account.backend = StudioBackend
        for backend in account.values():
            backend.__class__ = StudioBackend
            backend.__init__(backend.region_name, backend.account_id)
    for name, fn in vars(StudioResponses).items():
        if callable(fn):
            setattr(SageMakerResponse, name, fn)
    _install_eventual()
    control.on_reset(reset)
    control.on_force_state("sagemaker_app", force_app_state)
    control.on_force_state("sagemaker_classic_app", plant_classic_app)

    def refreshing_app(environ, start_response):
        # ENIs of mount targets and apps must vanish on time even if only EC2 is asked.
        with _lock:
            refresh_all()
        return app(environ, start_response)

    return refreshing_app

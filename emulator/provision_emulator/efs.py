"""EFS deletion lifecycles on top of moto's EFS backend.

moto already refuses DeleteFileSystem while mount targets exist
(FileSystemInUse, HTTP 409) and gives every mount target an ENI in the EC2
backend. What it lacks is time: in AWS a deleted mount target stays in
lifeCycleState "deleting" (its ENI still present) for a while, and a deleted
file system stays "deleting" before it disappears. Both delays come from the
latency profile ("efs.mount_target", "efs.file_system") and are evaluated
lazily by ``refresh()``.

Also: a mount target's ENI is requester-managed and ``in-use`` (DeleteNetworkInterface is
refused, see ec2.py); CreateFileSystem with a CreationToken already in use answers
FileSystemAlreadyExists carrying the existing FileSystemId, as AWS does (moto's error lacks it);
PutBackupPolicy (moto: not implemented) and DescribeBackupPolicy (moto: HTTP 500 for a missing file
system), see ``put_backup_policy``.
"""
import json
import time

from moto.ec2.exceptions import InvalidNetworkInterfaceIdError
from moto.efs import urls as efs_urls
from moto.efs.exceptions import (BadRequest, EFSError, FileSystemInUse, FileSystemNotFound, MountTargetNotFound,
                                 PolicyNotFound)
from moto.efs.models import EFSBackend, efs_backends
from moto.efs.responses import EFSResponse

from . import control
from .profile import delay


class FileSystemAlreadyExists(EFSError):
    """botocore's efs model: FileSystemAlreadyExists (HTTP 409) has required members ErrorCode and
    FileSystemId; CreateFileSystem's documentation: with a creation token already used, "this
    operation returns a FileSystemAlreadyExists error with the ID of the existing file system"."""
    code = 409

    def __init__(self, creation_token, file_system_id):
        super().__init__("FileSystemAlreadyExists", f"File system '{file_system_id}' already exists "
                         f"with creation token '{creation_token}'")
        self.description = json.dumps({"__type": "FileSystemAlreadyExists", "ErrorCode": "FileSystemAlreadyExists",
                                       "Message": self.message, "FileSystemId": file_system_id})


class IncorrectFileSystemLifeCycleState(EFSError):
    """botocore's efs model: "Returned if the file system's lifecycle state is not "available"" (HTTP 409),
    one of PutBackupPolicy's errors."""
    code = 409

    def __init__(self, file_system_id, state):
        super().__init__("IncorrectFileSystemLifeCycleState",
                         f"File system '{file_system_id}' is in lifecycle state '{state}', not 'available'.")


#: BackupPolicy.Status a PutBackupPolicy may set. The API reference lists ENABLED, ENABLING, DISABLED and
#: DISABLING, the last two as what "EFS is turning on/off"; terraform-provider-aws's aws_efs_backup_policy
#: (efs/backup_policy.go) accepts only ENABLED and DISABLED. Another value -> BadRequest (our inference: "an
#: invalid parameter value", the API reference's BadRequest).
BACKUP_STATUSES = ("ENABLED", "DISABLED")


class LifecycleEFSBackend(EFSBackend):
    """EFSBackend whose mount target and file system deletions take the profile's time."""

    @property
    def _url_module(self):  # moto derives it from the class's module
        return efs_urls

    def refresh(self):
        """Finish the deletions whose time is up (mount targets first: they gate file systems)."""
        now = time.time()
        mt_wait = delay("efs.mount_target", "delete_s")
        for mt in list(self.mount_targets_by_id.values()):
            since = getattr(mt, "_deleting_since", None)
            if since is not None and now - since >= mt_wait:
                fs = mt._file_system
                try:
                    super().delete_mount_target(mt.mount_target_id)  # drops the ENI too
                except InvalidNetworkInterfaceIdError:  # its ENI was already removed by hand
                    del self.mount_targets_by_id[mt.mount_target_id]
                    mt.clean_up()
                fs._unmounted_at = max(getattr(fs, "_unmounted_at", 0), since + mt_wait)
        fs_wait = delay("efs.file_system", "delete_s")
        for fs in list(self.file_systems_by_id.values()):
            if getattr(fs, "_delete_when_unmounted", False) and fs.number_of_mount_targets == 0:
                fs._delete_when_unmounted = False
                self._start_file_system_deletion(fs, getattr(fs, "_unmounted_at", now))
            since = getattr(fs, "_deleting_since", None)
            if since is not None and now - since >= fs_wait:
                super().delete_file_system(fs.file_system_id)
                self.tagging_service.delete_all_tags_for_resource(fs.file_system_id)

    @staticmethod
    def _start_file_system_deletion(fs, at):
        if getattr(fs, "_deleting_since", None) is None:
            fs.life_cycle_state = "deleting"
            fs._deleting_since = at

    def create_file_system(self, creation_token, *args, **kwargs):
        """Idempotent by CreationToken: the same token again -> FileSystemAlreadyExists with the id."""
        self.refresh()
        for fs in self.file_systems_by_id.values():
            if creation_token and fs.creation_token == creation_token:
                raise FileSystemAlreadyExists(creation_token, fs.file_system_id)
        return super().create_file_system(creation_token, *args, **kwargs)

    def create_mount_target(self, *args, **kwargs):
        """As moto, and the ENI is requester-managed (in use) with the description AWS gives it
        (EC2 User Guide, "Requester-managed network interfaces": it goes with the mount target)."""
        self.refresh()
        mt = super().create_mount_target(*args, **kwargs)
        eni = self.ec2_backend.get_network_interface(mt.network_interface_id)
        eni.description = f"EFS mount target for {mt.file_system_id} ({mt.mount_target_id})"
        eni.requester_managed, eni.status = True, "in-use"
        return mt

    def delete_mount_target(self, mount_target_id):
        """Mount target goes to "deleting"; it and its ENI vanish after efs.mount_target delete_s."""
        self.refresh()
        mt = self.mount_targets_by_id.get(mount_target_id)
        if mt is None:
            raise MountTargetNotFound(mount_target_id)
        if getattr(mt, "_deleting_since", None) is None:
            mt.life_cycle_state = "deleting"
            mt._deleting_since = time.time()
        self.refresh()

    def delete_file_system(self, file_system_id):
        """FileSystemInUse while any mount target (even a deleting one) exists; else "deleting"."""
        self.refresh()
        fs = self.file_systems_by_id.get(file_system_id)
        if fs is None:
            raise FileSystemNotFound(file_system_id)
        if fs.number_of_mount_targets > 0:
            raise FileSystemInUse("Must delete all mount targets before deleting file system.")
        self._start_file_system_deletion(fs, time.time())
        self.refresh()

    def delete_file_system_when_unmounted(self, file_system_id):
        """What SageMaker does for RetentionPolicy Delete: unmount everywhere, then delete the EFS."""
        fs = self.file_systems_by_id[file_system_id]
        for mt in list(fs.iter_mount_targets()):
            self.delete_mount_target(mt.mount_target_id)
        fs._delete_when_unmounted = True
        self.refresh()

    def describe_file_systems(self, *args, **kwargs):
        self.refresh()
        return super().describe_file_systems(*args, **kwargs)

    def _file_system(self, file_system_id):
        self.refresh()
        fs = self.file_systems_by_id.get(file_system_id)
        if fs is None:
            raise FileSystemNotFound(file_system_id)
        return fs

    def put_backup_policy(self, file_system_id, backup_policy):
        """PutBackupPolicy (EFS API reference): turns automatic backups on (ENABLED) or off (DISABLED); the
        answer, and DescribeBackupPolicy from then on, is the status set (the AWS CLI's put-backup-policy
        example answers "ENABLED" at once). FileSystemNotFound (404) for a missing file system;
        IncorrectFileSystemLifeCycleState (409) for one not "available" (e.g. deleting). AWS may report
        ENABLING/DISABLING for a while (terraform-provider-aws waits through them); not modelled."""
        fs = self._file_system(file_system_id)
        status = (backup_policy or {}).get("Status")
        if status not in BACKUP_STATUSES:
            raise BadRequest(f"Invalid BackupPolicy Status '{status}': must be one of {', '.join(BACKUP_STATUSES)}.")
        if fs.life_cycle_state != "available":
            raise IncorrectFileSystemLifeCycleState(fs.file_system_id, fs.life_cycle_state)
        fs._backup, fs._backup_status = status == "ENABLED", status
        return {"Status": status}

    def describe_backup_policy(self, file_system_id):
        """DescribeBackupPolicy (EFS API reference): the status PutBackupPolicy set, or ENABLED for a file
        system created with ``Backup`` true (CreateFileSystem: "Set the value to true to enable automatic
        backups"; also the default with an AvailabilityZoneName, which moto applies). A file system that never
        had a policy -> PolicyNotFound (404; the API reference: "Returned if the default file system policy is
        in effect for the EFS file system specified"); the text is ours. A missing file system ->
        FileSystemNotFound (404; moto answered 500)."""
        fs = self._file_system(file_system_id)
        status = getattr(fs, "_backup_status", None) or ("ENABLED" if fs._backup else None)
        if status is None:
            raise PolicyNotFound(f"No backup policy is set for file system '{fs.file_system_id}'.")
        return {"Status": status}

    def describe_mount_targets(self, *args, **kwargs):
        self.refresh()
        return super().describe_mount_targets(*args, **kwargs)


def put_backup_policy_response(self):
    """PUT /2015-02-01/file-systems/{FileSystemId}/backup-policy (moto routes it here, has no handler)."""
    policy = self.efs_backend.put_backup_policy(self._get_param("FileSystemId"), self._get_param("BackupPolicy"))
    return json.dumps({"BackupPolicy": policy}), {"Content-Type": "application/json"}


def refresh_all():
    for account in list(efs_backends.values()):
        for backend in list(account.values()):
            backend.refresh()


def reset():
    for account in list(efs_backends.values()):
        account.reset()


def install(app):
    """Make every EFS backend (existing or future, also after a moto reset) a LifecycleEFSBackend."""
    efs_backends.backend = LifecycleEFSBackend
    for account in efs_backends.values():
        account.backend = LifecycleEFSBackend
        for backend in account.values():
            backend.__class__ = LifecycleEFSBackend
    EFSResponse.put_backup_policy = put_backup_policy_response
    control.on_reset(reset)

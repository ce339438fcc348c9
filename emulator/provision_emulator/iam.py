"""IAM refusals moto lets through (moto 5.2.5).

DeletePolicy of a managed policy that is still attached to a user, group or
role, or that has versions besides its default one, is refused with
DeleteConflict (HTTP 409), as AWS does; moto deleted it. botocore's iam model
(DeletePolicy): "Before you can delete a managed policy, you must first detach
the policy from all users, groups, and roles that it is attached to. In
addition, you must delete all the policy's versions ... Delete the policy (this
automatically deletes the policy's default version)"; DeleteConflictException:
"The request was rejected because it attempted to delete a resource that has
attached subordinate entities."

Attaching a managed policy to a role, user or group it is already attached to changes nothing:
moto counted the attachment again, so one detach left AttachmentCount at 1 and DeletePolicy was
refused forever. IAM API reference, Policy.AttachmentCount: "The number of entities (users,
groups, and roles) that the policy is attached to" (entities, not calls; AttachRolePolicy lists no
error for a policy already attached, and answers success).

With ``--realistic`` (realistic.py): a role just created is, for its drawn eventual-consistency
window, NoSuchEntity to GetRole and left out of ListRoles; and SageMaker cannot assume it until
its IAM propagation window has passed (``realistic.assumable``, checked in sagemaker.py).
"""
from moto.iam.exceptions import DeleteConflictException, NotFoundException
from moto.iam.models import IAMBackend, ManagedPolicy
from moto.iam.responses import IamResponse

from . import realistic

_orig_delete_policy = IAMBackend.delete_policy


def delete_policy(self, policy_arn):
    policy = self.get_policy(policy_arn)  # NoSuchEntity
    if policy.attachment_count > 0:
        raise DeleteConflictException("Cannot delete a policy attached to entities.")
    if any(not v.is_default for v in policy.versions):
        raise DeleteConflictException("This policy has more than one version. Before you delete a policy, you must "
                                      "delete the policy's versions. The default version is deleted with the policy.")
    return _orig_delete_policy(self, policy_arn)


_orig_attach_to = ManagedPolicy.attach_to


def attach_to(self, obj):
    if self.arn in obj.managed_policies:  # already attached: AWS answers success, nothing changes
        return
    _orig_attach_to(self, obj)


_orig_create_role = IAMBackend.create_role


def create_role(self, *args, **kwargs):
    role = _orig_create_role(self, *args, **kwargs)
    realistic.created("iam.role", role.arn)
    realistic.role_created(role.arn)
    return role


def install(app):
    IAMBackend.delete_policy = delete_policy
    IAMBackend.create_role = create_role
    ManagedPolicy.attach_to = attach_to
    # "NoSuchEntity: The role with name X cannot be found." (IAM API reference, GetRole errors).
    not_found = lambda arn: NotFoundException(f"The role with name {arn.rsplit('/', 1)[-1]} cannot be found.")  # noqa: E731
    realistic.guard(IamResponse, "get_role", "iam.role", lambda r: r["Role"].arn, not_found)
    realistic.guard(IamResponse, "list_roles", "iam.role", lambda r: r.arn, not_found, list_key="Roles")
    return None

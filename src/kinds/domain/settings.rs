//! The domain's defaults for today's Studio (the profile settings, the
//! default user and space settings, the JupyterLab resource spec) and how
//! a live domain's differ from them.

use anyhow::Result;
use aws_sdk_sagemaker::types::{
    AppInstanceType, AppLifecycleManagement, DefaultEbsStorageSettings, DefaultSpaceSettings,
    DefaultSpaceStorageSettings, IdleSettings, JupyterLabAppSettings, LifecycleManagement, ResourceSpec,
    StudioWebPortal, UserSettings,
};

use crate::config::AppImage;
use crate::kinds::Ctx;
use crate::step_id::StepId;

/// The execution role and security group every profile runs with.
pub(in crate::kinds) fn user_settings(ctx: &Ctx, role: &StepId, sg: &StepId) -> Result<UserSettings> {
    Ok(UserSettings::builder().execution_role(ctx.state.id(role)?).security_groups(ctx.state.id(sg)?).build())
}

/// Where today's Studio lands: the web portal's home (`DefaultLandingUri`
/// `studio::`; `app:JupyterServer:` would be Studio Classic). SageMaker API
/// reference, UserSettings.
pub const LANDING_URI: &str = "studio::";

/// The largest space volume the domain allows when the stack's own size is
/// smaller (the API's `MaximumEbsVolumeSizeInGb`; Studio's console default).
pub(super) const MAX_SPACE_GIB: i32 = 100;

/// The domain's defaults for today's Studio (SageMaker API reference,
/// CreateDomain `DefaultUserSettings`: `StudioWebPortal` ENABLED,
/// `DefaultLandingUri`, `JupyterLabAppSettings.AppLifecycleManagement.IdleSettings`
/// {LifecycleManagement ENABLED, IdleTimeoutInMinutes 60..525600},
/// `SpaceStorageSettings.DefaultEbsStorageSettings`; aws-sdk-sagemaker
/// `types::UserSettings`): the profile settings plus these.
pub(in crate::kinds) fn default_user_settings(ctx: &Ctx, role: &StepId, sg: &StepId) -> Result<UserSettings> {
    let idle = IdleSettings::builder()
        .lifecycle_management(LifecycleManagement::Enabled)
        .idle_timeout_in_minutes(ctx.s.idle_timeout_minutes)
        .build();
    let gib = ctx.s.space_storage_gib;
    let storage = DefaultSpaceStorageSettings::builder()
        .default_ebs_storage_settings(
            DefaultEbsStorageSettings::builder()
                .default_ebs_volume_size_in_gb(gib)
                .maximum_ebs_volume_size_in_gb(gib.max(MAX_SPACE_GIB))
                .build(),
        )
        .build();
    Ok(UserSettings::builder()
        .execution_role(ctx.state.id(role)?)
        .security_groups(ctx.state.id(sg)?)
        .studio_web_portal(StudioWebPortal::Enabled)
        .default_landing_uri(LANDING_URI)
        .jupyter_lab_app_settings(
            JupyterLabAppSettings::builder()
                .default_resource_spec(jupyter_spec(ctx)?)
                .app_lifecycle_management(AppLifecycleManagement::builder().idle_settings(idle).build())
                .build(),
        )
        .space_storage_settings(storage)
        .build())
}

/// The JupyterLab `ResourceSpec` of the stack's apps: the stack's image
/// (`SageMakerImageArn`, and `SageMakerImageVersionArn` when `app_image`
/// pins a version: "When both ... are passed, SageMakerImageVersionArn is
/// used", API reference, ResourceSpec) on `app_instance_type`. The same spec
/// is the space's and the domain's JupyterLab `DefaultResourceSpec`, where
/// Studio's UI puts it, so an app a user starts in Studio runs it too.
pub fn jupyter_spec(ctx: &Ctx) -> Result<ResourceSpec> {
    let image = ctx.s.jupyter_image().map_err(anyhow::Error::msg)?;
    Ok(ResourceSpec::builder()
        .sage_maker_image_arn(image.image)
        .set_sage_maker_image_version_arn(image.version)
        .instance_type(AppInstanceType::from(ctx.s.app_instance_type.as_str()))
        .build())
}

/// The spaces' defaults (CreateDomain `DefaultSpaceSettings`, which
/// SageMaker applies to shared spaces, botocore's DefaultSpaceSettings): the
/// same execution role and security group, and the JupyterLab image.
pub(super) fn default_space_settings(ctx: &Ctx, role: &StepId, sg: &StepId) -> Result<DefaultSpaceSettings> {
    Ok(DefaultSpaceSettings::builder()
        .execution_role(ctx.state.id(role)?)
        .security_groups(ctx.state.id(sg)?)
        .jupyter_lab_app_settings(JupyterLabAppSettings::builder().default_resource_spec(jupyter_spec(ctx)?).build())
        .build())
}

/// The image a JupyterLab resource spec names when it is not `want`
/// (`unset` when it names none); None: it is `want`.
pub fn other_image(spec: Option<&ResourceSpec>, want: &AppImage) -> Option<String> {
    let image = spec.and_then(|s| s.sage_maker_image_arn());
    let version = spec.and_then(|s| s.sage_maker_image_version_arn());
    (!want.matches(image, version)).then(|| version.or(image).unwrap_or("unset").to_string())
}

/// How a JupyterLab `DefaultResourceSpec` differs from the stack's image
/// and instance type (`what` names it in the message).
pub(super) fn default_spec_drift(
    what: &str,
    spec: Option<&ResourceSpec>,
    want: &AppImage,
    instance: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(other) = other_image(spec, want) {
        out.push(format!("{what} JupyterLab image is {other}, not {}", want.shown()));
    }
    let it = spec.and_then(|s| s.instance_type()).map(|t| t.as_str()).unwrap_or("unset");
    if it != instance {
        out.push(format!("{what} JupyterLab instance type is {it}, not {instance}"));
    }
    out
}

/// How the domain's defaults differ from today's Studio as the stack sets it.
pub(super) fn studio_drift(
    ctx: &Ctx,
    d: &aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput,
    role: &StepId,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let u = d.default_user_settings();
    let portal = u.and_then(|u| u.studio_web_portal()).map(|p| p.as_str()).unwrap_or("unset");
    if portal != StudioWebPortal::Enabled.as_str() {
        out.push(format!("StudioWebPortal is {portal}, not ENABLED"));
    }
    let landing = u.and_then(|u| u.default_landing_uri()).unwrap_or("unset");
    if landing != LANDING_URI {
        out.push(format!("DefaultLandingUri is {landing}, not {LANDING_URI}"));
    }
    let idle = u
        .and_then(|u| u.jupyter_lab_app_settings())
        .and_then(|j| j.app_lifecycle_management())
        .and_then(|a| a.idle_settings());
    let on = idle.and_then(|i| i.lifecycle_management()) == Some(&LifecycleManagement::Enabled);
    let minutes = idle.and_then(|i| i.idle_timeout_in_minutes());
    if !on || minutes != Some(ctx.s.idle_timeout_minutes) {
        out.push(format!(
            "JupyterLab idle shutdown is {}, not on after {} minutes",
            if on { format!("on after {} minutes", minutes.unwrap_or_default()) } else { "off".to_string() },
            ctx.s.idle_timeout_minutes
        ));
    }
    let role = ctx.state.id(role).unwrap_or_default();
    if d.default_space_settings().and_then(|s| s.execution_role()) != Some(role.as_str()) {
        out.push("the default space settings lack the execution role".to_string());
    }
    let want = ctx.s.jupyter_image().map_err(anyhow::Error::msg)?;
    let instance = ctx.s.app_instance_type.as_str();
    let user_spec = u.and_then(|u| u.jupyter_lab_app_settings()).and_then(|j| j.default_resource_spec());
    out.extend(default_spec_drift("the default user settings'", user_spec, &want, instance));
    let space_spec =
        d.default_space_settings().and_then(|s| s.jupyter_lab_app_settings()).and_then(|j| j.default_resource_spec());
    out.extend(default_spec_drift("the default space settings'", space_spec, &want, instance));
    Ok(out)
}

//! Today's Studio: spaces and their apps, the app as runtime (stop, start,
//! reported not recreated), no Studio Classic app ever attempted, and a
//! stack recorded with a Studio Classic app by an earlier version.

mod common;

use common::*;
use serde_json::json;

const SCALE: &str = "0.002";
const USER: &str = "anfw-user-profile-us-east-1";
const SPACE: &str = "anfw-user-profile-us-east-1-space";

/// An app its user stopped (here: deleted out of band, as Studio's "Stop"
/// and idle shutdown do) is reported as stopped with exit 0, left stopped
/// by `up`, started again by `provision start` and stopped by `provision stop`.
#[test]
fn a_stopped_app_is_reported_left_stopped_by_up_and_started_again() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let domain = step_id(&state_json(d), "sm.domain");
    rt().block_on(delete_space_app(&emu, &domain, USER));
    assert_eq!(rt().block_on(app_status(&emu, &domain, USER)).as_deref(), Some("Deleted"));

    let st = provision(&emu, d, &["status"]);
    assert_eq!(st.status.code(), Some(0), "a stopped app is not a difference: {}", text(&st));
    let line = text(&st).lines().find(|l| l.contains("sm.app ")).unwrap_or_default().to_string();
    assert!(line.contains("stopped"), "{}", text(&st));

    emu.clear_calls();
    let out = provision_ok(&emu, d, &["up"]);
    assert!(out.contains("sm.app: SageMaker app") && out.contains("stopped"), "{out}");
    assert!(!emu.calls().iter().any(|c| c == "sagemaker:CreateApp"), "up restarted the app");
    assert_eq!(rt().block_on(app_status(&emu, &domain, USER)).as_deref(), Some("Deleted"));

    let out = provision_ok(&emu, d, &["start"]);
    assert!(out.contains("is running"), "{out}");
    assert_eq!(rt().block_on(app_status(&emu, &domain, USER)).as_deref(), Some("InService"));
    assert!(provision_ok(&emu, d, &["start"]).contains("already running"));
    let st = provision_ok(&emu, d, &["status"]);
    assert!(st.lines().any(|l| l.contains("sm.app ") && l.contains("present")), "{st}");

    let out = provision_ok(&emu, d, &["stop"]);
    assert!(out.contains("space and EBS volume stay"), "{out}");
    assert_eq!(rt().block_on(app_status(&emu, &domain, USER)).as_deref(), Some("Deleted"));
    let inv = rt().block_on(inventory(&emu));
    assert!(inv.contains(&format!("space {SPACE}")), "the space stays: {inv:?}");
    assert!(provision_ok(&emu, d, &["status"]).contains("stopped"));

    let o = provision(&emu, d, &["start", "--user", "nobody"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--user: 'nobody' is not a user of this stack"), "{}", text(&o));

    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    let inv = rt().block_on(inventory(&emu));
    assert!(inv.is_empty(), "left after down --purge-efs: {inv:?}");
}

/// The emulator refuses Studio Classic apps as AWS does, and `up` never
/// sends one: every app it makes is a JupyterLab app in a space.
#[test]
fn studio_classic_apps_are_refused_and_never_attempted() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up", "--users", "alice,bob"]);
    let domain = step_id(&state_json(dir.path()), "sm.domain");
    rt().block_on(async {
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        for t in [aws_sdk_sagemaker::types::AppType::JupyterServer, aws_sdk_sagemaker::types::AppType::KernelGateway] {
            let e = sm
                .create_app()
                .domain_id(&domain)
                .user_profile_name("alice")
                .app_type(t.clone())
                .app_name("default")
                .send()
                .await
                .expect_err("a Studio Classic app is refused");
            let code = e.as_service_error().and_then(|s| aws_sdk_sagemaker::error::ProvideErrorMetadata::code(s));
            assert_eq!(code, Some("ValidationException"), "{t:?}: {e:?}");
        }
        let apps = sm.list_apps().domain_id_equals(&domain).send().await.unwrap();
        let mut spaces: Vec<&str> = apps.apps().iter().filter_map(|a| a.space_name()).collect();
        spaces.sort();
        assert_eq!(spaces, ["alice-space", "bob-space"]);
        assert!(apps.apps().iter().all(|a| a.app_type().map(|t| t.as_str()) == Some("JupyterLab")));
    });
    let url = provision_ok(&emu, dir.path(), &["studio-url", "--user", "bob", "--space"]);
    assert!(url.trim().starts_with("https://"), "{url}");
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(rt().block_on(inventory(&emu)).is_empty());
}

/// A stack an earlier version recorded (state schema 1, `sm.app` a Studio
/// Classic JupyterServer app, a domain without today's Studio settings):
/// `up` keeps the Classic app, records it as `sm.classic_app`, brings the
/// domain to today's Studio and adds the space and its JupyterLab app;
/// `down` deletes the Classic app before the user profile.
#[test]
fn a_stack_with_a_studio_classic_app_keeps_it_through_up_and_down_deletes_it() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let path = d.join("state/sagemaker-studio-anfw.json");
    let mut st = state_json(d);
    let domain = step_id(&st, "sm.domain");
    // What version 1 recorded: no space, the profile's JupyterServer app.
    rt().block_on(delete_space_app(&emu, &domain, USER));
    rt().block_on(async {
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        sm.delete_space().domain_id(&domain).space_name(SPACE).send().await.unwrap();
        sm.update_domain()
            .domain_id(&domain)
            .default_user_settings(
                aws_sdk_sagemaker::types::UserSettings::builder()
                    .studio_web_portal(aws_sdk_sagemaker::types::StudioWebPortal::Disabled)
                    .default_landing_uri("app:JupyterServer:")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    emu.control_post(
        "force-state",
        json!({"kind": "sagemaker_classic_app", "domain_id": domain, "user_profile_name": USER,
               "app_type": "JupyterServer", "app_name": "default"}),
    );
    let classic = format!("{domain}/{USER}/JupyterServer/default");
    st["schema"] = json!(1);
    let steps = st["steps"].as_object_mut().unwrap();
    steps.remove("sm.space");
    steps.get_mut("sm.app").unwrap()["id"] = json!(classic);
    std::fs::write(&path, serde_json::to_vec_pretty(&st).unwrap()).unwrap();

    let out = provision_ok(&emu, d, &["up"]);
    assert!(out.contains("sm.domain") && out.contains("StudioWebPortal"), "the domain is brought up to date: {out}");
    let st = state_json(d);
    assert_eq!(st["schema"], 2);
    assert_eq!(st["steps"]["sm.classic_app"]["id"], classic, "the Classic app is recorded under its own step");
    assert_eq!(step_id(&st, "sm.space"), format!("{domain}/{SPACE}"));
    assert_eq!(step_id(&st, "sm.app"), format!("{domain}/{SPACE}/JupyterLab/default"));
    let bak: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("state/sagemaker-studio-anfw.json.bak")).unwrap()).unwrap();
    assert_eq!(bak["schema"], 1, "the backup keeps what version 1 wrote");
    rt().block_on(async {
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        let a = sm
            .describe_app()
            .domain_id(&domain)
            .user_profile_name(USER)
            .app_type(aws_sdk_sagemaker::types::AppType::JupyterServer)
            .app_name("default")
            .send()
            .await
            .unwrap();
        assert_eq!(a.status().map(|s| s.as_str()), Some("InService"), "up kept the Classic app");
        let dd = sm.describe_domain().domain_id(&domain).send().await.unwrap();
        let us = dd.default_user_settings().unwrap();
        assert_eq!(us.studio_web_portal().map(|p| p.as_str()), Some("ENABLED"));
        assert_eq!(us.default_landing_uri(), Some("studio::"));
    });
    assert_eq!(rt().block_on(app_status(&emu, &domain, USER)).as_deref(), Some("InService"));
    assert!(provision_ok(&emu, d, &["up"]).contains("Nothing to do"));
    let st = provision(&emu, d, &["status"]);
    assert_eq!(st.status.code(), Some(0), "{}", text(&st));
    assert!(text(&st).contains("sm.classic_app"), "{}", text(&st));

    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(rt().block_on(inventory(&emu)).is_empty());
}

/// The SageMaker Distribution CPU image of us-east-1 (SageMaker developer
/// guide's per-region table, `src/config/app_image.rs`).
const IMAGE: &str = "arn:aws:sagemaker:us-east-1:885854791233:image/sagemaker-distribution-cpu";

/// (image, image version) of a user's JupyterLab app, as DescribeApp answers.
async fn app_image(emu: &Emulator, domain: &str, user: &str) -> (Option<String>, Option<String>) {
    let a = space_app(emu, domain, user).await.unwrap_or_else(|| panic!("no app of {user}"));
    let spec = a.resource_spec();
    (
        spec.and_then(|s| s.sage_maker_image_arn()).map(String::from),
        spec.and_then(|s| s.sage_maker_image_version_arn()).map(String::from),
    )
}

/// The domain's JupyterLab default image (user settings, space settings).
async fn domain_images(emu: &Emulator, domain: &str) -> (Option<String>, Option<String>) {
    let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
    let d = sm.describe_domain().domain_id(domain).send().await.unwrap();
    let user =
        d.default_user_settings().and_then(|u| u.jupyter_lab_app_settings()).and_then(|j| j.default_resource_spec());
    let space =
        d.default_space_settings().and_then(|s| s.jupyter_lab_app_settings()).and_then(|j| j.default_resource_spec());
    let shown = |s: Option<&aws_sdk_sagemaker::types::ResourceSpec>| {
        s.and_then(|s| s.sage_maker_image_version_arn().or(s.sage_maker_image_arn())).map(String::from)
    };
    (shown(user), shown(space))
}

/// Issue 33: `up` makes every JupyterLab app on the region's SageMaker
/// Distribution image and sets it as the domain's (and each space's)
/// default; an app on another image is reported by `status` and `verify`,
/// left running by `up`, and put on the stack's image by `stop` and
/// `start`; a domain without the default (an earlier version's) gets it
/// from `up`, and a second `up` changes nothing; `app_image` pins a version.
#[test]
fn apps_run_the_regions_distribution_image_and_another_image_is_reported() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up", "--users", "alice,bob"]);
    let domain = step_id(&state_json(d), "sm.domain");
    let rt = rt();
    for user in ["alice", "bob"] {
        assert_eq!(rt.block_on(app_image(&emu, &domain, user)), (Some(IMAGE.into()), None), "{user}'s app");
        let sm = rt.block_on(async { aws_sdk_sagemaker::Client::new(&emu.sdk().await) });
        let s = rt.block_on(sm.describe_space().domain_id(&domain).space_name(format!("{user}-space")).send()).unwrap();
        let spec =
            s.space_settings().and_then(|x| x.jupyter_lab_app_settings()).and_then(|j| j.default_resource_spec());
        assert_eq!(spec.and_then(|s| s.sage_maker_image_arn()), Some(IMAGE), "{user}'s space default");
        assert_eq!(spec.and_then(|s| s.instance_type()).map(|t| t.as_str()), Some("ml.t3.medium"));
    }
    assert_eq!(rt.block_on(domain_images(&emu, &domain)), (Some(IMAGE.into()), Some(IMAGE.into())));
    let v = provision_ok(&emu, d, &["verify"]);
    assert!(
        v.lines().any(|l| l.starts_with("PASS") && l.contains("studio.jupyterlab_image") && l.contains(IMAGE)),
        "{v}"
    );

    // Bob's app made again by hand on another image.
    let other = "arn:aws:sagemaker:us-east-1:123456789012:image/team-custom";
    rt.block_on(async {
        delete_space_app(&emu, &domain, "bob").await;
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        sm.create_app()
            .domain_id(&domain)
            .space_name("bob-space")
            .app_type(aws_sdk_sagemaker::types::AppType::JupyterLab)
            .app_name("default")
            .resource_spec(
                aws_sdk_sagemaker::types::ResourceSpec::builder()
                    .sage_maker_image_arn(other)
                    .instance_type(aws_sdk_sagemaker::types::AppInstanceType::MlT3Medium)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        for _ in 0..600 {
            if app_status(&emu, &domain, "bob").await.as_deref() == Some("InService") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    let st = provision(&emu, d, &["status"]);
    let t = text(&st);
    assert_eq!(st.status.code(), Some(1), "{t}");
    let line = t.lines().find(|l| l.contains("sm.app.bob")).unwrap_or_default();
    assert!(line.contains("changed") && line.contains(other) && line.contains(IMAGE), "{t}");
    assert!(t.contains("provision stop --user bob"), "says how: {t}");
    assert!(!t.lines().any(|l| l.contains("sm.app ") && l.contains("changed")), "alice's app is fine: {t}");
    let v = provision(&emu, d, &["verify"]);
    let vt = text(&v);
    assert_eq!(v.status.code(), Some(1), "{vt}");
    let line = vt.lines().find(|l| l.contains("studio.jupyterlab_image")).unwrap_or_default();
    assert!(line.starts_with("FAIL") && line.contains("bob-space") && line.contains(other), "{vt}");
    emu.clear_calls();
    provision_ok(&emu, d, &["up"]);
    let m = mutating(&emu.calls());
    assert!(m.is_empty(), "up leaves the user's runtime alone: {m:?}");
    assert_eq!(rt.block_on(app_image(&emu, &domain, "bob")).0.as_deref(), Some(other));
    provision_ok(&emu, d, &["stop", "--user", "bob"]);
    provision_ok(&emu, d, &["start", "--user", "bob"]);
    assert_eq!(rt.block_on(app_image(&emu, &domain, "bob")), (Some(IMAGE.into()), None), "made again on the stack's");
    let st = provision(&emu, d, &["status"]);
    assert_eq!(st.status.code(), Some(0), "{}", text(&st));

    // A domain whose JupyterLab settings have no default image (an earlier version's).
    rt.block_on(async {
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        let idle = aws_sdk_sagemaker::types::IdleSettings::builder()
            .lifecycle_management(aws_sdk_sagemaker::types::LifecycleManagement::Enabled)
            .idle_timeout_in_minutes(60)
            .build();
        let lab = aws_sdk_sagemaker::types::JupyterLabAppSettings::builder()
            .app_lifecycle_management(
                aws_sdk_sagemaker::types::AppLifecycleManagement::builder().idle_settings(idle).build(),
            )
            .build();
        sm.update_domain()
            .domain_id(&domain)
            .default_user_settings(
                aws_sdk_sagemaker::types::UserSettings::builder().jupyter_lab_app_settings(lab).build(),
            )
            .send()
            .await
            .unwrap();
    });
    assert_eq!(rt.block_on(domain_images(&emu, &domain)).0, None);
    let st = provision(&emu, d, &["status"]);
    let t = text(&st);
    assert_eq!(st.status.code(), Some(1), "{t}");
    assert!(t.lines().any(|l| l.contains("sm.domain") && l.contains("JupyterLab image is unset")), "{t}");
    let out = provision_ok(&emu, d, &["up"]);
    assert!(out.contains("sm.domain") && out.contains("updating it"), "{out}");
    assert_eq!(rt.block_on(domain_images(&emu, &domain)), (Some(IMAGE.into()), Some(IMAGE.into())));
    emu.clear_calls();
    provision_ok(&emu, d, &["up"]);
    assert!(mutating(&emu.calls()).is_empty(), "a second up changes nothing: {:?}", mutating(&emu.calls()));

    // A pinned version: the domain's defaults follow at once; the running apps are reported until restarted.
    let version = "arn:aws:sagemaker:us-east-1:885854791233:image-version/sagemaker-distribution-cpu/7";
    provision_ok(&emu, d, &["up", "--app-image", version]);
    assert_eq!(rt.block_on(domain_images(&emu, &domain)), (Some(version.into()), Some(version.into())));
    let st = provision(&emu, d, &["status"]);
    assert_eq!(st.status.code(), Some(1), "{}", text(&st));
    assert!(text(&st).lines().any(|l| l.contains("sm.app ") && l.contains("changed") && l.contains(version)));
    provision_ok(&emu, d, &["stop", "--user", "alice"]);
    provision_ok(&emu, d, &["start", "--user", "alice"]);
    assert_eq!(rt.block_on(app_image(&emu, &domain, "alice")).1.as_deref(), Some(version));
    assert_eq!(state_json(d)["params"]["app_image"], version, "recorded: a bare up keeps it");

    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(rt.block_on(inventory(&emu)).is_empty());
}

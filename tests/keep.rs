//! Issue 26: nothing a user keeps is lost, and nothing a user makes wedges
//! teardown. Plain `down` keeps every byte of the users' Studio storage (the
//! domain, its profiles, every space, the home EFS, the keys that encrypt
//! them and what they need to exist) and removes what costs by the hour; a
//! later `up` brings the stack back around the same domain and spaces.
//! `down --purge-efs` deletes what Studio's users made in the domain too,
//! after naming it; `status` and `plan --destroy` list it as its own
//! category; a domain whose tags do not prove it ours stops `down` before
//! its first delete.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sagemaker::types::{
    AppType, EbsStorageSettings, OwnershipSettings, ResourceSpec, SharingType, SpaceSettings, SpaceSharingSettings,
    SpaceStorageSettings,
};
use common::*;

const SCALE: &str = "0.002";
/// The SageMaker Distribution image of us-east-1 (SageMaker developer guide, the
/// images' ARNs per region), as the Studio UI starts apps on it.
const IMAGE: &str = "arn:aws:sagemaker:us-east-1:885854791233:image/sagemaker-distribution-cpu";

/// What a user does in the Studio UI: a private Code Editor space of their
/// own (`space`, `gib` GiB) with an app running in it; both waited for.
async fn user_makes_space_with_app(emu: &Emulator, domain: &str, owner: &str, space: &str, gib: i32) {
    let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
    let storage = SpaceStorageSettings::builder()
        .ebs_storage_settings(EbsStorageSettings::builder().ebs_volume_size_in_gb(gib).build())
        .build();
    sm.create_space()
        .domain_id(domain)
        .space_name(space)
        .ownership_settings(OwnershipSettings::builder().owner_user_profile_name(owner).build())
        .space_sharing_settings(SpaceSharingSettings::builder().sharing_type(SharingType::Private).build())
        .space_settings(SpaceSettings::builder().app_type(AppType::CodeEditor).space_storage_settings(storage).build())
        .send()
        .await
        .unwrap();
    wait_for(|| async { space_status(&sm, domain, space).await.as_deref() == Some("InService") }).await;
    let spec = ResourceSpec::builder()
        .instance_type(aws_sdk_sagemaker::types::AppInstanceType::MlT3Medium)
        .sage_maker_image_arn(IMAGE)
        .build();
    // CreateApp may not see a space created moments ago yet (--realistic): try again.
    wait_for(|| async {
        sm.create_app()
            .domain_id(domain)
            .space_name(space)
            .app_type(AppType::CodeEditor)
            .app_name("default")
            .resource_spec(spec.clone())
            .send()
            .await
            .is_ok()
    })
    .await;
    wait_for(|| async {
        let a = sm
            .describe_app()
            .domain_id(domain)
            .space_name(space)
            .app_type(AppType::CodeEditor)
            .app_name("default")
            .send()
            .await;
        a.ok().and_then(|a| a.status().map(|s| s.as_str() == "InService")).unwrap_or(false)
    })
    .await;
}

/// What an admin does by hand: a user profile in the stack's domain.
async fn admin_adds_profile(emu: &Emulator, domain: &str, name: &str) {
    let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
    wait_for(|| async { sm.create_user_profile().domain_id(domain).user_profile_name(name).send().await.is_ok() })
        .await;
    wait_for(|| async {
        let u = sm.describe_user_profile().domain_id(domain).user_profile_name(name).send().await;
        u.ok().and_then(|u| u.status().map(|s| s.as_str() == "InService")).unwrap_or(false)
    })
    .await;
}

async fn space_status(sm: &aws_sdk_sagemaker::Client, domain: &str, space: &str) -> Option<String> {
    let s = sm.describe_space().domain_id(domain).space_name(space).send().await.ok()?;
    s.status().map(|s| s.as_str().to_string())
}

async fn wait_for<F, Fut>(mut ok: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1200 {
        if ok().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("condition not met within a minute");
}

/// Every space of the domain: name → creation time.
async fn spaces(emu: &Emulator, domain: &str) -> BTreeMap<String, f64> {
    let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
    let out = sm.list_spaces().domain_id_equals(domain).send().await.unwrap();
    out.spaces()
        .iter()
        .map(|s| (s.space_name().unwrap().to_string(), s.creation_time().map(|t| t.as_secs_f64()).unwrap_or_default()))
        .collect()
}

async fn key_state(emu: &Emulator, key: &str) -> String {
    let kms = aws_sdk_kms::Client::new(&emu.sdk().await);
    let k = kms.describe_key().key_id(key).send().await.unwrap();
    k.key_metadata().unwrap().key_state().unwrap().as_str().to_string()
}

/// Two users; bob made a Code Editor space of his own and runs an app in it.
/// `status` names them (exit 0); `plan --destroy` shows what plain `down`
/// keeps and deletes, theirs included; plain `down --yes` keeps the domain,
/// every profile and space, the EFS and the keys that encrypt them (Enabled),
/// and leaves no firewall, NAT gateway, Elastic IP, endpoint or running app;
/// `up` then brings the stack back around the same domain and spaces, and
/// `verify` passes.
#[test]
fn plain_down_keeps_the_users_storage_and_up_brings_the_stack_back_around_it() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up", "--users", "alice,bob"]);
    let st = state_json(d);
    let domain = step_id(&st, "sm.domain");
    let kms_ebs = step_id(&st, "kms.ebs");
    rt().block_on(user_makes_space_with_app(&emu, &domain, "bob", "bob-scratch", 7));

    // status: the user-made space and app are their own category, not a difference.
    let o = provision(&emu, d, &["status", "--json"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "user-made resources are legitimate: {t}");
    let made: Vec<(String, String)> = json_array(&t)
        .iter()
        .filter(|l| l["action"] == "user-made")
        .map(|l| (l["id"].as_str().unwrap().to_string(), l["detail"].as_str().unwrap().to_string()))
        .collect();
    assert!(
        made.iter().any(|(id, what)| *id == format!("{domain}/bob-scratch") && what.contains("owner bob")),
        "status names bob's space and its owner: {t}"
    );
    assert!(
        made.iter()
            .any(|(id, what)| *id == format!("{domain}/bob-scratch/CodeEditor/default") && what.contains("InService")),
        "status names the app running in it: {t}"
    );
    assert_eq!(made.len(), 2, "nothing of the stack's own is user-made: {t}");

    // plan --destroy: what plain down keeps and deletes, the users' own included.
    let o = provision(&emu, d, &["plan", "--destroy", "--json"]);
    let plan = json_array(&text(&o));
    let action = |id: &str| -> Option<String> {
        plan.iter().find(|l| l["id"] == id).map(|l| l["action"].as_str().unwrap().to_string())
    };
    assert_eq!(action(&domain).as_deref(), Some("keep"), "{plan:?}");
    assert_eq!(action(&format!("{domain}/bob-scratch")).as_deref(), Some("keep"), "{plan:?}");
    assert_eq!(action(&format!("{domain}/alice-space")).as_deref(), Some("keep"), "{plan:?}");
    assert_eq!(action(&format!("{domain}/bob-scratch/CodeEditor/default")).as_deref(), Some("delete"), "{plan:?}");
    assert_eq!(action(&kms_ebs).as_deref(), Some("keep"), "{plan:?}");
    assert_eq!(action(&step_id(&st, "nfw.firewall")).as_deref(), Some("delete"), "{plan:?}");
    let before = spaces_of(&emu, &domain);

    let out = provision_ok(&emu, d, &["down", "--yes"]);
    assert!(out.contains("--purge-efs"), "down says how to finish: {out}");
    let inv = rt().block_on(inventory(&emu));
    let kinds = count_kinds(&inv);
    for gone in ["firewall", "nat", "eip", "vpce", "app", "igw"] {
        assert_eq!(kinds.get(gone), None, "plain down leaves no {gone}: {inv:?}");
    }
    assert!(inv.contains(&format!("domain {domain}")), "{inv:?}");
    for kept in ["user-profile alice", "user-profile bob", "space alice-space", "space bob-space", "space bob-scratch"]
    {
        assert!(inv.contains(kept), "plain down keeps {kept}: {inv:?}");
    }
    assert_eq!(kinds.get("efs"), Some(&1), "the home EFS stays: {inv:?}");
    assert_eq!(rt().block_on(key_state(&emu, &kms_ebs)), "Enabled", "the key of the EFS and the volumes stays usable");
    assert!(inv.contains(&format!("alias alias/sagemaker-anfw-kms-{}", "sagemaker-studio-anfw")), "{inv:?}");
    let st = state_json(d);
    for step in
        ["sm.domain", "sm.user", "sm.space.bob", "kms.ebs", "iam.role", "vpc", "subnet.sagemaker", "efs.file_system"]
    {
        assert_eq!(st["steps"][step]["status"], "retained", "{step} recorded as kept: {st}");
    }
    assert!(st["steps"].get("sm.user_made.spaces").is_none(), "what users made is not recorded: {st}");
    // status after down: what is kept is reported as retained, the users' space as theirs.
    let o = provision(&emu, d, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // verify after down: one line saying the stack is not up, not a failure per control.
    let o = provision(&emu, d, &["verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is not up") && !text(&o).contains("controls fail"), "{}", text(&o));

    // up: the same domain and spaces (creation times unchanged), and verify passes.
    provision_ok(&emu, d, &["up"]);
    let st = state_json(d);
    assert_eq!(step_id(&st, "sm.domain"), domain, "the same domain");
    assert_eq!(spaces_of(&emu, &domain), before, "the same spaces, made when they were");
    assert_eq!(rt().block_on(app_status(&emu, &domain, "alice")).as_deref(), Some("InService"));
    provision_ok(&emu, d, &["verify"]);
    let o = provision(&emu, d, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("retained"), "nothing is left marked as kept once the stack is back: {}", text(&o));

    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    let inv = rt().block_on(inventory(&emu));
    assert!(inv.is_empty(), "left after down --purge-efs --delete-data: {inv:?}");
}

fn spaces_of(emu: &Emulator, domain: &str) -> BTreeMap<String, f64> {
    rt().block_on(spaces(emu, domain))
}

/// The same stack, plus a profile an admin made by hand and another team's
/// domain with a space. On a terminal, `down --purge-efs` names each space
/// (owner, volume, who made it), the user-made profile and the EFS, and
/// deletes nothing when answered no; `--yes` removes everything of the stack,
/// user-made included, and nothing of the other domain.
#[test]
fn purge_efs_names_what_users_made_then_removes_it_and_nothing_else() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up", "--users", "alice,bob", "--no-logging"]);
    let st = state_json(d);
    let domain = step_id(&st, "sm.domain");
    let efs = step_id(&st, "efs.file_system");
    rt().block_on(user_makes_space_with_app(&emu, &domain, "bob", "bob-scratch", 7));
    rt().block_on(admin_adds_profile(&emu, &domain, "carol"));
    // Another team's domain (no VPC of ours) with a profile and a space.
    let other = rt().block_on(async {
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        let out = sm
            .create_domain()
            .domain_name("other-team")
            .auth_mode(aws_sdk_sagemaker::types::AuthMode::Iam)
            .default_user_settings(
                aws_sdk_sagemaker::types::UserSettings::builder()
                    .execution_role("arn:aws:iam::123456789012:role/other")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let id = out.domain_arn().unwrap().rsplit('/').next().unwrap().to_string();
        wait_for(|| async {
            let d = sm.describe_domain().domain_id(&id).send().await;
            d.ok().and_then(|d| d.status().map(|s| s.as_str() == "InService")).unwrap_or(false)
        })
        .await;
        admin_adds_profile(&emu, &id, "dave").await;
        wait_for(|| async {
            sm.create_space()
                .domain_id(&id)
                .space_name("team-space")
                .space_settings(SpaceSettings::builder().app_type(AppType::JupyterLab).build())
                .send()
                .await
                .is_ok()
        })
        .await;
        id
    });
    let before = rt().block_on(inventory(&emu));
    let o = provision(&emu, d, &["status"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for (what, id) in [("profile", format!("{domain}/carol")), ("space", format!("{domain}/bob-scratch"))] {
        assert!(
            t.lines().any(|l| l.starts_with("user-made") && l.contains(&id)),
            "status names the user-made {what} {id}: {t}"
        );
    }
    assert!(!t.contains(&other), "nothing of another domain is listed: {t}");

    let (code, screen) = on_terminal_at(&emu, d, SCALE, "down --purge-efs", "no\n");
    assert_eq!(code, Some(1), "answered no: {screen}");
    for named in [
        "space bob-scratch, owner bob, 7 GiB volume",
        "space alice-space, owner alice",
        "made in Studio",
        "made by the stack",
        "user profile carol",
        &format!("home EFS {efs}"),
    ] {
        assert!(screen.contains(named), "the question names {named}: {screen}");
    }
    assert!(!screen.contains("user profile alice,"), "the stack's own profiles are not listed as made in Studio");
    assert_eq!(rt().block_on(inventory(&emu)), before, "answered no: nothing deleted");

    provision_ok(&emu, d, &["down", "--purge-efs", "--yes"]);
    let inv = rt().block_on(inventory(&emu));
    // The buckets' access logs are data (issue 30): kept without --delete-data.
    let expect: BTreeSet<String> = [
        format!("domain {other}"),
        "user-profile dave".to_string(),
        "space team-space".to_string(),
        format!("bucket {}", step_id(&st, "bucket.logs")),
    ]
    .into_iter()
    .collect();
    assert_eq!(inv, expect, "everything of the stack is gone but its access logs; the other domain is untouched");
}

/// `down` refuses before its first delete (exit 2, no mutating call, the
/// blocker named) what would stop it half-way: a network interface nothing
/// of the stack owns in a subnet it deletes (someone's instance), another
/// team's security group whose rule refers to one it deletes, and what
/// users made in a domain whose tags no longer prove it this stack's. Once
/// the interface is gone and the tag back, it goes through.
#[test]
fn down_refuses_before_any_delete_what_would_stop_it_half_way() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up", "--no-logging"]);
    let st = state_json(d);
    let domain = step_id(&st, "sm.domain");

    // Someone's network interface in the NAT subnet: plain down would delete that subnet.
    let nat_subnet = step_id(&st, "subnet.nat");
    let eni = rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        let out = ec2
            .create_network_interface()
            .subnet_id(&nat_subnet)
            .description("another team's appliance")
            .send()
            .await
            .unwrap();
        out.network_interface().unwrap().network_interface_id().unwrap().to_string()
    });
    let before = rt().block_on(inventory(&emu));
    emu.clear_calls();
    let o = provision(&emu, d, &["down", "--yes"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains(&eni) && t.contains(&nat_subnet) && t.contains("nothing was deleted"), "{t}");
    let mutating = emu.mutating_calls();
    assert!(mutating.is_empty(), "no mutating call before the refusal: {mutating:?}");
    assert_eq!(rt().block_on(inventory(&emu)), before);
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        ec2.delete_network_interface().network_interface_id(&eni).send().await.unwrap();
    });

    // Another team's security group whose rule refers to sg.vpce: plain down would delete sg.vpce.
    let sg_vpce = step_id(&st, "sg.vpce");
    let theirs = rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        let g = ec2
            .create_security_group()
            .group_name("another-team")
            .description("another team's group")
            .vpc_id(step_id(&st, "vpc"))
            .send()
            .await
            .unwrap();
        let id = g.group_id().unwrap().to_string();
        let pair = aws_sdk_ec2::types::UserIdGroupPair::builder().group_id(&sg_vpce).build();
        let rule = aws_sdk_ec2::types::IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443)
            .user_id_group_pairs(pair)
            .build();
        ec2.authorize_security_group_ingress().group_id(&id).ip_permissions(rule).send().await.unwrap();
        id
    });
    emu.clear_calls();
    let o = provision(&emu, d, &["down", "--yes"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains(&theirs) && t.contains(&sg_vpce), "names the group and what it refers to: {t}");
    let mutating = emu.mutating_calls();
    assert!(mutating.is_empty(), "no mutating call before the refusal: {mutating:?}");
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        ec2.delete_security_group().group_id(&theirs).send().await.unwrap();
    });

    let user = "anfw-user-profile-us-east-1";
    rt().block_on(user_makes_space_with_app(&emu, &domain, user, "scratch", 5));
    let arn = rt().block_on(async {
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        let arn = sm.describe_domain().domain_id(&domain).send().await.unwrap().domain_arn().unwrap().to_string();
        sm.delete_tags().resource_arn(&arn).tag_keys("provision:stack").send().await.unwrap();
        arn
    });
    let before = rt().block_on(inventory(&emu));
    emu.clear_calls();
    let o = provision(&emu, d, &["down", "--purge-efs", "--yes"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("space scratch") && t.contains("nothing was deleted"), "names what blocks: {t}");
    let mutating = emu.mutating_calls();
    assert!(mutating.is_empty(), "no mutating call before the refusal: {mutating:?}");
    assert_eq!(rt().block_on(inventory(&emu)), before);

    rt().block_on(async {
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        let tag =
            aws_sdk_sagemaker::types::Tag::builder().key("provision:stack").value("sagemaker-studio-anfw").build();
        sm.add_tags().resource_arn(&arn).tags(tag).send().await.unwrap();
    });
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    let inv = rt().block_on(inventory(&emu));
    assert!(inv.is_empty(), "{inv:?}");
}

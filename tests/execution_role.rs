//! The execution role as Studio's users use it (issue 28): the emulator plays SageMaker assuming
//! a user profile's role for Studio (`studio_session`: the role's trust policy evaluated with
//! `aws:SourceAccount`/`aws:SourceArn`, the session carrying `sagemaker:DomainId` and
//! `sagemaker:UserProfileName`), and enforces IAM on the session's requests
//! (`emulator/provision_emulator/authz.py`, `sagemaker_conditions.py`). Every allowed action
//! succeeds and is there afterwards; every request outside the guardrails is refused, and the
//! refusal names the role's statement whose condition key it broke.

mod common;

use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, AppType, ContainerDefinition, NetworkConfig, OutputDataConfig, OwnershipSettings,
    ProcessingClusterConfig, ProcessingInstanceType, ProcessingOutput, ProcessingOutputConfig, ProcessingResources,
    ProcessingS3Output, ProcessingS3UploadMode, ProductionVariant, ProductionVariantInstanceType, ResourceConfig,
    SharingType, SpaceSharingSettings, StoppingCondition, TrainingInputMode, TrainingInstanceType, VpcConfig,
};
use common::*;
use serde_json::Value;

const REGION: &str = "us-east-1";

/// SageMaker's Studio session for `user`: its SDK config.
async fn studio_session(emu: &Emulator, domain: &str, user: &str) -> aws_config::SdkConfig {
    let s = emu.control_post(
        "force-state",
        serde_json::json!({"kind": "studio_session", "domain_id": domain, "user_profile_name": user}),
    );
    let key = |k: &str| s[k].as_str().unwrap_or_else(|| panic!("no {k} in {s}")).to_string();
    let creds = aws_sdk_sts::config::Credentials::new(
        key("access_key_id"),
        key("secret_access_key"),
        Some(key("session_token")),
        None,
        "studio",
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(&emu.url)
        .credentials_provider(creds)
        .load()
        .await
}

fn s3_of(cfg: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(cfg).force_path_style(true).build())
}

/// The stack's guardrails (the role's inline policy) and managed policy, as IAM holds them.
async fn role_policies(emu: &Emulator, st: &Value) -> Vec<Value> {
    let iam = aws_sdk_iam::Client::new(&emu.harness_sdk().await);
    let role = step_id(st, "iam.role");
    let name = role.rsplit('/').next().unwrap();
    let g = iam.get_role_policy().role_name(name).policy_name("guardrails").send().await.unwrap();
    let arn = step_id(st, "iam.policy");
    let p = iam.get_policy().policy_arn(&arn).send().await.unwrap();
    let v = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(p.policy().unwrap().default_version_id().unwrap())
        .send()
        .await
        .unwrap();
    [g.policy_document(), v.policy_version().unwrap().document().unwrap()]
        .iter()
        .map(|d| provision::policy::parse(d).unwrap())
        .collect()
}

/// The request was refused (`AccessDenied*`), by an explicit Deny of the role whose `Sid` is
/// `sid` and whose condition names `key`; or, with `sid` None, because nothing allows it.
fn refused<T, E: std::fmt::Debug>(
    emu: &Emulator,
    policies: &[Value],
    what: &str,
    r: Result<T, E>,
    sid: Option<&str>,
    key: &str,
) {
    let e = match r {
        Ok(_) => panic!("{what}: allowed, but it is outside the guardrails"),
        Err(e) => format!("{e:?}"),
    };
    assert!(e.contains("AccessDenied"), "{what}: {e}");
    let d = emu.denials().last().cloned().unwrap_or_default();
    assert!(d["principal"].as_str().unwrap_or_default().contains(":assumed-role/"), "{what}: {d}");
    match sid {
        Some(sid) => {
            assert_eq!((d["why"].as_str(), d["detail"].as_str()), (Some("explicit"), Some(sid)), "{what}: {d}");
            let st = policies
                .iter()
                .flat_map(|p| p["Statement"].as_array().unwrap().iter())
                .find(|s| s["Sid"] == sid)
                .unwrap_or_else(|| panic!("{what}: the role has no statement {sid}"));
            assert!(st["Condition"].to_string().contains(key), "{what}: {sid} does not name {key}: {st}");
        }
        None => {
            assert_eq!(d["why"], "implicit", "{what}: {d}");
            assert!(d["resource"].as_str().unwrap_or_default().contains(key), "{what}: {d}");
        }
    }
}

struct Stack {
    subnet: String,
    other_subnet: String,
    sg: String,
    other_sg: String,
    volume_key: String,
    output_key: String,
    role: String,
    data: String,
}

#[test]
fn studio_users_work_inside_the_guardrails_and_are_refused_outside_them() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up", "--users", "alice,bob"]);
    let st = state_json(d);
    let id = |s: &str| step_id(&st, s);
    let domain = id("sm.domain");
    let stack = Stack {
        subnet: id("subnet.sagemaker"),
        other_subnet: id("subnet.nat"),
        sg: id("sg.sagemaker"),
        other_sg: id("sg.vpce"),
        volume_key: id("kms.ebs"),
        output_key: id("kms.s3"),
        role: id("iam.role"),
        data: id("bucket.data"),
    };
    let models = id("bucket.models");
    let rt = rt();
    let policies = rt.block_on(role_policies(&emu, &st));
    let alice = rt.block_on(studio_session(&emu, &domain, "alice"));
    let sm = aws_sdk_sagemaker::Client::new(&alice);

    // --- Studio: the portal of one's own profile, one's own spaces and their apps.
    rt.block_on(async {
        sm.create_presigned_domain_url().domain_id(&domain).user_profile_name("alice").send().await.unwrap();
        let r = sm.create_presigned_domain_url().domain_id(&domain).user_profile_name("bob").send().await;
        refused(&emu, &policies, "bob's portal", r, None, "user-profile/");
        let own = |user: &str| OwnershipSettings::builder().owner_user_profile_name(user).build();
        let private = SpaceSharingSettings::builder().sharing_type(SharingType::Private).build();
        sm.create_space()
            .domain_id(&domain)
            .space_name("alice-lab")
            .ownership_settings(own("alice"))
            .space_sharing_settings(private.clone())
            .send()
            .await
            .unwrap();
        let r = sm
            .create_space()
            .domain_id(&domain)
            .space_name("for-bob")
            .ownership_settings(own("bob"))
            .space_sharing_settings(private.clone())
            .send()
            .await;
        refused(&emu, &policies, "a space owned by bob", r, None, "space/");
        let r = sm.delete_space().domain_id(&domain).space_name("bob-space").send().await;
        refused(&emu, &policies, "deleting bob's space", r, None, "space/");
        let r = sm
            .create_app()
            .domain_id(&domain)
            .space_name("bob-space")
            .app_type(AppType::JupyterLab)
            .app_name("x")
            .send()
            .await;
        refused(&emu, &policies, "an app in bob's space", r, None, "app/");
        // The space is InService before an app may start in it.
        for _ in 0..200 {
            let s = sm.describe_space().domain_id(&domain).space_name("alice-lab").send().await.unwrap();
            if s.status().map(|s| s.as_str()) == Some("InService") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        sm.create_app()
            .domain_id(&domain)
            .space_name("alice-lab")
            .app_type(AppType::JupyterLab)
            .app_name("default")
            .send()
            .await
            .unwrap();
        sm.delete_app()
            .domain_id(&domain)
            .space_name("alice-lab")
            .app_type(AppType::JupyterLab)
            .app_name("default")
            .send()
            .await
            .unwrap();
    });
    let root = rt.block_on(emu.harness_sdk());
    let root_sm = aws_sdk_sagemaker::Client::new(&root);
    rt.block_on(async {
        // Bob's space is still there; alice's lab and app exist.
        root_sm.describe_space().domain_id(&domain).space_name("bob-space").send().await.unwrap();
        root_sm.describe_space().domain_id(&domain).space_name("alice-lab").send().await.unwrap();
        assert!(root_sm.describe_space().domain_id(&domain).space_name("for-bob").send().await.is_err());
    });

    // --- Jobs, models, endpoint configs, notebook instances: inside the stack's network and keys.
    rt.block_on(async {
        let vpc = |subnet: &str, sg: &str| VpcConfig::builder().subnets(subnet).security_group_ids(sg).build();
        let train = |name: &str,
                     vpc: Option<VpcConfig>,
                     volume: Option<&str>,
                     output: Option<&str>,
                     isolation: Option<bool>| {
            let mut rc = ResourceConfig::builder()
                .instance_type(TrainingInstanceType::MlM5Large)
                .instance_count(1)
                .volume_size_in_gb(5);
            if let Some(k) = volume {
                rc = rc.volume_kms_key_id(k);
            }
            let mut out = OutputDataConfig::builder().s3_output_path(format!("s3://{}/out", stack.data));
            if let Some(k) = output {
                out = out.kms_key_id(k);
            }
            sm.create_training_job()
                .training_job_name(name)
                .role_arn(&stack.role)
                .algorithm_specification(
                    AlgorithmSpecification::builder()
                        .training_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/sagemaker-train:1")
                        .training_input_mode(TrainingInputMode::File)
                        .build(),
                )
                .output_data_config(out.build())
                .resource_config(rc.build())
                .stopping_condition(StoppingCondition::builder().max_runtime_in_seconds(600).build())
                .set_vpc_config(vpc)
                .set_enable_network_isolation(isolation)
        };
        let (v, o) = (Some(stack.volume_key.as_str()), Some(stack.output_key.as_str()));
        train("inside", Some(vpc(&stack.subnet, &stack.sg)), v, o, None).send().await.unwrap();
        let r = train("no-vpc", None, v, o, None).send().await;
        refused(&emu, &policies, "training without VPC", r, Some("DenyWithoutVpc"), "sagemaker:VpcSubnets");
        let r = train("other-subnet", Some(vpc(&stack.other_subnet, &stack.sg)), v, o, None).send().await;
        refused(&emu, &policies, "training in another subnet", r, Some("DenyOtherSubnets"), "sagemaker:VpcSubnets");
        let r = train("other-sg", Some(vpc(&stack.subnet, &stack.other_sg)), v, o, None).send().await;
        refused(
            &emu,
            &policies,
            "training with another group",
            r,
            Some("DenyOtherSecurityGroups"),
            "sagemaker:VpcSecurityGroupIds",
        );
        let r = train("no-volume-key", Some(vpc(&stack.subnet, &stack.sg)), None, o, None).send().await;
        refused(
            &emu,
            &policies,
            "training without the volume key",
            r,
            Some("DenyOtherVolumeKey"),
            "sagemaker:VolumeKmsKey",
        );
        let r = train("other-volume-key", Some(vpc(&stack.subnet, &stack.sg)), o, o, None).send().await;
        refused(
            &emu,
            &policies,
            "training with another volume key",
            r,
            Some("DenyOtherVolumeKey"),
            "sagemaker:VolumeKmsKey",
        );
        let r = train("no-output-key", Some(vpc(&stack.subnet, &stack.sg)), v, None, None).send().await;
        refused(
            &emu,
            &policies,
            "training without the output key",
            r,
            Some("DenyOtherOutputKey"),
            "sagemaker:OutputKmsKey",
        );

        let process = |name: &str, vpc: Option<VpcConfig>| {
            sm.create_processing_job()
                .processing_job_name(name)
                .role_arn(&stack.role)
                .app_specification(
                    aws_sdk_sagemaker::types::AppSpecification::builder()
                        .image_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/sagemaker-process:1")
                        .build(),
                )
                .processing_resources(
                    ProcessingResources::builder()
                        .cluster_config(
                            ProcessingClusterConfig::builder()
                                .instance_count(1)
                                .instance_type(ProcessingInstanceType::MlM5Large)
                                .volume_size_in_gb(5)
                                .volume_kms_key_id(&stack.volume_key)
                                .build(),
                        )
                        .build(),
                )
                .processing_output_config(
                    ProcessingOutputConfig::builder()
                        .kms_key_id(&stack.output_key)
                        .outputs(
                            ProcessingOutput::builder()
                                .output_name("out")
                                .s3_output(
                                    ProcessingS3Output::builder()
                                        .s3_uri(format!("s3://{}/processed", stack.data))
                                        .local_path("/opt/ml/processing/output")
                                        .s3_upload_mode(ProcessingS3UploadMode::EndOfJob)
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .stopping_condition(
                    aws_sdk_sagemaker::types::ProcessingStoppingCondition::builder()
                        .max_runtime_in_seconds(600)
                        .build(),
                )
                .network_config(NetworkConfig::builder().set_vpc_config(vpc).build())
        };
        process("process-inside", Some(vpc(&stack.subnet, &stack.sg))).send().await.unwrap();
        let r = process("process-no-vpc", None).send().await;
        refused(&emu, &policies, "processing without VPC", r, Some("DenyWithoutVpc"), "sagemaker:VpcSubnets");

        let model = |name: &str, vpc: Option<VpcConfig>| {
            sm.create_model()
                .model_name(name)
                .execution_role_arn(&stack.role)
                .primary_container(
                    ContainerDefinition::builder()
                        .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/sagemaker-serve:1")
                        .build(),
                )
                .set_vpc_config(vpc)
        };
        model("model-inside", Some(vpc(&stack.subnet, &stack.sg))).send().await.unwrap();
        let r = model("model-no-vpc", None).send().await;
        refused(&emu, &policies, "a model without VPC", r, Some("DenyWithoutVpc"), "sagemaker:VpcSubnets");

        let config = |name: &str, key: Option<&str>| {
            sm.create_endpoint_config()
                .endpoint_config_name(name)
                .production_variants(
                    ProductionVariant::builder()
                        .variant_name("main")
                        .model_name("model-inside")
                        .initial_instance_count(1)
                        .instance_type(ProductionVariantInstanceType::MlM5Large)
                        .build(),
                )
                .set_kms_key_id(key.map(str::to_string))
        };
        config("config-inside", v).send().await.unwrap();
        let r = config("config-no-key", None).send().await;
        refused(
            &emu,
            &policies,
            "an endpoint config without the key",
            r,
            Some("DenyOtherVolumeKey"),
            "sagemaker:VolumeKmsKey",
        );

        let notebook = |name: &str, internet: &str, root: &str| {
            sm.create_notebook_instance()
                .notebook_instance_name(name)
                .instance_type(aws_sdk_sagemaker::types::InstanceType::MlT3Medium)
                .role_arn(&stack.role)
                .subnet_id(&stack.subnet)
                .security_group_ids(&stack.sg)
                .kms_key_id(&stack.volume_key)
                .direct_internet_access(internet.into())
                .root_access(root.into())
        };
        notebook("nb-inside", "Disabled", "Disabled").send().await.unwrap();
        let r = notebook("nb-internet", "Enabled", "Disabled").send().await;
        refused(
            &emu,
            &policies,
            "a notebook with direct internet access",
            r,
            Some("DenyDirectInternetAccess"),
            "sagemaker:DirectInternetAccess",
        );
        let r = notebook("nb-root", "Disabled", "Enabled").send().await;
        refused(&emu, &policies, "a notebook with root access", r, Some("DenyRootAccess"), "sagemaker:RootAccess");
    });
    rt.block_on(async {
        // What was allowed exists; what was refused does not.
        root_sm.describe_training_job().training_job_name("inside").send().await.unwrap();
        root_sm.describe_processing_job().processing_job_name("process-inside").send().await.unwrap();
        root_sm.describe_model().model_name("model-inside").send().await.unwrap();
        root_sm.describe_endpoint_config().endpoint_config_name("config-inside").send().await.unwrap();
        root_sm.describe_notebook_instance().notebook_instance_name("nb-inside").send().await.unwrap();
        for name in ["no-vpc", "other-subnet", "other-sg", "no-volume-key", "other-volume-key", "no-output-key"] {
            assert!(root_sm.describe_training_job().training_job_name(name).send().await.is_err(), "{name} exists");
        }
        assert!(root_sm.describe_model().model_name("model-no-vpc").send().await.is_err());
    });

    // --- The two buckets, and no other. The bucket policies admit requests through the stack's S3
    // endpoint only, which no request to the emulator comes through: they are set aside (as the
    // account may) while the role's own permissions are exercised, then put back.
    let root_s3 = s3_of(&root);
    let s3 = s3_of(&alice);
    rt.block_on(async {
        let mut kept = Vec::new();
        for b in [&stack.data, &models] {
            kept.push(root_s3.get_bucket_policy().bucket(b).send().await.unwrap().policy().unwrap().to_string());
            root_s3.delete_bucket_policy().bucket(b).send().await.unwrap();
        }
        for b in [&stack.data, &models] {
            s3.put_object().bucket(b).key("alice/notes.txt").body(b"notes".to_vec().into()).send().await.unwrap();
            let got = s3.get_object().bucket(b).key("alice/notes.txt").send().await.unwrap();
            assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"notes");
            s3.list_objects_v2().bucket(b).send().await.unwrap();
            s3.delete_object().bucket(b).key("alice/notes.txt").send().await.unwrap();
        }
        root_s3.create_bucket().bucket("someone-elses-bucket").send().await.unwrap();
        root_s3
            .put_object()
            .bucket("someone-elses-bucket")
            .key("model.tar.gz")
            .body(b"m".to_vec().into())
            .tagging("SageMaker=true")
            .send()
            .await
            .unwrap();
        root_s3
            .put_object()
            .bucket("someone-elses-bucket")
            .key("secret")
            .body(b"s".to_vec().into())
            .send()
            .await
            .unwrap();
        let r = s3.put_object().bucket("someone-elses-bucket").key("x").body(b"x".to_vec().into()).send().await;
        refused(&emu, &policies, "writing another bucket", r, None, "someone-elses-bucket");
        let r = s3.get_object().bucket("someone-elses-bucket").key("model.tar.gz").send().await;
        refused(&emu, &policies, "JumpStart content before `jumpstart enable`", r, None, "someone-elses-bucket");
        for (b, p) in [&stack.data, &models].into_iter().zip(kept) {
            root_s3.put_bucket_policy().bucket(b).policy(p).send().await.unwrap();
        }
    });

    // --- JumpStart enabled: objects tagged SageMaker=true anywhere, and nothing else.
    provision_ok(&emu, d, &["jumpstart", "enable"]);
    let policies = rt.block_on(role_policies(&emu, &st));
    rt.block_on(async {
        let got = s3.get_object().bucket("someone-elses-bucket").key("model.tar.gz").send().await.unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"m");
        let r = s3.get_object().bucket("someone-elses-bucket").key("secret").send().await;
        refused(&emu, &policies, "an untagged object outside the buckets", r, None, "someone-elses-bucket/secret");
    });

    // --- Network isolation on: `up` rewrites the role's guardrails in place; a job without it is
    // refused, with it allowed.
    let out = provision_ok(&emu, d, &["up", "--network-isolation"]);
    assert!(out.contains("iam.role"), "{out}");
    assert_eq!(state_json(d)["steps"]["iam.role"]["id"], st["steps"]["iam.role"]["id"], "the same role");
    let policies = rt.block_on(role_policies(&emu, &st));
    let sm = aws_sdk_sagemaker::Client::new(&rt.block_on(studio_session(&emu, &domain, "alice")));
    rt.block_on(async {
        let job = |name: &str, isolation: Option<bool>| {
            sm.create_model()
                .model_name(name)
                .execution_role_arn(&stack.role)
                .primary_container(
                    ContainerDefinition::builder()
                        .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/sagemaker-serve:1")
                        .build(),
                )
                .vpc_config(VpcConfig::builder().subnets(&stack.subnet).security_group_ids(&stack.sg).build())
                .set_enable_network_isolation(isolation)
        };
        let r = job("open-model", None).send().await;
        refused(
            &emu,
            &policies,
            "a model without network isolation",
            r,
            Some("DenyWithoutNetworkIsolation"),
            "sagemaker:NetworkIsolation",
        );
        let r = job("open-model", Some(false)).send().await;
        refused(
            &emu,
            &policies,
            "a model with network isolation off",
            r,
            Some("DenyNetworkIsolationOff"),
            "sagemaker:NetworkIsolation",
        );
        job("isolated-model", Some(true)).send().await.unwrap();
    });
}

/// `verify` checks the guardrails live (`iam.role_guardrails`: each Deny and its condition key;
/// `iam.role_no_extra`: nothing else attached or inline), and `up` puts an edited guardrail
/// policy and trust policy back in place.
#[test]
fn verify_checks_the_guardrails_live_and_up_puts_them_back() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let v = provision_ok(&emu, d, &["verify"]);
    let line = |t: &str, control: &str| t.lines().find(|l| l.contains(control)).unwrap_or_default().to_string();
    let g = line(&v, "iam.role_guardrails");
    assert!(g.starts_with("PASS"), "{v}");
    for key in [
        "sagemaker:VpcSubnets",
        "sagemaker:VpcSecurityGroupIds",
        "sagemaker:VolumeKmsKey",
        "sagemaker:OutputKmsKey",
        "sagemaker:DirectInternetAccess",
        "sagemaker:RootAccess",
    ] {
        assert!(g.contains(key), "{key} not checked: {g}");
    }
    assert!(line(&v, "iam.role_no_extra").starts_with("PASS"), "{v}");

    let st = state_json(d);
    let role = step_id(&st, "iam.role");
    let name = role.rsplit('/').next().unwrap().to_string();
    let rt = rt();
    let iam = rt.block_on(async { aws_sdk_iam::Client::new(&emu.harness_sdk().await) });
    rt.block_on(async {
        // A guardrail dropped, a wider grant added inline, the trust opened to any account.
        let out = iam.get_role_policy().role_name(&name).policy_name("guardrails").send().await.unwrap();
        let mut doc = provision::policy::parse(out.policy_document()).unwrap();
        doc["Statement"].as_array_mut().unwrap().retain(|s| s["Sid"] != "DenyOtherSubnets");
        iam.put_role_policy().role_name(&name).policy_name("guardrails").policy_document(doc.to_string()).send().await.unwrap();
        let wide = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        iam.put_role_policy().role_name(&name).policy_name("extra").policy_document(wide).send().await.unwrap();
        let open = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        iam.update_assume_role_policy().role_name(&name).policy_document(open).send().await.unwrap();
    });
    let o = provision(&emu, d, &["verify"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let g = line(&t, "iam.role_guardrails");
    assert!(g.starts_with("FAIL") && g.contains("DenyOtherSubnets (sagemaker:VpcSubnets) missing"), "{t}");
    let x = line(&t, "iam.role_no_extra");
    assert!(x.starts_with("FAIL") && x.contains("inline policy extra"), "{t}");
    // `status` names the drift; `up` puts the guardrails and the trust back (the extra inline
    // policy is not the stack's to remove: verify keeps naming it).
    let s = provision(&emu, d, &["status"]);
    assert!(text(&s).contains("trust policy differs") && text(&s).contains("guardrails differs"), "{}", text(&s));
    provision_ok(&emu, d, &["up"]);
    rt.block_on(async {
        let r = iam.get_role().role_name(&name).send().await.unwrap();
        let trust = provision::policy::parse(r.role().unwrap().assume_role_policy_document().unwrap()).unwrap();
        assert_eq!(trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        iam.delete_role_policy().role_name(&name).policy_name("extra").send().await.unwrap();
    });
    let v = provision_ok(&emu, d, &["verify"]);
    assert!(line(&v, "iam.role_guardrails").starts_with("PASS"), "{v}");
    assert!(line(&v, "iam.role_no_extra").starts_with("PASS"), "{v}");
}

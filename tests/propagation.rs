//! AWS's propagation answers the tool waits out (issue 28), made certain: the emulator's
//! `--realistic` windows set long enough that each occurs, then `up` must converge anyway.
//! - CreateFlowLogs right after its role is made: InvalidParameter "Unable to assume given IAM
//!   role" (terraform-provider-aws vpc_flow_log.go retries it for the IAM propagation timeout);
//! - a new bucket's settings: NoSuchBucket, and CreateBucket of a name just deleted:
//!   OperationAborted (terraform-provider-aws resourceBucketCreate and the bucket's
//!   sub-resources retry for 2 minutes).
//!
//! The soak (`tests/soak.rs`) meets the same answers at their drawn windows.

mod common;

use common::*;

/// The calls of the log answered with `code`, for `operation`.
fn answered(emu: &Emulator, operation: &str, code: &str) -> usize {
    emu.call_log().iter().filter(|c| c["operation"] == operation && c["code"] == code).count()
}

#[test]
fn the_flow_logs_and_buckets_propagation_answers_occur_and_up_converges() {
    let emu = Emulator::start(SCALE, &[]);
    // Every new role unassumable by a service (the execution role: SageMaker's CreateDomain), and
    // every new bucket (or name just freed) in flux,
    // for 110 and 60 real-world seconds x the scale (within the tool's 2-minute bounds, which the scale shortens alike); no random 5xx, so what is counted is these.
    emu.control_post(
        "realistic",
        serde_json::json!({"iam_window_s": [110, 110], "ec_window_s": [60, 60], "error_rate": 0}),
    );
    emu.clear_calls();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The flow log's role is made long before the flow log (its key and group come first), so no
    // window within the bound would still hold when CreateFlowLogs is sent: its answer
    // (emulator/tests/test_realistic.py proves `--realistic` gives it) is injected, twice.
    emu.control_post(
        "faults",
        serde_json::json!({"operation": "ec2:CreateFlowLogs", "count": 2, "error_code": "InvalidParameter",
                           "status": 400, "message": "Unable to assume given IAM role, or role does not exist"}),
    );
    provision_ok(&emu, d, &["up"]);
    let flow = answered(&emu, "ec2:CreateFlowLogs", "InvalidParameter");
    let settings = ["s3:PutBucketTagging", "s3:PutPublicAccessBlock", "s3:PutBucketEncryption", "s3:PutBucketPolicy"]
        .iter()
        .map(|op| answered(&emu, op, "NoSuchBucket"))
        .sum::<usize>();
    assert!(
        flow >= 2,
        "CreateFlowLogs refused (at least the two injected) for its young role, then made: {:?}",
        emu.calls()
    );
    assert!(settings >= 2, "the new buckets' settings never answered NoSuchBucket: {:?}", emu.calls());
    let st = state_json(d);
    assert_eq!(st["steps"]["ec2.flow_log"]["status"], "ready", "{st}");
    assert!(provision_ok(&emu, d, &["verify"]).contains("All "), "verify passes");

    // The data bucket deleted out of band (it was empty): `up` makes it again under the same
    // name, which S3 answers OperationAborted while the deletion settles.
    let data = step_id(&st, "bucket.data");
    let rt = rt();
    rt.block_on(async {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&emu.harness_sdk().await).force_path_style(true).build(),
        );
        s3.delete_bucket().bucket(&data).send().await.unwrap();
    });
    // `up`'s pre-flight outlasts any name window within the bound, so OperationAborted is injected
    // (emulator/tests/test_realistic.py proves `--realistic` gives it right after DeleteBucket).
    emu.control_post(
        "faults",
        serde_json::json!({"operation": "s3:CreateBucket", "count": 2, "error_code": "OperationAborted", "status": 409,
                           "message": "A conflicting conditional operation is currently in progress against this resource. Please try again."}),
    );
    emu.clear_calls();
    provision_ok(&emu, d, &["up"]);
    let s3_calls: Vec<String> = emu
        .call_log()
        .iter()
        .filter(|c| c["operation"].as_str().unwrap_or_default().starts_with("s3:"))
        .map(|c| format!("{} {}", c["operation"], c["code"]))
        .collect();
    assert_eq!(answered(&emu, "s3:CreateBucket", "OperationAborted"), 2, "{s3_calls:?}");
    assert!(emu.call_log().iter().any(|c| c["operation"] == "s3:CreateBucket" && c["code"].is_null()), "{s3_calls:?}");
    let v = provision_ok(&emu, d, &["verify"]);
    assert!(v.contains("All "), "{v}");
    rt.block_on(async {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&emu.harness_sdk().await).force_path_style(true).build(),
        );
        let enc = s3.get_bucket_encryption().bucket(&data).send().await.unwrap();
        let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
        let by_default = rule.apply_server_side_encryption_by_default().unwrap();
        assert_eq!(
            by_default.kms_master_key_id(),
            Some(step_id(&st, "kms.s3").as_str()),
            "made again with its settings"
        );
    });
}

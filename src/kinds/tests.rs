//! The retry and not-found paths of the kinds, proven without the emulator:
//! the real SDK clients talk to a scripted HTTP client that answers each
//! request with the next response of a sequence (not found, not found,
//! found; throttled, 500, success), in each service's wire protocol. This
//! is what `aws-smithy-mocks` does one layer up, at the HTTP layer instead
//! (which also exercises the SDK's own error parsing and retries) and
//! without the SDK crates' `test-util` feature, which would build every SDK
//! crate a second time. Waits run at the unit tests' time scale (`wait::time_scale`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use super::*;
use crate::aws::Clients;
use crate::config::{RawParams, Settings};
use crate::state::Identity;
use crate::state::State;

/// One scripted answer: HTTP status, body, and the protocol's content type.
#[derive(Debug, Clone)]
struct Answer(u16, String, &'static str);

/// An HTTP client answering with a script and recording each request's operation.
#[derive(Debug, Clone, Default)]
struct Scripted {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    fn left(&self) -> usize {
        self.answers.lock().unwrap().len()
    }
}

impl HttpConnector for Scripted {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // JSON protocols name the operation in X-Amz-Target, query protocols in the body.
        let op = request
            .headers()
            .get("x-amz-target")
            .map(|t| t.rsplit('.').next().unwrap_or(t).to_string())
            .or_else(|| {
                let body = std::str::from_utf8(request.body().bytes().unwrap_or_default()).unwrap_or_default();
                body.split('&').find_map(|kv| kv.strip_prefix("Action=")).map(str::to_string)
            })
            .unwrap_or_default();
        self.calls.lock().unwrap().push(op.clone());
        let Answer(status, body, content_type) =
            self.answers.lock().unwrap().pop_front().unwrap_or_else(|| panic!("no scripted answer left for {op}"));
        let mut resp = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
        resp.headers_mut().insert("content-type", content_type);
        HttpConnectorFuture::ready(Ok(resp))
    }
}

impl HttpClient for Scripted {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

const JSON: &str = "application/x-amz-json-1.1";
const XML: &str = "text/xml;charset=UTF-8";

/// A JSON-protocol (SageMaker, Network Firewall) answer.
fn ok(body: &str) -> Answer {
    Answer(200, body.to_string(), JSON)
}

/// A JSON-protocol error.
fn err(status: u16, code: &str, message: &str) -> Answer {
    Answer(status, format!(r#"{{"__type":"{code}","message":"{message}"}}"#), JSON)
}

/// An EC2-protocol error.
fn ec2_err(code: &str) -> Answer {
    Answer(
        400,
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>{code}</Message></Error></Errors><RequestID>r</RequestID></Response>"
        ),
        XML,
    )
}

/// EC2's throttled answer: RequestLimitExceeded with HTTP 503 ("Error codes
/// for the Amazon EC2 API").
fn ec2_throttled() -> Answer {
    Answer(503, ec2_err("RequestLimitExceeded").1, XML)
}

fn ec2_endpoint(state: &str) -> Answer {
    Answer(
        200,
        format!(
            r#"<DescribeVpcEndpointsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><vpcEndpointSet><item><vpcEndpointId>vpce-1</vpcEndpointId><state>{state}</state></item></vpcEndpointSet></DescribeVpcEndpointsResponse>"#
        ),
        XML,
    )
}

/// A context whose every client answers from `script`, with a state file
/// holding `ids` as ready steps.
fn ctx(script: Vec<Answer>, ids: &[(StepId, &str)]) -> (Arc<Ctx>, Scripted, tempfile::TempDir) {
    let http = Scripted { answers: Arc::new(Mutex::new(script.into())), calls: Arc::default() };
    let cfg = aws_config::SdkConfig::builder()
        .http_client(http.clone())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sagemaker::config::SharedCredentialsProvider::new(
            aws_sdk_sagemaker::config::Credentials::new("test", "test", None, None, "unit-test"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(1)),
        )
        .build();
    let s = Settings::resolve(RawParams { region: Some("us-east-1".into()), ..Default::default() }, false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let who = Identity { stack: s.stack(), region: &s.region, account: "123456789012" };
    let state = State::open(&dir.path().join("s.json"), &who, true).unwrap();
    for (step, id) in ids {
        state.set(step, crate::state::Status::Ready, Some(id), &[]).unwrap();
    }
    let ctx = Ctx {
        aws: Clients::new(&cfg),
        s: Arc::new(s),
        state,
        account: "123456789012".into(),
        adopt: false,
        caller: "arn:aws:iam::123456789012:user/test".into(),
        credentials: None,
        down: DownOptions::default(),
        reads: Default::default(),
        polls: Default::default(),
        teardown: Default::default(),
    };
    (Arc::new(ctx), http, dir)
}

fn space_kind() -> space::Space {
    space::Space { user_step: StepId::USER, user: "alice".into(), domain: StepId::DOMAIN }
}

/// ListSpaces' answer listing `spaces` (name, status).
fn spaces(spaces: &[(&str, &str)]) -> Answer {
    let items: Vec<String> =
        spaces.iter().map(|(n, st)| format!(r#"{{"DomainId":"d-1","SpaceName":"{n}","Status":"{st}"}}"#)).collect();
    ok(&format!(r#"{{"Spaces":[{}]}}"#, items.join(",")))
}

#[tokio::test]
async fn a_space_not_found_right_after_its_create_is_pending() {
    // The wait reads the domain's shared listing (ListSpaces): not listed yet is pending.
    let script = vec![
        spaces(&[]),
        spaces(&[("bob-space", "InService")]),
        spaces(&[("alice-space", "Pending")]),
        spaces(&[("alice-space", "InService")]),
    ];
    let (ctx, http, _d) = ctx(script, &[]);
    space_kind().settle(&ctx, &StepId::SPACE, "d-1/alice-space").await.unwrap();
    assert_eq!(http.calls(), ["ListSpaces"; 4]);
}

#[tokio::test]
async fn a_space_never_seen_within_the_bound_is_an_error() {
    let script = vec![spaces(&[]); 400];
    let (ctx, _http, _d) = ctx(script, &[]);
    let e = space_kind().settle(&ctx, &StepId::SPACE, "d-1/alice-space").await.unwrap_err();
    assert!(format!("{e:#}").contains("space alice-space does not exist (still not found"), "{e:#}");
}

#[tokio::test]
async fn a_failed_space_is_reported_with_its_reason() {
    // Listed as Failed: read again (DescribeSpace) for its reason.
    let script = vec![
        spaces(&[("alice-space", "Failed")]),
        ok(r#"{"SpaceName":"alice-space","Status":"Failed","FailureReason":"no capacity"}"#),
    ];
    let (ctx, http, _d) = ctx(script, &[]);
    let e = space_kind().settle(&ctx, &StepId::SPACE, "d-1/alice-space").await.unwrap_err();
    assert!(format!("{e:#}").contains("space alice-space is Failed: no capacity"), "{e:#}");
    assert_eq!(http.calls(), ["ListSpaces", "DescribeSpace"]);
}

#[tokio::test]
async fn throttling_and_a_500_are_retried_by_the_sdk() {
    let script = vec![
        err(400, "ThrottlingException", "Rate exceeded"),
        err(500, "InternalFailure", "oops"),
        ok(r#"{"SpaceName":"alice-space","Status":"InService"}"#),
    ];
    let (ctx, http, _d) = ctx(script, &[]);
    let h = space_kind().health(&ctx, &StepId::SPACE, "d-1/alice-space").await.unwrap();
    assert_eq!(h, Health::Present);
    assert_eq!(http.calls().len(), 3);
}

#[tokio::test]
async fn a_domain_not_found_right_after_create_is_pending() {
    let script = vec![
        err(400, "ResourceNotFound", "Domain d-1 not found"),
        ok(r#"{"DomainId":"d-1","Status":"Pending"}"#),
        ok(
            r#"{"DomainId":"d-1","Status":"InService","DomainArn":"arn:aws:sagemaker:us-east-1:123456789012:domain/d-1","HomeEfsFileSystemId":"fs-1"}"#,
        ),
        // Then the home EFS's automatic backups (efs.backup): PutBackupPolicy ENABLED.
        ok(r#"{"BackupPolicy":{"Status":"ENABLED"}}"#),
        // What `learn` tells the lifecycle to record.
        ok(
            r#"{"DomainId":"d-1","Status":"InService","DomainArn":"arn:aws:sagemaker:us-east-1:123456789012:domain/d-1","HomeEfsFileSystemId":"fs-1"}"#,
        ),
    ];
    let (ctx, http, _d) = ctx(script, &[]);
    let domain = domain::Domain {
        vpc: StepId::VPC,
        subnets: vec![StepId::SUBNET_SAGEMAKER],
        role: StepId::IAM_ROLE,
        sg: StepId::SG_SAGEMAKER,
        key: StepId::KMS_EBS,
    };
    domain.settle(&ctx, &StepId::DOMAIN, "d-1").await.unwrap();
    // Three DescribeDomain, then PutBackupPolicy (a REST call: the script names no operation).
    assert_eq!(http.calls().len(), 4, "{:?}", http.calls());
    // Settling writes no record: the lifecycle records what `learn` tells.
    assert!(ctx.state.record(&StepId::DOMAIN).is_none());
    let learnt = domain.learn(&ctx, &StepId::DOMAIN, "d-1").await.unwrap();
    assert_eq!(http.left(), 0);
    assert!(learnt.attrs.contains(&("home_efs".to_string(), "fs-1".to_string())), "{learnt:?}");
    let revealed: Vec<(&str, &str)> = learnt.others.iter().map(|r| (r.step.as_str(), r.id.as_str())).collect();
    assert_eq!(revealed, [("efs.file_system", "fs-1"), ("efs.mount_target", "fs-1"), ("sg.nfs", "d-1")]);
}

#[tokio::test]
async fn a_user_profile_is_retried_while_iam_has_not_propagated_the_role() {
    let script = vec![
        err(400, "ValidationException", "SageMaker is unable to assume the role arn:aws:iam::123456789012:role/r"),
        ok(r#"{"UserProfileArn":"arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-1/alice"}"#),
    ];
    let (ctx, http, _d) =
        ctx(script, &[(StepId::DOMAIN, "d-1"), (StepId::IAM_ROLE, "arn:r"), (StepId::SG_SAGEMAKER, "sg-1")]);
    let kind = user_profile::UserProfile {
        domain: StepId::DOMAIN,
        name: "alice".into(),
        role: StepId::IAM_ROLE,
        sg: StepId::SG_SAGEMAKER,
    };
    let id = kind.create(&ctx, &StepId::USER, "t").await.unwrap();
    assert_eq!(id, "d-1/alice");
    assert_eq!(http.calls(), ["CreateUserProfile", "CreateUserProfile"]);
}

#[tokio::test]
async fn deleting_an_app_aws_already_removed_after_it_failed_is_success() {
    // DescribeApp still shows it Failed; DeleteApp answers that AWS deleted it.
    let script = vec![
        ok(r#"{"AppName":"default","Status":"Failed","FailureReason":"boom"}"#),
        err(
            400,
            "ValidationException",
            "App [default] of type [JupyterLab] in space [alice-space] previously failed and was automatically deleted",
        ),
    ];
    let (ctx, http, _d) = ctx(script, &[]);
    app::delete_app(&ctx, "d-1/alice-space/JupyterLab/default").await.unwrap();
    assert_eq!(http.calls(), ["DescribeApp", "DeleteApp"]);
}

#[tokio::test]
async fn an_app_gone_is_stopped_and_a_failed_one_is_failed() {
    let script = vec![
        err(400, "ResourceNotFound", "no app"),
        ok(r#"{"AppName":"default","Status":"Deleted"}"#),
        ok(r#"{"AppName":"default","Status":"Deleted","FailureReason":"image pull failed"}"#),
        ok(r#"{"AppName":"default","Status":"InService"}"#),
    ];
    let (ctx, _http, _d) = ctx(script, &[]);
    let kind = app::App { space_step: StepId::SPACE, user: "alice".into(), domain: StepId::DOMAIN, network: vec![] };
    let id = "d-1/alice-space/JupyterLab/default";
    assert!(matches!(kind.health(&ctx, &StepId::APP, id).await.unwrap(), Health::Stopped(_)));
    assert!(matches!(kind.health(&ctx, &StepId::APP, id).await.unwrap(), Health::Stopped(_)));
    assert_eq!(kind.health(&ctx, &StepId::APP, id).await.unwrap(), Health::Failed("image pull failed".into()));
    assert_eq!(kind.health(&ctx, &StepId::APP, id).await.unwrap(), Health::Present);
}

#[tokio::test]
async fn a_vpc_endpoint_not_found_right_after_create_is_pending() {
    let script = vec![ec2_err("InvalidVpcEndpointId.NotFound"), ec2_endpoint("pending"), ec2_endpoint("available")];
    let (ctx, http, _d) = ctx(script, &[]);
    vpc_endpoint::wait_available(&ctx, "vpce-1", false, "ec2.vpce_interface").await.unwrap();
    assert_eq!(http.calls(), ["DescribeVpcEndpoints"; 3]);
}

fn ec2_ok(action: &str, inner: &str) -> Answer {
    Answer(
        200,
        format!(
            r#"<{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>{inner}</{action}Response>"#
        ),
        XML,
    )
}

fn nat(state: &str) -> Answer {
    ec2_ok(
        "DescribeNatGateways",
        &format!(
            "<natGatewaySet><item><natGatewayId>nat-1</natGatewayId><state>{state}</state></item></natGatewaySet>"
        ),
    )
}

fn nat_kind() -> nat_gateway::NatGateway {
    nat_gateway::NatGateway {
        subnet: StepId::SUBNET_NAT,
        eip: StepId::EIP,
        attachment: StepId::IGW_ATTACH,
        name: "nat".into(),
    }
}

#[tokio::test]
async fn a_nat_gateway_not_found_right_after_its_create_is_pending() {
    let script = vec![ec2_err("NatGatewayNotFound"), nat("pending"), nat("available")];
    let (ctx, http, _d) = ctx(script, &[]);
    nat_kind().settle(&ctx, &StepId::NAT, "nat-1").await.unwrap();
    assert_eq!(http.calls(), ["DescribeNatGateways"; 3]);
}

#[tokio::test]
async fn a_nat_gateway_never_seen_within_the_bound_is_an_error_not_a_timeout() {
    let script = vec![ec2_err("NatGatewayNotFound"); 400];
    let (ctx, _http, _d) = ctx(script, &[]);
    let e = nat_kind().settle(&ctx, &StepId::NAT, "nat-1").await.unwrap_err();
    assert!(format!("{e:#}").contains("NAT gateway nat-1 does not exist (still not found"), "{e:#}");
}

#[tokio::test]
async fn a_security_group_not_found_right_after_its_create_gets_its_rules() {
    let group = "<securityGroupInfo><item><groupId>sg-1</groupId><groupName>g</groupName><ipPermissions/></item></securityGroupInfo>";
    let script = vec![
        ec2_err("InvalidGroup.NotFound"),
        ec2_err("InvalidGroup.NotFound"),
        ec2_ok("DescribeSecurityGroups", group),
        ec2_ok("AuthorizeSecurityGroupIngress", "<return>true</return>"),
    ];
    let (ctx, http, _d) = ctx(script, &[]);
    let kind = security_group::SecurityGroup { vpc: StepId::VPC, role: security_group::SgRole::Sagemaker };
    kind.settle(&ctx, &StepId::SG_SAGEMAKER, "sg-1").await.unwrap();
    assert_eq!(
        http.calls(),
        ["DescribeSecurityGroups", "DescribeSecurityGroups", "DescribeSecurityGroups", "AuthorizeSecurityGroupIngress"]
    );
}

fn vpc_found() -> Answer {
    ec2_ok("DescribeVpcs", "<vpcSet><item><vpcId>vpc-1</vpcId><state>available</state></item></vpcSet>")
}

fn step(id: StepId, kind: impl Kind + 'static) -> crate::graph::Step {
    crate::graph::Step { id, needs: kind.needs(), kind: Arc::new(kind), changes: Vec::new() }
}

#[tokio::test]
async fn a_ready_resource_not_found_moments_after_its_create_is_not_made_again() {
    let (ctx, http, _d) = ctx(
        vec![ec2_err("InvalidVpcID.NotFound"), ec2_err("InvalidVpcID.NotFound"), vpc_found(), default_group("vpc-1")],
        &[],
    );
    ctx.state.intent(&StepId::VPC, None).unwrap(); // the create was sent just now
    ctx.state.set(&StepId::VPC, crate::state::Status::Ready, Some("vpc-1"), &[]).unwrap();
    let action = crate::lifecycle::up_step(ctx.clone(), step(StepId::VPC, vpc::Vpc)).await.unwrap();
    assert_eq!(action, crate::lifecycle::Action::Unchanged);
    // Checked again, never created again; then its drift (the default group: empty).
    assert_eq!(http.calls(), ["DescribeVpcs", "DescribeVpcs", "DescribeVpcs", "DescribeSecurityGroups"]);
}

#[tokio::test]
async fn a_ready_resource_missing_long_after_its_create_is_made_again() {
    let script = vec![
        ec2_err("InvalidVpcID.NotFound"),
        ec2_ok("CreateVpc", "<vpc><vpcId>vpc-2</vpcId></vpc>"),
        ec2_ok("ModifyVpcAttribute", "<return>true</return>"),
        ec2_ok("ModifyVpcAttribute", "<return>true</return>"),
        default_group("vpc-2"),
    ];
    let (ctx, http, _d) = ctx(script, &[(StepId::VPC, "vpc-1"), (StepId::DOMAIN, DOMAIN_ID)]); // no intent time: made long ago
    let action = crate::lifecycle::up_step(ctx.clone(), step(StepId::VPC, vpc::Vpc)).await.unwrap();
    assert_eq!(action, crate::lifecycle::Action::Recreated);
    // Its default security group read (already empty here: nothing to revoke).
    assert_eq!(
        http.calls(),
        ["DescribeVpcs", "CreateVpc", "ModifyVpcAttribute", "ModifyVpcAttribute", "DescribeSecurityGroups"]
    );
    assert_eq!(ctx.state.id(&StepId::VPC).unwrap(), "vpc-2");
}

/// The VPC's default security group, without rules.
fn default_group(vpc: &str) -> Answer {
    ec2_ok(
        "DescribeSecurityGroups",
        &format!(
            "<securityGroupInfo><item><groupId>sg-d</groupId><groupName>default</groupName><vpcId>{vpc}</vpcId>\
             <ipPermissions/><ipPermissionsEgress/></item></securityGroupInfo>"
        ),
    )
}

fn iam_err(code: &str) -> Answer {
    Answer(
        400,
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{code}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        ),
        XML,
    )
}

fn iam_role(stack: &str) -> Answer {
    let arn = "arn:aws:iam::123456789012:role/r";
    Answer(
        200,
        format!(
            r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><Path>/</Path><RoleName>r</RoleName><RoleId>AROA1</RoleId><Arn>{arn}</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate><Tags><member><Key>provision:stack</Key><Value>{stack}</Value></member><member><Key>provision:step</Key><Value>iam.role</Value></member></Tags></Role></GetRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetRoleResponse>"#
        ),
        XML,
    )
}

#[tokio::test]
async fn an_interrupted_create_that_landed_unseen_is_adopted_when_the_name_is_taken() {
    let (ctx, http, _d) = ctx(
        vec![],
        &[
            (StepId::IAM_POLICY, "arn:aws:iam::123456789012:policy/p"),
            (StepId::SUBNET_SAGEMAKER, "subnet-1"),
            (StepId::SG_SAGEMAKER, "sg-1"),
            (StepId::KMS_EBS, "arn:aws:kms:us-east-1:123456789012:key/e"),
            (StepId::KMS_S3, "arn:aws:kms:us-east-1:123456789012:key/s"),
        ],
    );
    let stack = ctx.stack().to_string();
    http.answers.lock().unwrap().extend([
        iam_err("NoSuchEntity"),        // find after the in-flight wait: not visible yet
        iam_err("EntityAlreadyExists"), // the create: the interrupted one landed
        iam_err("NoSuchEntity"),        // looked for again...
        iam_role(&stack),               // ...and found, ours by its tags
        Answer(200, "<AttachRolePolicyResponse><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AttachRolePolicyResponse>".into(), XML),
        Answer(200, "<PutRolePolicyResponse><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PutRolePolicyResponse>".into(), XML),
    ]);
    ctx.state.intent(&StepId::IAM_ROLE, Some("t".into())).unwrap(); // a killed run's create
    let kind = iam_role::IamRole {
        policy: StepId::IAM_POLICY,
        subnets: vec![StepId::SUBNET_SAGEMAKER],
        sg: StepId::SG_SAGEMAKER,
        volume_key: StepId::KMS_EBS,
        output_key: StepId::KMS_S3,
    };
    let action = crate::lifecycle::up_step(ctx.clone(), step(StepId::IAM_ROLE, kind)).await.unwrap();
    assert_eq!(action, crate::lifecycle::Action::Adopted);
    assert_eq!(http.calls(), ["GetRole", "CreateRole", "GetRole", "GetRole", "AttachRolePolicy", "PutRolePolicy"]);
    assert_eq!(ctx.state.id(&StepId::IAM_ROLE).unwrap(), "arn:aws:iam::123456789012:role/r");
}

#[tokio::test]
async fn an_app_not_found_at_delete_is_deleted_all_the_same() {
    // Not found may be an app created moments ago: DeleteApp decides.
    // The wait after DeleteApp reads the domain's shared listing (ListApps): not listed is gone.
    let script = vec![err(400, "ResourceNotFound", "no app"), ok("{}"), ok(r#"{"Apps":[]}"#)];
    let (ctx, http, _d) = ctx(script, &[]);
    app::delete_app(&ctx, "d-1/alice-space/JupyterLab/default").await.unwrap();
    assert_eq!(http.calls(), ["DescribeApp", "DeleteApp", "ListApps"]);
}

/// The domain the ENI tests record: SageMaker names it in its ENIs' descriptions.
const DOMAIN_ID: &str = "d-test12345";

fn eni(id: &str, status: &str, requester_managed: bool) -> String {
    let description = format!("[DO NOT DELETE] ENI managed by SageMaker for Studio Domain({DOMAIN_ID}) - app");
    eni_described(id, status, requester_managed, &description)
}

fn eni_described(id: &str, status: &str, requester_managed: bool, description: &str) -> String {
    format!(
        "<item><networkInterfaceId>{id}</networkInterfaceId><vpcId>vpc-1</vpcId><status>{status}</status><requesterManaged>{requester_managed}</requesterManaged><description>{description}</description></item>"
    )
}

fn enis(items: &[String]) -> Answer {
    ec2_ok("DescribeNetworkInterfaces", &format!("<networkInterfaceSet>{}</networkInterfaceSet>", items.concat()))
}

#[tokio::test]
async fn the_eni_sweep_spares_requester_managed_enis_and_reports_each_failure_by_id() {
    let listing = enis(&[
        eni("eni-leftover1", "available", false),
        eni("eni-nat", "available", true), // a NAT gateway's or an endpoint's: its service removes it
        eni("eni-refused", "available", false),
        eni("eni-app", "in-use", false), // still attached: not a leftover yet
        eni_described("eni-theirs", "available", false, "another team's"), // names nothing of ours: never touched
        eni("eni-leftover2", "available", false),
    ]);
    let deleted = || ec2_ok("DeleteNetworkInterface", "<return>true</return>");
    let script = vec![listing, deleted(), ec2_err("UnauthorizedOperation"), deleted()];
    let (ctx, http, _d) = ctx(script, &[(StepId::VPC, "vpc-1"), (StepId::DOMAIN, DOMAIN_ID)]);
    let kind = efs_mount_targets::EfsMountTargets {
        domain: StepId::DOMAIN,
        subnets: vec![StepId::SUBNET_SAGEMAKER],
        vpc: StepId::VPC,
        groups: StepId::SG_NFS,
    };
    let s = kind.sweep_enis(&ctx).await.unwrap();
    assert_eq!(
        http.calls(),
        ["DescribeNetworkInterfaces", "DeleteNetworkInterface", "DeleteNetworkInterface", "DeleteNetworkInterface"],
        "the requester-managed and in-use ENIs are never touched; the one after the failure still is"
    );
    assert_eq!(s.deleted, ["eni-leftover1", "eni-leftover2"]);
    let b = s.blocking();
    assert!(b.contains("eni-refused") && b.contains("UnauthorizedOperation"), "{b}");
    assert!(b.contains("eni-nat (available, managed by its service)") && b.contains("eni-app (in-use)"), "{b}");
    assert!(b.contains("eni-theirs (available, not this stack's"), "{b}");
    assert!(!b.contains("eni-leftover"), "deleted ones do not block: {b}");
}

/// Issue 33: an ENI that turns `available` only after the first refusal is
/// swept on a later one, and the subnet goes.
#[tokio::test]
async fn a_subnet_blocked_by_an_eni_that_lingers_is_deleted_once_the_eni_is_available() {
    let dv = || ec2_err("DependencyViolation");
    let script = vec![
        dv(),
        enis(&[eni("eni-late", "in-use", true)]),
        dv(),
        enis(&[eni("eni-late", "available", false)]),
        ec2_ok("DeleteNetworkInterface", "<return>true</return>"),
        ec2_ok("DeleteSubnet", "<return>true</return>"),
    ];
    let (ctx, http, _d) = ctx(script, &[(StepId::VPC, "vpc-1"), (StepId::DOMAIN, DOMAIN_ID)]);
    let kind = subnet::Subnet {
        vpc: StepId::VPC,
        cidr: "10.2.3.0/24".parse().unwrap(),
        name: "n".into(),
        az: "us-east-1a".into(),
    };
    kind.delete(&ctx, "subnet-1").await.unwrap();
    assert_eq!(
        http.calls(),
        [
            "DeleteSubnet",
            "DescribeNetworkInterfaces",
            "DeleteSubnet",
            "DescribeNetworkInterfaces",
            "DeleteNetworkInterface",
            "DeleteSubnet"
        ]
    );
}

/// Still refused at the drain bound: the error names each ENI that blocks, by id.
#[tokio::test]
async fn a_group_still_blocked_at_the_bound_names_each_eni_it_could_not_delete() {
    let mut script = Vec::new();
    for _ in 0..400 {
        script.push(ec2_err("DependencyViolation"));
        script.push(enis(&[eni("eni-stuck", "available", false), eni("eni-busy", "in-use", false)]));
        script.push(ec2_err("UnauthorizedOperation"));
    }
    let (ctx, http, _d) = ctx(script, &[(StepId::VPC, "vpc-1"), (StepId::DOMAIN, DOMAIN_ID)]);
    let e = security_group::delete_group(&ctx, &StepId::VPC, "sg-1").await.unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("DependencyViolation") && e.contains("vpc-1"), "{e}");
    assert!(e.contains("eni-stuck (available, not deleted:") && e.contains("UnauthorizedOperation"), "{e}");
    assert!(e.contains("eni-busy (in-use)"), "{e}");
    let calls = http.calls();
    assert!(calls.iter().filter(|c| *c == "DeleteSecurityGroup").count() > 2, "retried: {calls:?}");
    assert!(http.left() > 0, "gave up at the bound, not when the script ran out");
}

/// Issue 33: UpdateDomain's SubnetIds for a wanted set; a removal waits for
/// the domain's apps, and the refusal names them.
#[test]
fn domain_subnets_are_set_exactly_and_a_removal_names_the_apps_that_block_it() {
    let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let (a, b, c) = ("subnet-a", "subnet-b", "subnet-c");
    assert_eq!(domain::subnet_update(&v(&[a, b]), &v(&[b, a]), true), None, "the same set: nothing to send");
    assert_eq!(domain::subnet_update(&v(&[a, b]), &v(&[a]), true), Some(v(&[a])), "b removed");
    assert_eq!(domain::subnet_update(&v(&[a, b]), &v(&[a]), false), None, "up keeps what it does not remove");
    assert_eq!(domain::subnet_update(&v(&[a]), &v(&[a, c]), false), Some(v(&[a, c])), "a zone added");
    assert_eq!(domain::subnet_update(&v(&[a, b]), &v(&[a, c]), true), Some(v(&[a, c])), "b for c");
    assert_eq!(domain::removal_refusal("d-1", &v(&[b]), &[]), None, "no app runs");
    assert_eq!(domain::removal_refusal("d-1", &[], &v(&["x/JupyterLab/default (InService)"])), None, "nothing removed");
    let why = domain::removal_refusal("d-1", &v(&[b]), &v(&["alice-space/JupyterLab/default (Pending)"])).unwrap();
    assert!(why.contains("cannot remove subnet(s) subnet-b from domain d-1"), "{why}");
    assert!(why.contains("alice-space/JupyterLab/default (Pending)") && why.contains("provision stop"), "{why}");
}

/// Issue 14: a domain made without the stack's key (an earlier version, or another tool) is
/// reported with what to do; one under the stack's key is not. `up` never acts on it: the
/// domain's `drift` (what `up` restores) does not include it (`lasting_drift` is status and
/// verify only).
#[tokio::test]
async fn a_domain_without_the_stacks_key_is_reported_not_replaced() {
    let key = "arn:aws:kms:us-east-1:123456789012:key/k-1";
    let domain = domain::Domain {
        vpc: StepId::VPC,
        subnets: vec![StepId::SUBNET_SAGEMAKER],
        role: StepId::IAM_ROLE,
        sg: StepId::SG_SAGEMAKER,
        key: StepId::KMS_EBS,
    };
    let script = vec![
        ok(r#"{"DomainId":"d-1","Status":"InService"}"#),
        ok(&format!(r#"{{"DomainId":"d-1","Status":"InService","KmsKeyId":"{key}"}}"#)),
    ];
    let (ctx, http, _d) = ctx(script, &[(StepId::KMS_EBS, key)]);
    let d = domain.lasting_drift(&ctx, &StepId::DOMAIN, "d-1").await.unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].contains("an AWS managed key") && d[0].contains("provision down --purge-efs"), "{d:?}");
    assert!(domain.lasting_drift(&ctx, &StepId::DOMAIN, "d-1").await.unwrap().is_empty(), "under the stack's key");
    assert_eq!(http.calls(), ["DescribeDomain", "DescribeDomain"]);
}

#[tokio::test]
async fn waits_share_a_listing_started_within_fresh_and_list_again_after() {
    let polls = Polls::default();
    let loads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let load = || {
        let loads = loads.clone();
        async move {
            let n = loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Ok::<usize, anyhow::Error>(n)
        }
    };
    let fresh = std::time::Duration::from_millis(300);
    // Three waits at once: one listing, the others wait for it and take its answer.
    let (a, b, c) = tokio::join!(polls.get("k", fresh, load), polls.get("k", fresh, load), polls.get("k", fresh, load));
    assert_eq!((*a.unwrap(), *b.unwrap(), *c.unwrap()), (1, 1, 1));
    assert_eq!(*polls.get("other", fresh, load).await.unwrap(), 2, "another key lists on its own");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(*polls.get("k", fresh, load).await.unwrap(), 3, "older than fresh: listed again");
}

#[tokio::test]
async fn a_vpc_endpoint_delete_throttled_past_the_sdks_attempts_is_sent_again() {
    // The SDK makes 3 attempts here (10 in `aws.rs`); a bucket five stacks share stays empty
    // longer: the delete is sent again (`retry::is_throttling`), then the wait reads the VPC's
    // shared listing, where the endpoint is gone.
    let mut script = vec![ec2_throttled(); 3];
    // Then an AWS-side fault the SDK did not retry (its retry quota spent, as many throttled answers do).
    script.push(Answer(
        400,
        "<Response><Errors><Error><Code>InternalError</Code><Message>x</Message></Error></Errors><RequestID>r</RequestID></Response>"
            .into(),
        XML,
    ));
    script.push(ec2_throttled());
    script.push(ec2_ok("DeleteVpcEndpoints", "<unsuccessful/>"));
    script.push(ec2_ok("DescribeVpcEndpoints", "<vpcEndpointSet/>"));
    let (ctx, http, _d) = ctx(script, &[(StepId::VPC, "vpc-1"), (StepId::DOMAIN, DOMAIN_ID)]);
    let kind = vpc_endpoint::VpcEndpoint {
        vpc: StepId::VPC,
        short: "s3",
        flavor: vpc_endpoint::Flavor::Gateway { route_tables: vec![] },
    };
    kind.delete(&ctx, "vpce-1").await.unwrap();
    let calls = http.calls();
    assert_eq!(calls.iter().filter(|c| *c == "DeleteVpcEndpoints").count(), 6, "{calls:?}");
    assert_eq!(calls.last().map(String::as_str), Some("DescribeVpcEndpoints"));
    assert_eq!(http.left(), 0);
    // The EC2 client saw the four throttled answers: DeleteVpcEndpoints is paced now, the
    // listing (never throttled) is not (`pace`).
    assert_eq!(ctx.aws.pacer.stats().throttled, 4);
    assert!(ctx.aws.pacer.rate("DeleteVpcEndpoints").is_some());
    assert_eq!(ctx.aws.pacer.rate("DescribeVpcEndpoints"), None);
}

/// An S3 error (REST XML), e.g. OperationAborted 409, NoSuchBucket 404.
fn s3_err(status: u16, code: &str) -> Answer {
    Answer(
        status,
        format!("<Error><Code>{code}</Code><Message>{code}</Message><RequestId>r</RequestId></Error>"),
        "application/xml",
    )
}

fn s3_ok() -> Answer {
    Answer(200, String::new(), "application/xml")
}

/// CreateFlowLogs right after its delivery role was made answers "Unable to assume given IAM
/// role" until the role propagates (terraform-provider-aws vpc_flow_log.go retries exactly
/// that): the create is sent again, with the same client token, and succeeds.
#[tokio::test]
async fn a_flow_log_waits_out_its_roles_propagation() {
    let unassumable = Answer(
        400,
        "<Response><Errors><Error><Code>InvalidParameter</Code><Message>Unable to assume given IAM role, or role does not exist</Message></Error></Errors><RequestID>r</RequestID></Response>".into(),
        XML,
    );
    let created = ec2_ok(
        "CreateFlowLogs",
        "<clientToken>t</clientToken><flowLogIdSet><item>fl-1</item></flowLogIdSet><unsuccessful/>",
    );
    let (c, http, _d) = ctx(
        vec![unassumable.clone(), unassumable, created],
        &[
            (StepId::VPC, "vpc-1"),
            (StepId::LOGS_VPC_FLOW, "/provision/p/vpc-flow-logs"),
            (StepId::FLOW_LOGS_ROLE, "arn:aws:iam::123456789012:role/r"),
        ],
    );
    let kind = flow_log::FlowLog { vpc: StepId::VPC, group: StepId::LOGS_VPC_FLOW, role: StepId::FLOW_LOGS_ROLE };
    assert_eq!(kind.create(&c, &StepId::FLOW_LOG, "t").await.unwrap(), "fl-1");
    assert_eq!(http.calls(), ["CreateFlowLogs", "CreateFlowLogs", "CreateFlowLogs"]);
    // Any other InvalidParameter is the caller's mistake: not retried.
    let (c, http, _d) = ctx(
        vec![ec2_err("InvalidParameter")],
        &[
            (StepId::VPC, "vpc-1"),
            (StepId::LOGS_VPC_FLOW, "/provision/p/vpc-flow-logs"),
            (StepId::FLOW_LOGS_ROLE, "arn:aws:iam::123456789012:role/r"),
        ],
    );
    assert!(kind.create(&c, &StepId::FLOW_LOG, "t").await.is_err());
    assert_eq!(http.calls().len(), 1);
}

/// CreateBucket of a name just deleted answers OperationAborted; the bucket's settings right
/// after CreateBucket answer NoSuchBucket (terraform-provider-aws resourceBucketCreate and its
/// sub-resources, `retry::BUCKET_PROPAGATION_BOUND`): both are sent again.
#[tokio::test]
async fn a_bucket_waits_out_a_name_in_flux_and_its_own_propagation() {
    let kind = s3_bucket::S3Bucket {
        suffix: "data",
        key: StepId::KMS_S3,
        endpoint: StepId::VPCE_S3,
        logs: StepId::BUCKET_LOGS,
    };
    let ids = [
        (StepId::KMS_S3, "arn:aws:kms:us-east-1:123456789012:key/k"),
        (StepId::VPCE_S3, "vpce-1"),
        (StepId::BUCKET_LOGS, "p-123456789012-us-east-1-logs"),
    ];
    let (c, http, _d) = ctx(vec![s3_err(409, "OperationAborted"), s3_err(409, "OperationAborted"), s3_ok()], &ids);
    let name = kind.create(&c, &StepId::BUCKET_DATA, "t").await.unwrap();
    assert_eq!(http.calls().len(), 3, "two refusals, then created");
    assert_eq!(http.left(), 0);
    // Settings: tagging unknown twice, then tagging, public access block, encryption, versioning,
    // policy, access logging.
    let six = || std::iter::repeat_with(s3_ok).take(6);
    let (c, http, _d) =
        ctx([s3_err(404, "NoSuchBucket"), s3_err(404, "NoSuchBucket")].into_iter().chain(six()).collect(), &ids);
    kind.settle(&c, &StepId::BUCKET_DATA, &name).await.unwrap();
    assert_eq!((http.calls().len(), http.left()), (8, 0));
    // NoSuchBucket half-way through (another S3 server): the settings are put again from the start.
    let (c, http, _d) = ctx([s3_ok(), s3_err(404, "NoSuchBucket")].into_iter().chain(six()).collect(), &ids);
    kind.settle(&c, &StepId::BUCKET_DATA, &name).await.unwrap();
    assert_eq!((http.calls().len(), http.left()), (8, 0));
    // Another error is not retried.
    let (c, http, _d) = ctx(vec![s3_err(403, "AccessDenied")], &ids);
    assert!(kind.create(&c, &StepId::BUCKET_DATA, "t").await.is_err());
    assert_eq!(http.calls().len(), 1);
}

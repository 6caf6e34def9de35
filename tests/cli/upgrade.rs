//! Kubernetes version upgrades, one minor at a time, control plane then node
//! groups. moto does not implement UpdateClusterVersion (it answers with an
//! HTML 404), so these drive the real step code against aws-smithy-mocks.

use std::sync::Arc;

use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_eks::operation::describe_nodegroup::DescribeNodegroupOutput;
use aws_sdk_eks::operation::update_cluster_version::UpdateClusterVersionOutput;
use aws_sdk_eks::operation::update_nodegroup_version::UpdateNodegroupVersionOutput;
use aws_sdk_eks::types::{
    Cluster, ClusterStatus, Nodegroup, NodegroupScalingConfig, NodegroupStatus, Update, UpdateStatus,
};
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, RuleMode};
use ekstack::config::{load, Overlay};
use ekstack::graph;
use ekstack::live::{Live, Readiness};
use ekstack::resources::{eks_cluster, eks_nodegroup, Ctx, Inputs, Kind, ResourceKind, RunOptions, Step};

use crate::support::repo;

fn cluster(version: &str, status: ClusterStatus) -> DescribeClusterOutput {
    DescribeClusterOutput::builder()
        .cluster(Cluster::builder().name("up").version(version).status(status).build())
        .build()
}

fn nodegroup(version: &str, status: NodegroupStatus) -> DescribeNodegroupOutput {
    DescribeNodegroupOutput::builder()
        .nodegroup(
            Nodegroup::builder()
                .cluster_name("up")
                .nodegroup_name("general")
                .version(version)
                .status(status)
                .scaling_config(
                    NodegroupScalingConfig::builder()
                        .min_size(1)
                        .desired_size(1)
                        .max_size(2)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn context(interceptor: MockResponseInterceptor) -> Ctx {
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("ap-northeast-1"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("a", "b", None, None, "test"),
        ))
        .build();
    let mut aws = ekstack::aws::Aws::from_sdk_config(sdk, Arc::new(ekstack::aws::CallLog::new(None)));
    let conf = aws_sdk_eks::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("ap-northeast-1"))
        .credentials_provider(aws_credential_types::Credentials::new("a", "b", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    aws.eks = aws_sdk_eks::Client::from_conf(conf);
    let options = RunOptions {
        poll_scale: 0.001,
        ..RunOptions::default()
    };
    Ctx::new(aws, "up", options, Arc::new(|_: &str, _: &str| {}))
}

fn stack() -> ekstack::config::Stack {
    let mut stack = load(&repo().join("stacks/learning.toml"), &Overlay::Env("mvp".into()), None)
        .unwrap()
        .stack;
    stack.meta.name = "up".into();
    stack
}

fn live_cluster(version: &str) -> Live {
    eks_cluster::EksCluster::found(
        "eks-cluster",
        "up",
        "ACTIVE",
        Readiness::Ready,
        eks_cluster::Observed {
            version: version.into(),
            subnets: vec![],
            endpoint: None,
            public_access_cidrs: vec![],
            logging: vec![],
            endpoint_url: String::new(),
            certificate_authority: String::new(),
            role_arn: String::new(),
            cluster_security_group: None,
            vpc_id: None,
        },
    )
    .erase()
}

fn live_nodegroup(version: &str) -> Live {
    eks_nodegroup::EksNodegroup::found(
        "eks-nodegroup.general",
        "general",
        "ACTIVE",
        Readiness::Ready,
        eks_nodegroup::Observed {
            cluster: "up".into(),
            instance_types: vec!["t3.medium".into()],
            capacity: "ON_DEMAND".into(),
            disk_gib: 20,
            ami_type: "AL2023_x86_64_STANDARD".into(),
            subnets: vec![],
            min: 1,
            desired: 1,
            max: 2,
            labels: Default::default(),
            version: version.into(),
            node_role: String::new(),
            health: None,
        },
    )
    .erase()
}

fn version_of(live: &Live) -> String {
    match live.kind {
        Kind::EksCluster => live.typed::<eks_cluster::EksCluster>().unwrap().observed.version,
        _ => live.typed::<eks_nodegroup::EksNodegroup>().unwrap().observed.version,
    }
}

#[tokio::test]
async fn cluster_upgrades_one_minor_version_at_a_time() {
    // Sequential rules: the test fails unless the calls come in exactly this order.
    let calls = vec![
        mock!(aws_sdk_eks::Client::update_cluster_version)
            .match_requests(|r| r.version() == Some("1.32"))
            .then_output(|| {
                UpdateClusterVersionOutput::builder()
                    .update(Update::builder().id("u1").status(UpdateStatus::InProgress).build())
                    .build()
            }),
        mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| cluster("1.31", ClusterStatus::Updating)),
        mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| cluster("1.32", ClusterStatus::Active)),
        mock!(aws_sdk_eks::Client::update_cluster_version)
            .match_requests(|r| r.version() == Some("1.33"))
            .then_output(|| {
                UpdateClusterVersionOutput::builder()
                    .update(Update::builder().id("u2").status(UpdateStatus::InProgress).build())
                    .build()
            }),
        mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| cluster("1.32", ClusterStatus::Updating)),
        mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| cluster("1.33", ClusterStatus::Active)),
        // The final wait after the update.
        mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| cluster("1.33", ClusterStatus::Active)),
    ];
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    for rule in &calls {
        interceptor = interceptor.with_rule(rule);
    }
    let ctx = context(interceptor);
    let g = graph::build(&stack()).unwrap();
    let resource = g.get("eks-cluster").unwrap().clone();
    let step = Step {
        ctx: &ctx,
        node: "eks-cluster",
    };
    // As the executor does: the update, then the wait until usable.
    let ops = Kind::EksCluster.ops();
    let updated = ops
        .update(
            &step,
            &resource,
            &live_cluster("1.31"),
            &["version"],
            &Inputs::default(),
        )
        .await
        .unwrap();
    let done = ops.wait_ready(&step, &updated).await.unwrap();
    assert_eq!(version_of(&done), "1.33");
    assert!(
        calls.iter().all(|r| r.num_calls() == 1),
        "every call made exactly once, in order"
    );
}

#[tokio::test]
async fn node_groups_follow_the_control_plane() {
    let calls = vec![
        mock!(aws_sdk_eks::Client::update_nodegroup_version)
            .match_requests(|r| r.version() == Some("1.33") && r.nodegroup_name() == Some("general"))
            .then_output(|| {
                UpdateNodegroupVersionOutput::builder()
                    .update(Update::builder().id("n1").status(UpdateStatus::InProgress).build())
                    .build()
            }),
        mock!(aws_sdk_eks::Client::describe_nodegroup).then_output(|| nodegroup("1.32", NodegroupStatus::Updating)),
        mock!(aws_sdk_eks::Client::describe_nodegroup).then_output(|| nodegroup("1.33", NodegroupStatus::Active)),
        mock!(aws_sdk_eks::Client::describe_nodegroup).then_output(|| nodegroup("1.33", NodegroupStatus::Active)),
    ];
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    for rule in &calls {
        interceptor = interceptor.with_rule(rule);
    }
    let ctx = context(interceptor);
    let g = graph::build(&stack()).unwrap();
    let resource = g.get("eks-nodegroup.general").unwrap().clone();
    // The node group references the cluster, so its version moves after the control plane's.
    assert!(resource.deps().any(|d| d == "eks-cluster"));
    let step = Step {
        ctx: &ctx,
        node: "eks-nodegroup.general",
    };
    let ops = Kind::EksNodegroup.ops();
    let updated = ops
        .update(
            &step,
            &resource,
            &live_nodegroup("1.32"),
            &["version"],
            &Inputs::default(),
        )
        .await
        .unwrap();
    let done = ops.wait_ready(&step, &updated).await.unwrap();
    assert_eq!(version_of(&done), "1.33");
    assert!(calls.iter().all(|r| r.num_calls() == 1));
}

//! The EKS managed add-ons ekstack knows: which come by default, which need
//! EC2 nodes, when each may be created relative to the cluster's compute,
//! and which AWS permissions each needs (an IAM role tied to its service
//! account through EKS Pod Identity).
//!
//! Sources: "Amazon EKS add-ons" and "AWS add-ons" in the EKS user guide
//! (https://docs.aws.amazon.com/eks/latest/userguide/eks-add-ons.html,
//! https://docs.aws.amazon.com/eks/latest/userguide/workloads-add-ons-available-eks.html),
//! and "Community add-ons" for metrics-server.

/// When an add-on may be created relative to node groups and Fargate
/// profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Nodes need it to become Ready (the CNI, kube-proxy) or to get
    /// credentials (the Pod Identity agent): made before any node group.
    BeforeCompute,
    /// A Deployment that stays Pending (and the add-on DEGRADED) until some
    /// node or Fargate profile can run it: made after them.
    AfterCompute,
}

/// The AWS permissions an add-on's pods need, through EKS Pod Identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    pub namespace: &'static str,
    pub service_account: &'static str,
    /// AWS managed policies.
    pub policies: &'static [&'static str],
    /// The role's purpose in its name: `<stack>-<region>-<purpose>` must
    /// fit IAM's 64 characters.
    pub purpose: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub name: &'static str,
    /// In every cluster unless `enabled = false`.
    pub default: bool,
    pub order: Order,
    /// Runs a DaemonSet or mounts EBS: Fargate pods cannot use it.
    pub needs_nodes: bool,
    pub permissions: Option<Permissions>,
    /// What it is for, in the plan and errors.
    pub what: &'static str,
    /// EKS Auto Mode runs it itself, as part of the nodes ("Automate
    /// cluster infrastructure with EKS Auto Mode": networking, kube-proxy,
    /// CoreDNS, the Pod Identity agent and block storage), so it is never
    /// a managed add-on there.
    pub in_auto_mode: bool,
}

pub const ADDONS: &[Known] = &[
    Known {
        name: "vpc-cni",
        default: true,
        order: Order::BeforeCompute,
        needs_nodes: false,
        // The node role carries AmazonEKS_CNI_Policy.
        permissions: None,
        what: "pod networking (Amazon VPC CNI)",
        in_auto_mode: true,
    },
    Known {
        name: "kube-proxy",
        default: true,
        order: Order::BeforeCompute,
        needs_nodes: false,
        permissions: None,
        what: "Service routing on each node",
        in_auto_mode: true,
    },
    Known {
        name: "coredns",
        default: true,
        order: Order::AfterCompute,
        needs_nodes: false,
        permissions: None,
        what: "cluster DNS",
        in_auto_mode: true,
    },
    Known {
        name: "eks-pod-identity-agent",
        default: true,
        order: Order::BeforeCompute,
        needs_nodes: false,
        permissions: None,
        what: "AWS credentials for pods (EKS Pod Identity)",
        in_auto_mode: true,
    },
    Known {
        name: "aws-ebs-csi-driver",
        default: false,
        order: Order::AfterCompute,
        needs_nodes: true,
        permissions: Some(Permissions {
            namespace: "kube-system",
            service_account: "ebs-csi-controller-sa",
            policies: &["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
            purpose: "ebs-csi",
        }),
        what: "EBS persistent volumes",
        in_auto_mode: true,
    },
    Known {
        name: "metrics-server",
        default: false,
        order: Order::AfterCompute,
        needs_nodes: false,
        permissions: None,
        what: "resource metrics for `kubectl top` and the HorizontalPodAutoscaler",
        in_auto_mode: false,
    },
    Known {
        name: "amazon-cloudwatch-observability",
        default: false,
        order: Order::AfterCompute,
        needs_nodes: true,
        permissions: Some(Permissions {
            namespace: "amazon-cloudwatch",
            service_account: "cloudwatch-agent",
            policies: &[
                "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
                "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            ],
            purpose: "cloudwatch",
        }),
        what: "Container Insights metrics and logs",
        in_auto_mode: false,
    },
];

pub const POD_IDENTITY_AGENT: &str = "eks-pod-identity-agent";

pub fn known(name: &str) -> Option<&'static Known> {
    ADDONS.iter().find(|a| a.name == name)
}

pub fn names() -> Vec<&'static str> {
    ADDONS.iter().map(|a| a.name).collect()
}

/// An add-on version as a sortable key: `v1.19.2-eksbuild.3` is
/// (1, 19, 2, 3); the build number orders builds of one release.
pub fn version_key(v: &str) -> Option<(u32, u32, u32, u32)> {
    let rest = v.strip_prefix('v').unwrap_or(v);
    let (numbers, build) = rest.split_once('-').unwrap_or((rest, ""));
    let mut parts = numbers.split('.').map(|p| p.parse::<u32>().ok());
    let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next().flatten().unwrap_or(0));
    let build = build
        .rsplit('.')
        .next()
        .and_then(|b| b.parse::<u32>().ok())
        .unwrap_or(0);
    Some((major, minor, patch, build))
}

//! What the AWS Load Balancer Controller may do, as its installation guide
//! lists it (kubernetes-sigs/aws-load-balancer-controller,
//! `docs/install/iam_policy.json`, as of its August 2026 release), written
//! here as statements: read what it needs to see, and change only the load
//! balancers, target groups and security groups carrying its cluster tag
//! (`elbv2.k8s.aws/cluster`), which it adds at creation.

use serde_json::{json, Value};

/// Its namespace and service account (the Helm chart's defaults).
pub const NAMESPACE: &str = "kube-system";
pub const SERVICE_ACCOUNT: &str = "aws-load-balancer-controller";
/// The pod identity's name, as DESIGN §9 gives it.
pub const IDENTITY: &str = "aws-load-balancer-controller";

/// The tag the controller puts on what it makes.
const CLUSTER_TAG: &str = "elbv2.k8s.aws/cluster";

/// Everything it reads, on any resource.
const READS: &[&str] = &[
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeTags",
    "ec2:GetCoipPoolUsage",
    "ec2:DescribeCoipPools",
    "ec2:GetSecurityGroupsForVpc",
    "ec2:DescribeIpamPools",
    "ec2:DescribeRouteTables",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeSSLPolicies",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTrustStores",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeCapacityReservation",
];

/// Certificates, WAF, Shield and Cognito that an Ingress may name.
const INTEGRATIONS: &[&str] = &[
    "cognito-idp:DescribeUserPoolClient",
    "acm:ListCertificates",
    "acm:DescribeCertificate",
    "iam:ListServerCertificates",
    "iam:GetServerCertificate",
    "waf-regional:GetWebACL",
    "waf-regional:GetWebACLForResource",
    "waf-regional:AssociateWebACL",
    "waf-regional:DisassociateWebACL",
    "wafv2:GetWebACL",
    "wafv2:GetWebACLForResource",
    "wafv2:AssociateWebACL",
    "wafv2:DisassociateWebACL",
    "shield:GetSubscriptionState",
    "shield:DescribeProtection",
    "shield:CreateProtection",
    "shield:DeleteProtection",
];

/// Changes to load balancers and target groups it tagged.
const TAGGED_CHANGES: &[&str] = &[
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyCapacityReservation",
    "elasticloadbalancing:ModifyIpPools",
];

const LISTENER_CHANGES: &[&str] = &[
    "elasticloadbalancing:SetWebAcl",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:SetRulePriorities",
];

const SECURITY_GROUPS: &str = "arn:aws:ec2:*:*:security-group/*";
const BALANCERS: &[&str] = &[
    "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
    "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
    "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
];
const LISTENERS: &[&str] = &[
    "arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*",
    "arn:aws:elasticloadbalancing:*:*:listener/app/*/*/*",
    "arn:aws:elasticloadbalancing:*:*:listener-rule/net/*/*/*",
    "arn:aws:elasticloadbalancing:*:*:listener-rule/app/*/*/*",
];

fn allow(actions: &[&str], resource: Value) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resource})
}

fn allow_if(actions: &[&str], resource: Value, condition: Value) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resource, "Condition": condition})
}

/// The request sets the cluster tag (what it creates is tagged).
fn tagging_on_create() -> Value {
    json!({"Null": {format!("aws:RequestTag/{CLUSTER_TAG}"): "false"}})
}

/// The resource carries the cluster tag (the controller made it).
fn tagged() -> Value {
    json!({"Null": {format!("aws:ResourceTag/{CLUSTER_TAG}"): "false"}})
}

/// Tags change on the controller's resources, but never the cluster tag.
fn retagging() -> Value {
    json!({"Null": {
        format!("aws:RequestTag/{CLUSTER_TAG}"): "true",
        format!("aws:ResourceTag/{CLUSTER_TAG}"): "false",
    }})
}

/// The controller's statements.
pub fn statements() -> Vec<Value> {
    vec![
        allow_if(
            &["iam:CreateServiceLinkedRole"],
            json!("*"),
            json!({"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}),
        ),
        allow(READS, json!("*")),
        allow(INTEGRATIONS, json!("*")),
        allow(
            &["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            json!("*"),
        ),
        allow(&["ec2:CreateSecurityGroup"], json!("*")),
        allow_if(
            &["ec2:CreateTags"],
            json!(SECURITY_GROUPS),
            json!({
                "StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"},
                "Null": {format!("aws:RequestTag/{CLUSTER_TAG}"): "false"},
            }),
        ),
        allow_if(
            &["ec2:CreateTags", "ec2:DeleteTags"],
            json!(SECURITY_GROUPS),
            retagging(),
        ),
        allow_if(
            &[
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ],
            json!("*"),
            tagged(),
        ),
        allow_if(
            &[
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateTargetGroup",
            ],
            json!("*"),
            tagging_on_create(),
        ),
        allow(
            &[
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
            ],
            json!("*"),
        ),
        allow_if(
            &["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            json!(BALANCERS),
            retagging(),
        ),
        allow(
            &["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            json!(LISTENERS),
        ),
        allow_if(TAGGED_CHANGES, json!("*"), tagged()),
        allow_if(
            &["elasticloadbalancing:AddTags"],
            json!(BALANCERS),
            json!({
                "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
                "Null": {format!("aws:RequestTag/{CLUSTER_TAG}"): "false"},
            }),
        ),
        allow(
            &[
                "elasticloadbalancing:RegisterTargets",
                "elasticloadbalancing:DeregisterTargets",
            ],
            json!("arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"),
        ),
        allow(LISTENER_CHANGES, json!("*")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_limited_to_what_carries_the_cluster_tag() {
        let s = statements();
        let conditioned = |action: &str| {
            s.iter()
                .filter(|st| st["Action"].as_array().unwrap().iter().any(|a| a == action))
                .all(|st| st["Condition"].to_string().contains(CLUSTER_TAG))
        };
        for a in [
            "elasticloadbalancing:DeleteLoadBalancer",
            "elasticloadbalancing:CreateLoadBalancer",
            "ec2:DeleteSecurityGroup",
        ] {
            assert!(conditioned(a), "{a} is limited to the controller's own resources");
        }
        // An inline role policy takes at most 10,240 characters, whitespace
        // aside (IAM and STS quotas).
        let document = json!({"Version": "2012-10-17", "Statement": s}).to_string();
        println!("load balancer controller policy: {} characters", document.len());
        assert!(document.len() < 10_240, "{}", document.len());
    }
}

//! What the CI roles of `[ci.github]` may do, as IAM policy statements:
//! `ci-plan` reads what `ekstack plan` reads; `ci-deploy` pushes to the
//! stack's repositories and finds its cluster; `ci-apply` makes, changes
//! and deletes what this stack is made of, scoped to its names, its region
//! and the managed policies its file attaches.
//!
//! The actions are the calls ekstack makes (a test runs plan, apply and
//! destroy and checks each call against these statements), plus what AWS
//! checks behind them: `iam:PassRole` for the roles EKS and RDS act as,
//! service-linked roles the first cluster or database in an account
//! makes, and the Secrets Manager and KMS calls RDS makes for a managed
//! master password ("Password management with Amazon RDS and AWS Secrets
//! Manager", permissions,
//! https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html).

use serde_json::{json, Value};

use super::iam_role::{partition, role_name};
use crate::config::Stack;

/// What `ekstack plan` reads, in every service; reads carry no data of the
/// stack's (no secret value, no object).
const READ: &[&str] = &[
    "ec2:Describe*",
    "ec2:GetCoipPoolUsage",
    "ec2:GetSecurityGroupsForVpc",
    "eks:Describe*",
    "eks:List*",
    "rds:Describe*",
    "rds:ListTagsForResource",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListRoles",
    "iam:ListAttachedRolePolicies",
    "iam:GetOpenIDConnectProvider",
    "iam:ListOpenIDConnectProviders",
    "elasticloadbalancing:Describe*",
    "ecr:DescribeRepositories",
    "ecr:DescribeImages",
    "ecr:GetLifecyclePolicy",
    "ecr:ListTagsForResource",
    "budgets:ViewBudget",
    "ce:ListCostAllocationTags",
    "servicequotas:GetServiceQuota",
    "servicequotas:GetAWSDefaultServiceQuota",
    "sts:GetCallerIdentity",
];

/// The lock table's calls: plan reads the lock; apply and destroy take it.
const LOCK_READ: &[&str] = &["dynamodb:GetItem", "dynamodb:DescribeTable"];
const LOCK_WRITE: &[&str] = &[
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
];

/// The network's changes: EC2 has no names to scope by, so they are held
/// to the stack's region.
const NETWORK: &[&str] = &[
    "ec2:AllocateAddress",
    "ec2:ReleaseAddress",
    "ec2:CreateVpc",
    "ec2:DeleteVpc",
    "ec2:ModifyVpcAttribute",
    "ec2:CreateSubnet",
    "ec2:DeleteSubnet",
    "ec2:ModifySubnetAttribute",
    "ec2:CreateInternetGateway",
    "ec2:DeleteInternetGateway",
    "ec2:AttachInternetGateway",
    "ec2:DetachInternetGateway",
    "ec2:CreateNatGateway",
    "ec2:DeleteNatGateway",
    "ec2:CreateRouteTable",
    "ec2:DeleteRouteTable",
    "ec2:AssociateRouteTable",
    "ec2:DisassociateRouteTable",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
    "ec2:DeleteRoute",
    "ec2:CreateSecurityGroup",
    "ec2:DeleteSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:CreateTags",
    "ec2:DeleteTags",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteVolume",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteTargetGroup",
];

/// The services whose service-linked roles the stack's first cluster,
/// node group, Fargate profile, database or load balancer makes.
const SERVICE_LINKED: &[&str] = &[
    "eks.amazonaws.com",
    "eks-nodegroup.amazonaws.com",
    "eks-fargate.amazonaws.com",
    "rds.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "autoscaling.amazonaws.com",
];

/// ECR's push and pull, for one repository's images.
const PUSH: &[&str] = &[
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
];

/// The names ARNs are built from.
struct Names<'a> {
    partition: &'static str,
    region: &'a str,
    /// `*` in `validate`, where the account is not known.
    account: &'a str,
    stack: &'a str,
}

impl<'a> Names<'a> {
    fn of(stack: &'a Stack) -> Self {
        Names {
            partition: partition(&stack.meta.region),
            region: &stack.meta.region,
            account: stack.meta.account.as_deref().unwrap_or("*"),
            stack: &stack.meta.name,
        }
    }

    fn arn(&self, service: &str, regional: bool, resource: &str) -> String {
        let region = if regional { self.region } else { "" };
        format!("arn:{}:{service}:{region}:{}:{resource}", self.partition, self.account)
    }

    fn lock_table(&self) -> String {
        self.arn("dynamodb", true, &format!("table/{}", crate::ops::lock::TABLE))
    }

    fn repositories(&self) -> String {
        self.arn("ecr", true, &format!("repository/{}/*", self.stack))
    }

    fn cluster(&self) -> String {
        self.arn("eks", true, &format!("cluster/{}", self.stack))
    }

    fn roles(&self) -> String {
        self.arn(
            "iam",
            false,
            &format!("role/{}", role_name(self.stack, self.region, "*")),
        )
    }
}

fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources})
}

/// `ci-plan`: read everything plan reads, and the stack's lock.
pub fn plan(stack: &Stack) -> Vec<Value> {
    let n = Names::of(stack);
    vec![
        allow("ReadTheStack", READ, vec!["*".into()]),
        allow("ReadTheLock", LOCK_READ, vec![n.lock_table()]),
    ]
}

/// `ci-deploy`: push images to the stack's repositories, and find the
/// cluster (`aws eks update-kubeconfig`). What it may do inside the
/// cluster is its access entry's (EKS `edit` in the file's namespaces).
pub fn deploy(stack: &Stack) -> Vec<Value> {
    let n = Names::of(stack);
    let mut statements = vec![allow("SignInToEcr", &["ecr:GetAuthorizationToken"], vec!["*".into()])];
    if stack.registry.is_some() {
        statements.push(allow("PushToTheStacksRepositories", PUSH, vec![n.repositories()]));
    }
    if stack.eks.is_some() {
        statements.push(allow("FindTheCluster", &["eks:DescribeCluster"], vec![n.cluster()]));
    }
    statements
}

/// `ci-apply`: what `ekstack apply` and `destroy` of this stack call.
/// `managed_policies`: the AWS managed policies the stack's roles attach,
/// the only ones it may attach.
pub fn apply(stack: &Stack, managed_policies: &[String]) -> Vec<Value> {
    let n = Names::of(stack);
    let s = n.stack;
    let region = json!({"StringEquals": {"aws:RequestedRegion": n.region}});
    let eks = [
        "cluster/{s}",
        "nodegroup/{s}/*",
        "fargateprofile/{s}/*",
        "addon/{s}/*",
        "access-entry/{s}/*",
        "podidentityassociation/{s}/*",
    ]
    .iter()
    .map(|r| n.arn("eks", true, &r.replace("{s}", s)))
    .collect();
    // Every RDS name the stack makes starts with `<stack>-`; a proxy's ARN
    // carries a generated id, and creating an instance checks the default
    // option and parameter groups it uses.
    let rds = [
        format!("db:{s}-*"),
        format!("cluster:{s}-*"),
        format!("subgrp:{s}-*"),
        format!("pg:{s}-*"),
        format!("cluster-pg:{s}-*"),
        format!("snapshot:{s}-*"),
        format!("cluster-snapshot:{s}-*"),
        "pg:default.*".into(),
        "cluster-pg:default.*".into(),
        "og:*".into(),
        "db-proxy:*".into(),
        "target-group:*".into(),
    ]
    .iter()
    .map(|r| n.arn("rds", true, r))
    .collect();
    let mut network = allow("TheNetworkInTheRegion", NETWORK, vec!["*".into()]);
    network["Condition"] = region.clone();
    let mut attach = allow(
        "AttachTheStacksManagedPolicies",
        &["iam:AttachRolePolicy"],
        vec![n.roles()],
    );
    attach["Condition"] = json!({"ArnEquals": {"iam:PolicyARN": managed_policies}});
    let mut service_linked = allow("ServiceLinkedRoles", &["iam:CreateServiceLinkedRole"], vec!["*".into()]);
    service_linked["Condition"] = json!({"StringEquals": {"iam:AWSServiceName": SERVICE_LINKED}});
    let mut kms = allow("TheManagedSecretsKey", &["kms:DescribeKey"], vec!["*".into()]);
    kms["Condition"] = region;
    vec![
        allow("ReadTheStack", READ, vec!["*".into()]),
        allow("TheLock", LOCK_WRITE, vec![n.lock_table()]),
        network,
        allow("TheCluster", &["eks:*"], eks),
        allow("TheDatabase", &["rds:*"], rds),
        allow(
            "TheManagedMasterSecret",
            &[
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:DescribeSecret",
            ],
            vec![n.arn("secretsmanager", true, "secret:rds!*")],
        ),
        kms,
        allow(
            "TheStacksRoles",
            &[
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PassRole",
            ],
            vec![n.roles()],
        ),
        attach,
        service_linked,
        allow(
            "TheOidcProviders",
            &[
                "iam:CreateOpenIDConnectProvider",
                "iam:DeleteOpenIDConnectProvider",
                "iam:TagOpenIDConnectProvider",
                "iam:UntagOpenIDConnectProvider",
                "iam:AddClientIDToOpenIDConnectProvider",
            ],
            vec![
                n.arn("iam", false, "oidc-provider/token.actions.githubusercontent.com"),
                n.arn(
                    "iam",
                    false,
                    &format!("oidc-provider/oidc.eks.{}.amazonaws.com/id/*", n.region),
                ),
            ],
        ),
        allow(
            "TheStacksBudget",
            &["budgets:ModifyBudget", "budgets:ViewBudget"],
            vec![n.arn(
                "budgets",
                false,
                &format!("budget/{}", super::budget::budget_name(s, n.region)),
            )],
        ),
        allow(
            "ActivateTheCostAllocationTag",
            &["ce:UpdateCostAllocationTagsStatus", "ce:ListCostAllocationTags"],
            vec!["*".into()],
        ),
        allow(
            "TheStacksRepositories",
            &[
                "ecr:CreateRepository",
                "ecr:DeleteRepository",
                "ecr:PutLifecyclePolicy",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:TagResource",
                "ecr:UntagResource",
            ],
            vec![n.repositories()],
        ),
    ]
}

/// Whether `statements` allow `action` on some resource (actions match
/// IAM's way: case-insensitive, `*` for any run of characters).
pub fn allows(statements: &[Value], action: &str) -> bool {
    statements.iter().any(|s| {
        let actions = match &s["Action"] {
            Value::String(a) => vec![a.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        s["Effect"] == "Allow"
            && actions
                .iter()
                .any(|pattern| glob(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase()))
    })
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head) && (0..=text.len() - head.len()).any(|i| glob(tail, &text[head.len() + i..]))
        }
    }
}

/// The IAM action of a call as the SDK names its service
/// (`elasticloadbalancingv2:DescribeLoadBalancers`, counted by
/// [`crate::aws::CallStats`]): the prefix IAM uses.
pub fn iam_action(operation: &str) -> String {
    let (service, name) = operation.split_once(':').unwrap_or(("", operation));
    let service = match service {
        "elasticloadbalancingv2" => "elasticloadbalancing",
        other => other,
    };
    // AWS Budgets authorizes by two actions, not by API name ("Actions,
    // resources, and condition keys for AWS Budget Service"): reads are
    // ViewBudget, every change (notifications included) ModifyBudget.
    if service == "budgets" {
        let action = if name.starts_with("Describe") {
            "ViewBudget"
        } else {
            "ModifyBudget"
        };
        return format!("budgets:{action}");
    }
    format!("{service}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Stack {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/shop.toml");
        let mut stack = crate::config::load(&path, &crate::config::Overlay::None, None)
            .unwrap()
            .stack;
        stack.meta.account = Some("123456789012".into());
        stack
    }

    fn actions_of(statements: &[Value]) -> Vec<String> {
        statements
            .iter()
            .flat_map(|s| {
                s["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
            })
            .collect()
    }

    /// The README's table is the permissions a reviewer grants: it names
    /// every action the roles' policies hold.
    #[test]
    fn the_readme_lists_every_action_of_the_ci_roles() {
        let readme = include_str!("../../README.md");
        let stack = shop();
        let managed = vec!["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy".to_string()];
        for action in actions_of(&apply(&stack, &managed))
            .into_iter()
            .chain(actions_of(&plan(&stack)))
        {
            assert!(
                readme.contains(&format!("`{action}`")),
                "the README does not list {action}"
            );
        }
    }

    /// IAM allows 10,240 characters of inline policy per role ("IAM and
    /// AWS STS quotas"); whitespace does not count, and none is written.
    #[test]
    fn the_apply_policy_fits_in_a_role() {
        let stack = shop();
        let managed: Vec<String> = (0..12)
            .map(|i| format!("arn:aws:iam::aws:policy/SomeRatherLongManagedPolicyName{i}"))
            .collect();
        let document = json!({"Version": "2012-10-17", "Statement": apply(&stack, &managed)}).to_string();
        assert!(document.len() < 10_240, "{} characters", document.len());
        assert!(allows(&apply(&stack, &managed), "eks:CreateCluster"));
        assert!(!allows(&plan(&stack), "eks:CreateCluster"));
    }

    #[test]
    fn globs_match_like_iam() {
        assert!(glob("ec2:describe*", "ec2:describevpcs"));
        assert!(glob("eks:*", "eks:createcluster"));
        assert!(!glob("ec2:describe*", "ec2:createvpc"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
    }
}

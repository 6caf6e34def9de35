//! `status` and `output`: what is live, and how to reach it.

use anyhow::Result;
use serde::Serialize;

use super::plan::{plan_against, Planned};
use crate::aws::Aws;
use crate::config::Stack;
use crate::cost::{self, Estimate, PriceTable};
use crate::graph;
use crate::graph::build::{DB_CLUSTER, DB_INSTANCE, EKS_CLUSTER, VPC};
use crate::plan::Action;
use crate::resources::discover::discover;

/// One live resource as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StatusLine {
    pub address: String,
    pub kind: crate::graph::Kind,
    pub id: String,
    pub state: String,
    /// Differs from the file (an update, replacement or deletion is planned).
    pub drift: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub stack: String,
    pub env: Option<String>,
    pub region: String,
    pub resources: Vec<StatusLine>,
    /// Addresses in the file with nothing live yet.
    pub missing: Vec<String>,
    pub sleeping: bool,
    pub cost: Estimate,
}

pub async fn status(aws: &Aws, stack: &Stack, prices: &PriceTable) -> Result<(Status, Planned)> {
    let live = discover(aws, &stack.meta.name, &stack.meta.region).await?;
    // A sleeping stack is compared with its sleeping form: the NAT it lacks
    // and the nodes at zero are what sleep means, not drift.
    let asleep = live
        .resources
        .iter()
        .any(|l| l.tags.contains_key(crate::resources::TAG_SLEEPING));
    let compared = if asleep { stack.sleeping() } else { stack.clone() };
    let planned = plan_against(&compared, graph::build(&compared), live, false);
    let mut resources = Vec::new();
    for l in &planned.live.resources {
        let drift = planned
            .plan
            .actions
            .iter()
            .any(|a| a.address == l.address && a.action != Action::NoOp && a.action != Action::Create);
        resources.push(StatusLine {
            address: l.address.clone(),
            kind: l.kind,
            id: l.id.clone(),
            state: l.state.clone(),
            drift,
        });
    }
    resources.sort_by(|a, b| (a.kind, &a.address).cmp(&(b.kind, &b.address)));
    let missing = planned
        .plan
        .actions
        .iter()
        .filter(|a| a.action == Action::Create)
        .map(|a| a.address.clone())
        .collect();
    let cost = cost::estimate(&stack.meta.region, &cost::live_billables(&planned.live), prices);
    let status = Status {
        stack: stack.meta.name.clone(),
        env: stack.meta.env.clone(),
        region: stack.meta.region.clone(),
        resources,
        missing,
        sleeping: planned.plan.sleeping,
        cost,
    };
    Ok((status, planned))
}

/// What an application and its operator need to reach the stack.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outputs {
    pub vpc_id: Option<String>,
    pub cluster_name: Option<String>,
    pub cluster_endpoint: Option<String>,
    pub db_endpoint: Option<String>,
    pub db_port: Option<i64>,
    pub db_name: Option<String>,
    pub db_username: Option<String>,
    /// The Secrets Manager secret RDS manages; never the password itself.
    pub db_secret_arn: Option<String>,
    pub kubeconfig_context: Option<String>,
    pub region: String,
}

/// The kubeconfig context ekstack writes for a stack's cluster.
pub fn context_name(stack: &Stack) -> String {
    format!("{}.{}.ekstack", stack.meta.name, stack.meta.region)
}

pub async fn outputs(aws: &Aws, stack: &Stack) -> Result<Outputs> {
    let live = discover(aws, &stack.meta.name, &stack.meta.region).await?;
    let find = |address: &str| live.resources.iter().find(|l| l.address == address);
    let mut out = Outputs {
        region: stack.meta.region.clone(),
        ..Default::default()
    };
    out.vpc_id = find(VPC).map(|l| l.id.clone());
    if let Some(c) = find(EKS_CLUSTER) {
        out.cluster_name = Some(c.id.clone());
        out.cluster_endpoint = c.detail_str("endpoint_url").map(str::to_string);
        out.kubeconfig_context = Some(context_name(stack));
    }
    if let Some(db) = find(DB_INSTANCE).or_else(|| find(DB_CLUSTER)) {
        out.db_endpoint = db.detail_str("endpoint").map(str::to_string);
        out.db_port = db.details.get("port").and_then(|p| p.as_i64());
        out.db_secret_arn = db.detail_str("secret_arn").map(str::to_string);
        out.db_name = db.attrs.get("db_name").and_then(|v| v.as_str()).map(str::to_string);
        out.db_username = db.attrs.get("username").and_then(|v| v.as_str()).map(str::to_string);
    }
    Ok(out)
}

//! AWS Budgets and Cost Explorer where moto 5.2.5 lacks them. moto keeps
//! budgets and their notifications, but not UpdateBudget nor
//! DescribeSubscribersForNotification, and answers Cost Explorer's cost
//! allocation tag calls with a 500. Those are served here with the shapes
//! of the AWS Billing and Cost Management API reference
//! (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/):
//! - UpdateBudget replaces the budget's definition and keeps its
//!   notifications and subscribers;
//! - DescribeSubscribersForNotification answers what CreateBudget and
//!   CreateNotification were given;
//! - ListCostAllocationTags lists a user tag key as `Inactive` until
//!   UpdateCostAllocationTagsStatus activates it (keys ekstack puts on
//!   resources are taken as already seen by billing);
//! - UpdateCostAllocationTagsStatus answers `{"Errors": []}`, per entry.

use std::collections::HashMap;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde_json::{json, Value};

use super::wire::Reply;
use super::{Before, Req, Rules};

#[derive(Default)]
pub struct State {
    /// (account, budget, notification as canonical JSON) → subscribers.
    subscribers: HashMap<(String, String, String), Vec<Value>>,
    /// (account, tag key) → `Active` / `Inactive`.
    cost_tags: HashMap<(String, String), String>,
}

fn target(req: &Req) -> &str {
    req.headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split('.').nth(1))
        .unwrap_or("")
}

/// A notification's identity: its type, operator, threshold and kind.
fn key_of(n: &Value) -> String {
    json!({
        "NotificationType": n["NotificationType"],
        "ComparisonOperator": n["ComparisonOperator"],
        "Threshold": n["Threshold"].as_f64(),
        "ThresholdType": n.get("ThresholdType").cloned().unwrap_or(json!("PERCENTAGE")),
    })
    .to_string()
}

fn account_of_header(req: &Req) -> String {
    req.headers
        .get("x-moto-account-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("123456789012")
        .to_string()
}

fn not_found(message: &str) -> Before {
    Before::Answer(Reply::aws_json(
        StatusCode::BAD_REQUEST,
        &json!({"__type": "NotFoundException", "Message": message}),
    ))
}

/// The same request as another Budgets operation with another body.
fn as_operation(req: &Req, op: &str, body: &Value) -> Req {
    let mut r = req.with_body(Bytes::from(body.to_string()));
    if let Ok(v) = HeaderValue::from_str(&format!("AWSBudgetServiceGateway.{op}")) {
        r.headers.insert("x-amz-target", v);
    }
    r
}

pub async fn before(rules: &Rules, req: &Req) -> Before {
    let body = req.json();
    match (req.service.as_str(), target(req)) {
        ("budgets", "DescribeSubscribersForNotification") => {
            let key = (
                body["AccountId"].as_str().unwrap_or_default().to_string(),
                body["BudgetName"].as_str().unwrap_or_default().to_string(),
                key_of(&body["Notification"]),
            );
            let found = rules.state().billing.subscribers.get(&key).cloned();
            match found {
                Some(subs) => Before::Answer(Reply::aws_json(StatusCode::OK, &json!({ "Subscribers": subs }))),
                None => not_found("Unable to get subscribers: the notification doesn't exist."),
            }
        }
        ("budgets", "UpdateBudget") => update_budget(rules, req, &body).await,
        ("ce", "ListCostAllocationTags") => {
            let account = account_of_header(req);
            let st = rules.state();
            let keys: Vec<String> = body["TagKeys"]
                .as_array()
                .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let tags: Vec<Value> = keys
                .iter()
                .filter(|k| k.starts_with("ekstack:"))
                .map(|k| {
                    let status = st
                        .billing
                        .cost_tags
                        .get(&(account.clone(), k.clone()))
                        .cloned()
                        .unwrap_or_else(|| "Inactive".into());
                    json!({"TagKey": k, "Type": "UserDefined", "Status": status})
                })
                .collect();
            Before::Answer(Reply::aws_json(StatusCode::OK, &json!({ "CostAllocationTags": tags })))
        }
        ("ce", "UpdateCostAllocationTagsStatus") => {
            let account = account_of_header(req);
            let mut st = rules.state();
            for entry in body["CostAllocationTagsStatus"].as_array().into_iter().flatten() {
                if let (Some(k), Some(s)) = (entry["TagKey"].as_str(), entry["Status"].as_str()) {
                    st.billing
                        .cost_tags
                        .insert((account.clone(), k.to_string()), s.to_string());
                }
            }
            Before::Answer(Reply::aws_json(StatusCode::OK, &json!({ "Errors": [] })))
        }
        _ => Before::Forward(None),
    }
}

/// UpdateBudget: the budget's definition is replaced (moto lacks the call:
/// it is made a delete and a create, with the notifications kept).
async fn update_budget(rules: &Rules, req: &Req, body: &Value) -> Before {
    let account = body["AccountId"].as_str().unwrap_or_default().to_string();
    let name = body["NewBudget"]["BudgetName"].as_str().unwrap_or_default().to_string();
    let describe = as_operation(
        req,
        "DescribeBudget",
        &json!({"AccountId": account, "BudgetName": name}),
    );
    match rules.upstream(&describe).await {
        Ok((StatusCode::OK, _)) => {}
        _ => return not_found(&format!("Unable to update budget: {name} - the budget doesn't exist.")),
    }
    let notifications: Vec<Value> = {
        let st = rules.state();
        st.billing
            .subscribers
            .iter()
            .filter(|((a, b, _), _)| *a == account && *b == name)
            .map(|((_, _, n), subs)| {
                let n: Value = serde_json::from_str(n).unwrap_or(Value::Null);
                json!({"Notification": n, "Subscribers": subs})
            })
            .collect()
    };
    let delete = as_operation(req, "DeleteBudget", &json!({"AccountId": account, "BudgetName": name}));
    let create = as_operation(
        req,
        "CreateBudget",
        &json!({"AccountId": account, "Budget": body["NewBudget"], "NotificationsWithSubscribers": notifications}),
    );
    for step in [delete, create] {
        match rules.upstream(&step).await {
            Ok((StatusCode::OK, _)) => {}
            Ok((status, body)) => {
                return Before::Answer(Reply {
                    status,
                    ..Reply::aws_json(status, &serde_json::from_slice(&body).unwrap_or(Value::Null))
                })
            }
            Err(e) => {
                return Before::Answer(Reply::aws_json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"__type": "InternalErrorException", "Message": e}),
                ))
            }
        }
    }
    Before::Answer(Reply::aws_json(StatusCode::OK, &json!({})))
}

/// Records the subscribers moto was given, once it has taken them.
pub fn after(st: &mut State, req: &Req, status: StatusCode) {
    if status != StatusCode::OK || req.service != "budgets" {
        return;
    }
    let body = req.json();
    let account = body["AccountId"].as_str().unwrap_or_default().to_string();
    let name = body["BudgetName"]
        .as_str()
        .or_else(|| body["Budget"]["BudgetName"].as_str())
        .unwrap_or_default()
        .to_string();
    match target(req) {
        "CreateBudget" => {
            for n in body["NotificationsWithSubscribers"].as_array().into_iter().flatten() {
                let subs = n["Subscribers"].as_array().cloned().unwrap_or_default();
                st.subscribers
                    .insert((account.clone(), name.clone(), key_of(&n["Notification"])), subs);
            }
        }
        "CreateNotification" => {
            let subs = body["Subscribers"].as_array().cloned().unwrap_or_default();
            st.subscribers
                .insert((account, name, key_of(&body["Notification"])), subs);
        }
        "DeleteNotification" => {
            st.subscribers.remove(&(account, name, key_of(&body["Notification"])));
        }
        "DeleteBudget" => st.subscribers.retain(|(a, b, _), _| !(*a == account && *b == name)),
        _ => {}
    }
}

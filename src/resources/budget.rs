//! The stack's AWS Budget (`[stack] budget_usd_month`, `alert_email`): a
//! monthly cost budget named `ekstack-<stack>-<region>`, filtered on the
//! stack's `ekstack:stack` cost allocation tag and its region, with two
//! e-mail alarms: 80% of the budget forecast, and 100% actually spent
//! ("Creating a cost budget"; CreateBudget, `CostFilters` `TagKeyValue`
//! values `user:<key>$<value>`,
//! https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateBudget.html).
//!
//! A budget sees tagged costs only once the tag key is activated as a cost
//! allocation tag (Cost Explorer UpdateCostAllocationTagsStatus), which
//! works only from a management or standalone account, and only for a key
//! AWS has seen on a resource (it shows up to 24 hours after first use).
//! Activation is best effort: a failure is a note, and a later apply tries
//! again while the plan shows the tag inactive.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use aws_sdk_budgets::types::{
    Budget as SdkBudget, BudgetType, ComparisonOperator, Notification, NotificationType, NotificationWithSubscribers,
    Spend, Subscriber, SubscriptionType, ThresholdType, TimeUnit,
};
use aws_sdk_costexplorer::types::{CostAllocationTagStatus, CostAllocationTagStatusEntry};

use super::tags::TAG_STACK;
use super::{existing, gone_ok, Attribute, Changes, Desired, Discovery, Found, Inputs, New};
use super::{Kind, Resolve, ResourceKind, Step};
use crate::aws::errors::AwsResultExt;
use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Readiness};
use crate::plan::Value;

pub const ADDRESS: &str = "budget";

/// The budget's name: one per stack and region in the account.
pub fn budget_name(stack: &str, region: &str) -> String {
    format!("ekstack-{stack}-{region}")
}

/// The two alarms: (kind, percent of the budget).
const ALARMS: [(NotificationType, f64); 2] = [(NotificationType::Forecasted, 80.0), (NotificationType::Actual, 100.0)];

pub struct Budget;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub usd_month: f64,
    pub email: String,
    /// `CostFilters`: the stack's tag and its region.
    pub filters: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub usd_month: Option<f64>,
    pub filters: BTreeMap<String, Vec<String>>,
    /// Each alarm as "ACTUAL > 100% → address", sorted.
    pub alarms: Vec<String>,
    /// The `ekstack:stack` cost allocation tag: `Active`, `Inactive`, or
    /// `None` when Cost Explorer will not say (a member account).
    pub cost_tag: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Limit,
    Filters,
    Alarms,
    CostAllocationTag,
}

/// The alarms as the plan shows them, sorted as discovery sorts them.
fn alarm_lines(email: &str) -> Vec<String> {
    let mut lines: Vec<String> = ALARMS
        .iter()
        .map(|(kind, percent)| alarm_line(kind.as_str(), *percent, email))
        .collect();
    lines.sort();
    lines
}

fn alarm_line(kind: &str, percent: f64, email: &str) -> String {
    format!("{kind} > {percent}% → {email}")
}

fn filters(stack: &Stack) -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([
        (
            "TagKeyValue".to_string(),
            vec![format!("user:{TAG_STACK}${}", stack.meta.name)],
        ),
        ("Region".to_string(), vec![stack.meta.region.clone()]),
    ])
}

fn filters_value(f: &BTreeMap<String, Vec<String>>) -> Value {
    Value::Map(
        f.iter()
            .map(|(k, v)| (k.clone(), Value::List(v.iter().map(Value::from).collect())))
            .collect(),
    )
}

impl ResourceKind for Budget {
    const KIND: Kind = Kind::Budget;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(b) = &stack.meta.budget else { return vec![] };
        vec![New {
            address: ADDRESS.into(),
            // Budgets are found by name; they carry no tags here.
            tags: Default::default(),
            name: budget_name(&stack.meta.name, &stack.meta.region),
            spec: Spec {
                usd_month: b.usd_month,
                email: b.email.clone(),
                filters: filters(stack),
            },
            after: vec![],
        }]
    }

    fn references(_: &Spec) -> Vec<Address> {
        vec![]
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn Resolve) -> Vec<Attribute<Self>> {
        vec![
            Attribute::<Self>::new(Attr::Limit, "stack.budget_usd_month", d.spec.usd_month, |l| {
                Value::from(l.observed.usd_month)
            })
            .in_place("budgets:UpdateBudget"),
            Attribute::<Self>::new(Attr::Filters, "stack", filters_value(&d.spec.filters), |l| {
                filters_value(&l.observed.filters)
            })
            .in_place("budgets:UpdateBudget"),
            Attribute::<Self>::new(
                Attr::Alarms,
                "stack.alert_email",
                Value::List(alarm_lines(&d.spec.email).into_iter().map(Value::from).collect()),
                |l| Value::List(l.observed.alarms.iter().map(Value::from).collect()),
            )
            .in_place("budgets:CreateNotification"),
            Attribute::<Self>::reported(Attr::CostAllocationTag, "stack.budget_usd_month", "Active", |l| {
                l.observed.cost_tag.clone().map(Value::from)
            })
            .may_be_unreported(
                "Cost Explorer answers for cost allocation tags only in a management or standalone account",
            )
            .in_place("ce:UpdateCostAllocationTagsStatus")
            .note(crate::i18n::Msg::new("note.cost_tag")),
        ]
    }

    fn notes(_: &Desired<'_, Self>, live: Option<&Found<Self>>, _: &dyn Resolve) -> Vec<String> {
        let active = live.is_some_and(|l| l.observed.cost_tag.as_deref() == Some("Active"));
        if active {
            return vec![];
        }
        vec![format!(
            "the budget counts the costs tagged {TAG_STACK} = this stack, which appear in billing only from the tag's activation as a cost allocation tag on; until then it reports $0"
        )]
    }

    fn points_at(_: &Observed) -> Vec<String> {
        vec![]
    }

    #[allow(deprecated)] // `cost_filters`: see [`sdk_budget`].
    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let name = budget_name(cx.stack, cx.region);
        let (account, _) = super::caller(cx.aws).await?;
        let Some(found) = describe(cx.aws, &account, &name).await? else {
            return Ok(vec![]);
        };
        let (alarms, cost_tag) = tokio::try_join!(alarms(cx.aws, &account, &name), cost_tag(cx.aws))?;
        Ok(vec![Self::found(
            ADDRESS,
            &name,
            "active",
            Readiness::Ready,
            Observed {
                usd_month: found.budget_limit().and_then(|s| s.amount().parse::<f64>().ok()),
                filters: found
                    .cost_filters()
                    .map(|f| f.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                alarms,
                cost_tag,
            },
        )])
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, _: &Inputs) -> Result<Found<Self>> {
        let aws = step.aws();
        let (account, _) = super::caller(aws).await?;
        let mut call = aws
            .budgets
            .create_budget()
            .account_id(&account)
            .budget(sdk_budget(d.name, d.spec)?);
        for n in notifications(&d.spec.email)? {
            call = call.notifications_with_subscribers(n);
        }
        match call.send().await.aws_on("budgets:CreateBudget", d.name) {
            Ok(_) => {}
            // Made by an interrupted run: compared and changed in place.
            Err(e) if crate::aws::errors::has_code(&e, "DuplicateRecordException") => {
                let mut found = Self::discover(
                    &Discovery {
                        aws,
                        stack: &step.ctx.stack,
                        region: &aws.region,
                    },
                    None,
                )
                .await?
                .pop()
                .ok_or(e)?;
                found.origin = crate::live::Origin::Adopted;
                return Ok(found);
            }
            Err(e) => return Err(e),
        }
        let cost_tag = activate(step).await;
        Ok(Self::found(
            ADDRESS,
            d.name,
            "active",
            Readiness::Ready,
            Observed {
                usd_month: Some(d.spec.usd_month),
                filters: d.spec.filters.clone(),
                alarms: alarm_lines(&d.spec.email),
                cost_tag,
            },
        ))
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let aws = step.aws();
        let (account, _) = super::caller(aws).await?;
        let mut live = current.clone();
        if changes.any(&[Attr::Limit, Attr::Filters]) {
            aws.budgets
                .update_budget()
                .account_id(&account)
                .new_budget(sdk_budget(d.name, d.spec)?)
                .send()
                .await
                .aws_on("budgets:UpdateBudget", d.name)?;
            live.observed.usd_month = Some(d.spec.usd_month);
            live.observed.filters = d.spec.filters.clone();
        }
        if changes.has(Attr::Alarms) {
            replace_alarms(aws, &account, d.name, &d.spec.email).await?;
            live.observed.alarms = alarm_lines(&d.spec.email);
        }
        if changes.has(Attr::CostAllocationTag) {
            live.observed.cost_tag = activate(step).await;
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let aws = step.aws();
        let (account, _) = super::caller(aws).await?;
        gone_ok(
            aws.budgets
                .delete_budget()
                .account_id(&account)
                .budget_name(&live.id)
                .send()
                .await
                .aws_on("budgets:DeleteBudget", &live.id),
        )
    }
}

// `CostFilters` is deprecated for `FilterExpression`, which reads newer
// dimensions; the tag filter here is the documented `TagKeyValue` form,
// which AWS still honours, and what the emulator reads back.
#[allow(deprecated)]
fn sdk_budget(name: &str, spec: &Spec) -> Result<SdkBudget> {
    let limit = Spend::builder()
        .amount(format!("{:.2}", spec.usd_month))
        .unit("USD")
        .build()
        .map_err(|e| anyhow!("budget limit: {e}"))?;
    SdkBudget::builder()
        .budget_name(name)
        .budget_type(BudgetType::Cost)
        .time_unit(TimeUnit::Monthly)
        .budget_limit(limit)
        .set_cost_filters(Some(spec.filters.clone().into_iter().collect()))
        .build()
        .map_err(|e| anyhow!("budget {name}: {e}"))
}

fn notification(kind: NotificationType, percent: f64) -> Result<Notification> {
    Notification::builder()
        .notification_type(kind)
        .comparison_operator(ComparisonOperator::GreaterThan)
        .threshold(percent)
        .threshold_type(ThresholdType::Percentage)
        .build()
        .map_err(|e| anyhow!("budget notification: {e}"))
}

fn subscriber(email: &str) -> Result<Subscriber> {
    Subscriber::builder()
        .subscription_type(SubscriptionType::Email)
        .address(email)
        .build()
        .map_err(|e| anyhow!("budget subscriber: {e}"))
}

fn notifications(email: &str) -> Result<Vec<NotificationWithSubscribers>> {
    ALARMS
        .iter()
        .map(|(kind, percent)| {
            NotificationWithSubscribers::builder()
                .notification(notification(kind.clone(), *percent)?)
                .subscribers(subscriber(email)?)
                .build()
                .map_err(|e| anyhow!("budget notification: {e}"))
        })
        .collect()
}

async fn describe(aws: &Aws, account: &str, name: &str) -> Result<Option<SdkBudget>> {
    let out = existing(
        aws.budgets
            .describe_budget()
            .account_id(account)
            .budget_name(name)
            .send()
            .await
            .aws_on("budgets:DescribeBudget", name),
    )?;
    Ok(out.and_then(|o| o.budget))
}

/// The budget's notifications (AWS allows five a budget: one page).
async fn budget_notifications(aws: &Aws, account: &str, name: &str) -> Result<Vec<Notification>> {
    let out = aws
        .budgets
        .describe_notifications_for_budget()
        .account_id(account)
        .budget_name(name)
        .send()
        .await
        .aws_on("budgets:DescribeNotificationsForBudget", name)?;
    Ok(out.notifications().to_vec())
}

/// The budget's notifications with their subscribers, as alarm lines.
async fn alarms(aws: &Aws, account: &str, name: &str) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for n in &budget_notifications(aws, account, name).await? {
        let subs = aws
            .budgets
            .describe_subscribers_for_notification()
            .account_id(account)
            .budget_name(name)
            .notification(n.clone())
            .send()
            .await
            .aws_on("budgets:DescribeSubscribersForNotification", name)?;
        let mut operator = n.comparison_operator().as_str();
        if operator == "GREATER_THAN" {
            operator = ">";
        }
        for s in subs.subscribers() {
            let line = alarm_line(n.notification_type().as_str(), n.threshold(), s.address());
            lines.push(if operator == ">" {
                line
            } else {
                format!("{line} ({operator})")
            });
        }
        if subs.subscribers().is_empty() {
            lines.push(alarm_line(n.notification_type().as_str(), n.threshold(), "nobody"));
        }
    }
    lines.sort();
    Ok(lines)
}

/// Deletes the budget's notifications and makes ekstack's two, each with
/// the address as its one subscriber.
async fn replace_alarms(aws: &Aws, account: &str, name: &str, email: &str) -> Result<()> {
    for n in budget_notifications(aws, account, name).await? {
        gone_ok(
            aws.budgets
                .delete_notification()
                .account_id(account)
                .budget_name(name)
                .notification(n)
                .send()
                .await
                .aws_on("budgets:DeleteNotification", name),
        )?;
    }
    for (kind, percent) in ALARMS.iter() {
        aws.budgets
            .create_notification()
            .account_id(account)
            .budget_name(name)
            .notification(notification(kind.clone(), *percent)?)
            .subscribers(subscriber(email)?)
            .send()
            .await
            .aws_on("budgets:CreateNotification", name)?;
    }
    Ok(())
}

/// The `ekstack:stack` cost allocation tag's status, `None` when Cost
/// Explorer will not say (a member account, or no permission): a plan
/// reads on regardless.
async fn cost_tag(aws: &Aws) -> Result<Option<String>> {
    let out = aws
        .costs
        .list_cost_allocation_tags()
        .tag_keys(TAG_STACK)
        .send()
        .await
        .aws("ce:ListCostAllocationTags");
    match out {
        Ok(o) => Ok(Some(
            o.cost_allocation_tags()
                .iter()
                .find(|t| t.tag_key() == TAG_STACK)
                .map(|t| t.status().as_str().to_string())
                // Not seen on a resource yet: not active.
                .unwrap_or_else(|| "Inactive".into()),
        )),
        Err(_) => Ok(None),
    }
}

/// Activates the `ekstack:stack` cost allocation tag, best effort: a
/// refusal becomes a note and the status stays as it was, for a later
/// apply to try again.
async fn activate(step: &Step<'_>) -> Option<String> {
    let entry = CostAllocationTagStatusEntry::builder()
        .tag_key(TAG_STACK)
        .status(CostAllocationTagStatus::Active)
        .build()
        .ok()?;
    let out = step
        .aws()
        .costs
        .update_cost_allocation_tags_status()
        .cost_allocation_tags_status(entry)
        .send()
        .await
        .aws("ce:UpdateCostAllocationTagsStatus");
    let refused = match out {
        Ok(o) => o
            .errors()
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.code().unwrap_or("refused"),
                    e.message().unwrap_or("no reason given")
                )
            })
            .next(),
        Err(e) => Some(e.to_string()),
    };
    match refused {
        None => Some("Active".into()),
        Some(why) => {
            step.ctx.note(super::Note::Info {
                text: format!(
                    "the {TAG_STACK} cost allocation tag is not active ({why}): the budget reports $0 until it is; the next apply tries again, or activate it in Billing → Cost allocation tags from the management account"
                ),
            });
            None
        }
    }
}

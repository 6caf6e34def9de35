//! `[stack] budget_usd_month` and `alert_email`: an AWS Budget of the
//! stack's tagged costs, with alarms at 80% forecast and 100% spent, the
//! `ekstack:stack` cost allocation tag activated best effort, changed in
//! place and deleted with the stack.

use crate::support::*;

/// A moto account of this run alone: the cost allocation tag's status is
/// the account's.
fn fresh_account() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "27{:010}",
        (nanos / 1000 + u128::from(std::process::id())) % 10_000_000_000
    )
}

fn with_budget(usd: &str, email: &str) -> String {
    format!(
        "[stack]\nname = \"x\"\nregion = \"us-west-2\"\nbudget_usd_month = {usd}\nalert_email = \"{email}\"\n\n[network]\nazs = 2\nnat = \"none\"\n"
    )
}

fn budget(aws: &Independent, account: &str, name: &str) -> Option<aws_sdk_budgets::types::Budget> {
    aws.block_on(
        aws.budgets
            .describe_budget()
            .account_id(account)
            .budget_name(name)
            .send(),
    )
    .ok()
    .and_then(|o| o.budget)
}

#[test]
#[allow(deprecated)] // `cost_filters`: the filter ekstack writes.
fn a_budget_alarms_on_the_stacks_tagged_costs_and_goes_with_the_stack() {
    require_emulator();
    let account = fresh_account();
    let t = Scenario::new(&with_budget("50", "team@example.com"), "bdg").in_account(&account);
    let (stack, region) = (t.p.name.clone(), "us-west-2");
    let name = format!("ekstack-{stack}-{region}");
    let aws = t.aws(region);

    // A member account: Cost Explorer refuses both calls. The budget is
    // made; the tag's activation is a note, not an error.
    t.proxy.set_faults(crate::proxy::Faults {
        moto_account: Some(account.clone()),
        access_denied: vec!["UpdateCostAllocationTagsStatus".into(), "ListCostAllocationTags".into()],
        ..Default::default()
    });
    let (_, plan, _) = t.run(&["plan"]);
    assert!(plan.contains(&name), "{plan}");
    assert!(
        plan.contains("appear in billing only from the tag's activation"),
        "{plan}"
    );
    let out = t.ok(&["apply", "--yes"]);
    assert!(out.contains("cost allocation tag is not active"), "{out}");
    let b = budget(&aws, &account, &name).expect("the budget is made");
    assert_eq!(b.budget_limit().unwrap().amount(), "50.00");
    assert_eq!(b.budget_limit().unwrap().unit(), "USD");
    assert_eq!(b.time_unit().as_str(), "MONTHLY");
    assert_eq!(b.budget_type().as_str(), "COST");
    let filters = b.cost_filters().unwrap();
    assert_eq!(filters["TagKeyValue"], vec![format!("user:ekstack:stack${stack}")]);
    assert_eq!(filters["Region"], vec![region.to_string()]);
    let notes = aws
        .block_on(
            aws.budgets
                .describe_notifications_for_budget()
                .account_id(&account)
                .budget_name(&name)
                .send(),
        )
        .unwrap();
    let mut alarms: Vec<(String, f64, String)> = notes
        .notifications()
        .iter()
        .map(|n| {
            (
                n.notification_type().as_str().to_string(),
                n.threshold(),
                n.threshold_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
            )
        })
        .collect();
    alarms.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        alarms,
        [
            ("ACTUAL".to_string(), 100.0, "PERCENTAGE".to_string()),
            ("FORECASTED".to_string(), 80.0, "PERCENTAGE".to_string())
        ]
    );
    for n in notes.notifications() {
        let subs = aws
            .block_on(
                aws.budgets
                    .describe_subscribers_for_notification()
                    .account_id(&account)
                    .budget_name(&name)
                    .notification(n.clone())
                    .send(),
            )
            .unwrap();
        let to: Vec<(&str, &str)> = subs
            .subscribers()
            .iter()
            .map(|s| (s.subscription_type().as_str(), s.address()))
            .collect();
        assert_eq!(to, [("EMAIL", "team@example.com")]);
    }
    // Unreadable, the tag's status is not a change: the plan converges.
    t.converged_plain();

    // The management account: the next apply activates it.
    t.proxy.set_faults(crate::proxy::Faults {
        moto_account: Some(account.clone()),
        ..Default::default()
    });
    let (code, plan, err) = t.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{plan}{err}");
    assert!(plan.contains("ce:UpdateCostAllocationTagsStatus"), "{plan}");
    t.ok(&["apply", "--yes"]);
    assert!(t.proxy.actions().iter().any(|a| a == "UpdateCostAllocationTagsStatus"));
    t.converged_plain();

    // A new amount and address change the budget in place.
    t.p.write_stack(&with_budget("75.5", "ops@example.com"));
    let (code, plan, err) = t.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{plan}{err}");
    assert!(
        plan.contains("budgets:UpdateBudget") && plan.contains("ops@example.com"),
        "{plan}"
    );
    t.ok(&["apply", "--yes"]);
    let b = budget(&aws, &account, &name).unwrap();
    assert_eq!(b.budget_limit().unwrap().amount(), "75.50");
    t.converged_plain();

    t.ok(&["destroy", "--yes"]);
    assert!(
        budget(&aws, &account, &name).is_none(),
        "the budget goes with the stack"
    );
}

#[test]
fn bad_budgets_are_refused_before_any_aws_call() {
    for (usd, email, key, rule) in [
        ("0", "a@example.com", "stack.budget_usd_month", "must be above 0"),
        ("-5", "a@example.com", "stack.budget_usd_month", "must be above 0"),
        ("50", "not-an-email", "stack.alert_email", "is not an e-mail address"),
        ("50", "a@b", "stack.alert_email", "is not an e-mail address"),
        ("50", "a b@example.com", "stack.alert_email", "is not an e-mail address"),
    ] {
        let p = Project::with_text(&with_budget(usd, email), "bdx");
        let (code, out, err) = p.run(&["validate"]);
        assert_eq!(code, 1, "{usd} {email}: {out}{err}");
        assert!(err.contains(key) && err.contains(rule), "{usd} {email}: {err}");
        assert!(err.contains("stack.toml:"), "names the file and line: {err}");
    }
    let p = Project::with_text(
        "[stack]\nname = \"x\"\nregion = \"us-west-2\"\nbudget_usd_month = 50\n\n[network]\nazs = 2\n",
        "bdx",
    );
    let (code, _, err) = p.run(&["validate"]);
    assert_eq!(code, 1);
    assert!(err.contains("needs `alert_email`"), "{err}");
}

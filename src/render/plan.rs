//! The plan as terraform-style text and as JSON.

use std::fmt::Write as _;

use super::Style;
use crate::i18n::Msg;
use crate::plan::{Action, Plan, ResourceAction, Value};

/// The JSON form of DESIGN §4: actions that do something, and the summary.
/// A no-op stays when it has something to say (a state waited out, a change
/// that cannot be made, a note), as the human plan shows it too.
pub fn json(plan: &Plan) -> serde_json::Result<serde_json::Value> {
    let mut v = serde_json::to_value(plan)?;
    if let Some(actions) = v.get_mut("actions").and_then(|a| a.as_array_mut()) {
        actions.retain(|a| {
            a.get("action").and_then(|x| x.as_str()) != Some("no-op")
                || ["pending", "impossible", "notes"].iter().any(|k| a.get(k).is_some())
        });
    }
    Ok(v)
}

/// Prints the plan: text on stdout, or JSON with `--json`.
pub fn print(plan: &Plan, as_json: bool, style: Style) -> anyhow::Result<()> {
    if as_json {
        super::json(&json(plan)?)
    } else {
        super::stdout(&human(plan, style))?;
        Ok(())
    }
}

fn value(v: &Value) -> String {
    v.to_string()
}

fn header(a: &ResourceAction, style: Style) -> String {
    let what = match a.action {
        Action::Create => Msg::new("plan.will.create"),
        Action::Update => Msg::new("plan.will.update"),
        Action::Replace => match a.replace_order {
            Some(crate::plan::ReplaceOrder::CreateBeforeDestroy) => Msg::new("plan.will.replace_new_first"),
            _ => Msg::new("plan.will.replace"),
        },
        Action::Delete => Msg::new("plan.will.delete"),
        Action::NoOp => match &a.pending {
            Some(state) => Msg::new("plan.will.wait").arg("state", state),
            None if !a.impossible.is_empty() => Msg::new("plan.will.stay"),
            None => Msg::new("plan.will.nothing"),
        },
    };
    style.text(
        &Msg::new("plan.header")
            .arg("address", &a.address)
            .arg("kind", a.kind)
            .arg_msg("what", what),
    )
}

/// Terraform-style text: symbols, per-attribute before → after, what forces a
/// replacement, a red warning on anything that loses data, a summary line.
pub fn human(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    let env = plan
        .env
        .as_deref()
        .map(|e| style.text(&Msg::new("plan.env").arg("env", e)))
        .unwrap_or_default();
    let stack = |key: &'static str| {
        Msg::new(key)
            .arg("stack", &plan.stack)
            .arg("env", &env)
            .arg("region", &plan.region)
    };
    if plan.sleeping {
        let _ = writeln!(out, "{}", style.yellow(&style.tr("plan.asleep")));
        if let Some(asleep) = &plan.sleep {
            out.push_str(&super::status::sleep_lines(
                &asleep.mark,
                asleep.database_restarted,
                style,
            ));
        }
        out.push('\n');
    }
    let shown: Vec<&ResourceAction> = plan
        .actions
        .iter()
        .filter(|a| a.action != Action::NoOp || a.pending.is_some())
        .collect();
    if shown.is_empty() {
        let _ = writeln!(out, "{}", style.green(&style.tr("plan.no_changes")));
        let _ = writeln!(
            out,
            "{}",
            style.text(&stack("plan.matches").arg("count", plan.summary.no_op))
        );
    } else {
        let _ = writeln!(out, "{}\n", style.text(&stack("plan.actions")));
        for a in shown {
            write_action(&mut out, a, style);
        }
    }
    // Differences AWS cannot make, on resources that otherwise stay as they are.
    let stuck: Vec<&ResourceAction> = plan
        .actions
        .iter()
        .filter(|a| a.action == Action::NoOp && a.pending.is_none() && !a.impossible.is_empty())
        .collect();
    if !stuck.is_empty() {
        let _ = writeln!(out, "\n{}\n", style.tr("plan.stuck"));
        for a in stuck {
            write_action(&mut out, a, style);
        }
    }
    // What a reviewer should know about resources that otherwise stay as they are.
    let noted: Vec<&ResourceAction> = plan
        .actions
        .iter()
        .filter(|a| a.action == Action::NoOp && a.pending.is_none() && a.impossible.is_empty() && !a.notes.is_empty())
        .collect();
    for a in noted {
        for n in &a.notes {
            let _ = writeln!(out, "{} {}: {n}", style.dim(&style.tr("plan.note")), a.address);
        }
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "{} {w}", style.yellow(&style.tr("plan.warning")));
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
    if !plan.quota_shortfalls.is_empty() {
        let _ = writeln!(
            out,
            "{} {}",
            style.red_bold(&style.tr("plan.error")),
            style.tr("plan.quotas")
        );
        for q in &plan.quota_shortfalls {
            let _ = writeln!(
                out,
                "  {} in {}: {} allowed, {} in use, the plan adds {}\n      {}",
                q.quota, q.scope, q.limit, q.in_use, q.adding, q.way_out
            );
        }
        out.push('\n');
    }
    if let Some(c) = &plan.cost {
        let delta = c.delta_monthly_usd;
        let sign = if delta >= 0.0 { "+" } else { "-" };
        let unknown = if c.complete {
            String::new()
        } else {
            style.text(&Msg::new("plan.cost_unknown").arg("items", c.unknown.join(", ")))
        };
        let line = Msg::new("plan.cost")
            .arg("monthly", format!("{:.2}", c.monthly_usd))
            .arg("hourly", format!("{:.3}", c.hourly_usd))
            .arg("current", format!("{:.2}", c.current_monthly_usd))
            .arg("delta", format!("{sign}${:.2}", delta.abs()));
        let _ = writeln!(
            out,
            "{} {}{unknown}",
            style.bold(&style.tr("plan.cost_label")),
            style.text(&line)
        );
        // What the figure rests on that the plan cannot know (how many
        // instances Auto Mode starts, storage not yet used) is said.
        for line in &c.lines {
            let assumed = line
                .note
                .iter()
                .flat_map(|n| n.split("; "))
                .filter(|n| n.starts_with("assumed"));
            for note in assumed {
                let _ = writeln!(out, "  {}: {note}", line.description);
            }
        }
    }
    let s = &plan.summary;
    if s.create + s.update + s.replace + s.delete > 0 {
        let counts = Msg::new("plan.summary")
            .arg("create", s.create)
            .arg("update", s.update)
            .arg("replace", s.replace)
            .arg("delete", s.delete);
        let _ = writeln!(
            out,
            "{} {}",
            style.bold(&style.tr("plan.summary_label")),
            style.text(&counts)
        );
    }
    out
}

fn write_action(out: &mut String, a: &ResourceAction, style: Style) {
    let padded = format!("{:>3}", a.action.symbol());
    let symbol = match a.action {
        Action::Create => style.green(&padded),
        Action::Update => style.yellow(&padded),
        Action::Replace | Action::Delete => style.red(&padded),
        Action::NoOp => "  ⋯".into(),
    };
    let _ = writeln!(out, "  {}", style.dim(&header(a, style)));
    let id = a.id.as_deref().map(|i| format!(" [{i}]")).unwrap_or_default();
    let _ = writeln!(out, "{symbol} {} \"{}\"{id}", a.address, a.name);
    for c in &a.changes {
        match a.action {
            Action::Create => {
                if c.attribute != "tags" {
                    let _ = writeln!(out, "        {} = {}", c.attribute, value(&c.after));
                }
            }
            _ => {
                let forces = if c.forces_replacement {
                    style.red(&format!(" # {}", style.tr("plan.forces_replacement")))
                } else {
                    String::new()
                };
                let via = c
                    .via
                    .as_deref()
                    .map(|v| style.dim(&format!("  ({v})")))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "      ~ {}: {} → {}{forces}{via}",
                    c.path,
                    value(&c.before),
                    value(&c.after)
                );
                if let Some(note) = &c.note {
                    let _ = writeln!(out, "          {}", style.dim(&style.text(note)));
                }
            }
        }
    }
    for r in &a.reasons {
        let _ = writeln!(out, "        {}", style.dim(&format!("({r})")));
    }
    for n in &a.notes {
        let _ = writeln!(
            out,
            "        {}",
            style.dim(&format!("{} {n}", style.tr("plan.note_inline")))
        );
    }
    for i in &a.impossible {
        let line = Msg::new("plan.cannot_apply")
            .arg("path", &i.path)
            .arg("before", value(&i.before))
            .arg("after", value(&i.after))
            .arg_msg("reason", i.reason.clone());
        let _ = writeln!(out, "      {} {}", style.yellow("!"), style.text(&line));
    }
    if let Some(loss) = &a.data_loss {
        let _ = writeln!(
            out,
            "      {}",
            style.red_bold(&style.text(&Msg::new("plan.data_loss").arg_msg("loss", loss.clone())))
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{load, Overlay};
    use crate::live::{LiveState, Readiness};

    fn stack(env: &str) -> crate::config::Stack {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/learning.toml");
        let mut s = load(&path, &Overlay::Env(env.into()), None).unwrap().stack;
        s.meta.name = "snap".into();
        s
    }

    fn plan(env: &str, live: LiveState) -> Plan {
        let s = stack(env);
        let planned = crate::ops::plan::plan_against(&s, crate::graph::build(&s).unwrap(), live, false).unwrap();
        crate::ops::plan::with_cost(planned, &s, &crate::cost::PriceTable::builtin()).plan
    }

    /// A live database as mvp left it, and a NAT gateway the file no longer has.
    fn drifted() -> LiveState {
        use crate::resources::{db_instance, nat_gateway, ResourceKind};
        let tags = stack("mvp").meta.tags;
        let db = db_instance::DbInstance::found(
            "db-instance",
            "snap-db",
            "available",
            Readiness::Ready,
            db_instance::Observed {
                engine: "postgres".into(),
                version: "16.4".into(),
                class: "db.t4g.micro".into(),
                storage_gib: 50,
                multi_az: false,
                backup_retention_days: 7,
                deletion_protection: false,
                performance_insights: None,
                auto_minor_version_upgrade: true,
                username: "app".into(),
                db_name: "app".into(),
                publicly_accessible: false,
                running: true,
                endpoint: None,
                port: None,
                secret_arn: Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1".into()),
                az: None,
                subnet_group: Some("snap-db".into()),
                security_groups: vec![],
                replicas: vec![],
                parameter_group: Some("default.postgres16".into()),
                pending_reboot: false,
            },
        )
        .with_tags(tags);
        let nat = nat_gateway::NatGateway::found(
            "nat-gateway.ap-northeast-1d",
            "nat-0123",
            "available",
            Readiness::Ready,
            nat_gateway::Observed {
                subnet_id: "subnet-1d".into(),
                allocation_id: "eipalloc-1d".into(),
                failure: None,
            },
        );
        LiveState {
            resources: vec![db.erase(), nat.erase()],
        }
    }

    #[test]
    fn human_plan_on_an_empty_account() {
        insta::assert_snapshot!(human(&plan("mvp", LiveState::default()), Style::plain()));
    }

    #[test]
    fn human_plan_of_a_promotion_with_data_loss_and_impossible_changes() {
        insta::assert_snapshot!(human(&plan("prod", drifted()), Style::plain()));
    }

    #[test]
    fn json_plan_of_a_promotion() {
        insta::assert_json_snapshot!(json(&plan("prod", drifted())).unwrap());
    }
}

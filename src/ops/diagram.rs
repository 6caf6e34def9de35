//! `ekstack diagram`: the stack, as the file says or as a plan would change it.
//!
//! Without a plan this makes no AWS call: the picture is the desired graph.
//! A live plan colours the graph it was made against (placed in the AZs
//! the account sees); a saved plan (`ekstack plan STACK -o FILE`) colours
//! by its actions, once it is known to be a plan of this stack.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::aws::Target;
use crate::config::Stack;
use crate::cost::PriceTable;
use crate::diagram::{Diagram, PlannedAction};
use crate::plan::Action;
use crate::resources::Kind;

/// Where the actions that colour the picture come from.
pub enum Colouring<'a> {
    /// None: the stack as the file says.
    File,
    /// A plan made now, against live AWS state.
    LivePlan { target: &'a Target, prices: &'a PriceTable },
    /// A plan saved by `ekstack plan STACK -o FILE`.
    SavedPlan(PathBuf),
}

/// The picture of `stack`, coloured as `colouring` says.
pub async fn diagram(stack: &Stack, colouring: Colouring<'_>) -> Result<Diagram> {
    match colouring {
        Colouring::File => {
            let graph = crate::graph::build(stack)?;
            Ok(crate::diagram::build(stack, &graph, None))
        }
        Colouring::LivePlan { target, prices } => {
            let planned = super::plan::plan(target, stack, prices).await?;
            let actions: Vec<PlannedAction> = planned
                .plan
                .actions
                .iter()
                .map(|a| PlannedAction::new(a.address.clone(), a.kind, a.action))
                .collect();
            Ok(crate::diagram::build(stack, &planned.graph, Some(&actions)))
        }
        Colouring::SavedPlan(path) => {
            let actions = saved_actions(stack, &path)?;
            let placed = placed_as_planned(stack, &actions);
            let graph = crate::graph::build(&placed)?;
            Ok(crate::diagram::build(&placed, &graph, Some(&actions)))
        }
    }
}

/// The actions of the saved plan at `path`, refused unless it is a plan
/// of this stack (and environment).
pub fn saved_actions(stack: &Stack, path: &Path) -> Result<Vec<PlannedAction>> {
    if !path.exists() {
        bail!("--plan-file {}: no such file", path.display());
    }
    let Some(saved) = super::saved::read(path)? else {
        bail!(
            "--plan-file {} is not a saved plan: make one with `ekstack plan STACK -o plan.json`",
            path.display()
        );
    };
    let name = &stack.meta.name;
    if saved.stack != *name {
        bail!(
            "--plan-file {} is a plan of stack \"{}\", not of \"{name}\": draw it with that stack's file, or make a plan of this one with `ekstack plan STACK -o FILE`",
            path.display(),
            saved.stack
        );
    }
    if saved.region != stack.meta.region {
        bail!(
            "--plan-file {} is a plan of {name} in {}, not in {}",
            path.display(),
            saved.region,
            stack.meta.region
        );
    }
    // The same stack name under another environment is a promotion: its
    // plan is of other settings.
    let env = saved.plan.get("env").and_then(|e| e.as_str());
    if env != stack.meta.env.as_deref() {
        let shown = |e: Option<&str>| e.map_or("no environment".to_string(), |e| format!("--env {e}"));
        bail!(
            "--plan-file {} is a plan of {name} with {}, and this diagram is of {name} with {}: give the same environment",
            path.display(),
            shown(env),
            shown(stack.meta.env.as_deref())
        );
    }
    let Some(actions) = saved.plan.get("actions").and_then(|a| a.as_array()) else {
        bail!(
            "--plan-file {} holds no actions: it is not a valid saved plan",
            path.display()
        );
    };
    actions
        .iter()
        .map(|a| {
            let field = |key: &str| {
                a.get(key)
                    .and_then(|v| v.as_str())
                    .with_context(|| format!("--plan-file {}: an action without its {key}", path.display()))
            };
            let address = field("address")?;
            let kind: Kind = serde_json::from_value(serde_json::Value::String(field("kind")?.to_string()))
                .with_context(|| format!("--plan-file {}: {address} has an unknown kind", path.display()))?;
            let action = match field("action")? {
                "create" => Action::Create,
                "update" => Action::Update,
                "replace" => Action::Replace,
                "delete" => Action::Delete,
                "no-op" => Action::NoOp,
                other => bail!(
                    "--plan-file {}: {address} has an unknown action \"{other}\"",
                    path.display()
                ),
            };
            Ok(PlannedAction::new(address, kind, action))
        })
        .collect()
}

/// The stack in the AZs its plan placed it in. A file that asks for a
/// number of AZs gets them from the account at plan time; the plan's
/// subnet addresses say which, so the picture's columns are those.
fn placed_as_planned(stack: &Stack, actions: &[PlannedAction]) -> Stack {
    let mut placed = stack.clone();
    if placed.network.az_count.is_none() || placed.network.given.is_some() {
        return placed;
    }
    let mut azs: Vec<String> = Vec::new();
    for a in actions
        .iter()
        .filter(|a| a.kind == Kind::Subnet && a.action != Action::Delete)
    {
        if let Some(az) = a.address.strip_prefix("subnet.public.") {
            if !azs.iter().any(|z| z == az) {
                azs.push(az.to_string());
            }
        }
    }
    // Unchanged subnets are left out of a saved plan: keep the file's AZs
    // unless the plan names a full set of others.
    if azs.len() == placed.network.azs.len() {
        placed.network.azs = azs;
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_plan_with_creates_names_the_azs() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/learning.toml");
        let stack = crate::config::load(&path, &crate::config::Overlay::Env("mvp".into()), None)
            .unwrap()
            .stack;
        let actions = [
            PlannedAction::new("subnet.public.ap-northeast-1a", Kind::Subnet, Action::Create),
            PlannedAction::new("subnet.public.ap-northeast-1d", Kind::Subnet, Action::Create),
            PlannedAction::new("vpc", Kind::Vpc, Action::Create),
        ];
        assert_eq!(
            placed_as_planned(&stack, &actions).network.azs,
            ["ap-northeast-1a", "ap-northeast-1d"]
        );
        // An incomplete set (unchanged subnets are not listed) keeps the file's.
        assert_eq!(
            placed_as_planned(&stack, &actions[1..]).network.azs,
            ["ap-northeast-1a", "ap-northeast-1c"]
        );
    }
}

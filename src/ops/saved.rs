//! Saved plans: `plan -o plan.json` writes the plan with what it was made
//! from (the stack files' digests, a fingerprint of the resolved stack and
//! of every discovered resource's observed value, and the flags that decide
//! which actions run); `apply plan.json` applies it only if all of that is
//! still so, which makes it exactly the reviewed plan, and single-use: once
//! applied, live state differs. The file holds the plan JSON, which never
//! carries a secret (the database password is managed by RDS).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::apply::{check_safety, execute, Applied, ApplyOptions};
use super::plan::{make_plan, with_cost};
use super::{Frontend, Prompt};
use crate::aws::Target;
use crate::config::Stack;
use crate::cost::PriceTable;
use crate::live::LiveState;
use crate::plan::Plan;

/// The saved plan format this ekstack writes and reads.
pub const FORMAT: u32 = 1;

/// Flags given at plan time that decide which actions run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    pub allow_data_loss: bool,
    pub reboot: bool,
    pub finish_migration: bool,
    /// Plans saved before `--delete-images` existed read as without it.
    #[serde(default)]
    pub delete_images: bool,
    #[serde(default)]
    pub tag_subnets: bool,
}

/// A plan file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    /// The format version (`FORMAT`).
    pub ekstack_saved_plan: u32,
    pub stack: String,
    pub region: String,
    pub stack_file: PathBuf,
    /// `--env NAME`, if one was given.
    pub env: Option<String>,
    /// `--env-file PATH`, if one was given.
    pub env_file: Option<PathBuf>,
    /// SHA-256 of each file the stack was read from, by path.
    pub files: BTreeMap<String, String>,
    pub flags: Flags,
    /// SHA-256 of the resolved stack and every discovered resource.
    pub fingerprint: String,
    /// SHA-256 of the actions: address, id, action and each change.
    pub actions: String,
    /// The plan as `plan --json` prints it, for review.
    pub plan: serde_json::Value,
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a plan was made from: the resolved stack and each discovered
/// resource (its id, state, tags and typed observed value).
pub fn fingerprint(stack: &Stack, live: &LiveState) -> Result<String> {
    let mut text = crate::config::render_toml(stack)?;
    let mut records: Vec<String> = live
        .resources
        .iter()
        .map(|l| {
            format!(
                "{} {} {} {} {:?} {:?} {:?} {}",
                l.kind,
                l.address,
                l.id,
                l.state,
                l.readiness,
                l.origin,
                l.tags,
                l.kind.ops().observed_text(l)
            )
        })
        .collect();
    records.sort();
    for r in records {
        text.push('\n');
        text.push_str(&r);
    }
    Ok(sha256(text.as_bytes()))
}

/// The actions a plan would run, as a digest.
pub fn actions_digest(plan: &Plan) -> String {
    let text: Vec<String> = plan
        .actions
        .iter()
        .map(|a| {
            let changes: Vec<String> = a.changes.iter().map(|c| format!("{}={}", c.path, c.after)).collect();
            format!("{} {:?} {:?} {}", a.address, a.id, a.action, changes.join(","))
        })
        .collect();
    sha256(text.join("\n").as_bytes())
}

/// Digests of the files a stack was read from.
pub fn file_digests(paths: &[&Path]) -> Result<BTreeMap<String, String>> {
    paths
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Ok((p.display().to_string(), sha256(&bytes)))
        })
        .collect()
}

/// A saved plan read back, or `None` when `path` is not one (a stack file).
pub fn read(path: &Path) -> Result<Option<SavedPlan>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(None);
    };
    let Some(format) = value.get("ekstack_saved_plan") else {
        return Ok(None);
    };
    if format.as_u64() != Some(u64::from(FORMAT)) {
        bail!(
            "{} is a saved plan of format {format}; this ekstack reads format {FORMAT}: make a new one with `ekstack plan STACK -o {}`",
            path.display(),
            path.display()
        );
    }
    let saved: SavedPlan =
        serde_json::from_value(value).with_context(|| format!("{} is not a valid saved plan", path.display()))?;
    Ok(Some(saved))
}

/// The plan file for `planned`, made from `stack` read from `files`.
pub fn save(
    stack: &Stack,
    planned: &super::plan::Planned,
    flags: Flags,
    stack_file: &Path,
    env_file: Option<&Path>,
    overlay: (Option<String>, Option<PathBuf>),
) -> Result<SavedPlan> {
    // Absolute, so the plan applies from any directory.
    let absolute = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let stack_file = absolute(stack_file);
    let env_file = env_file.map(absolute);
    let mut paths = vec![stack_file.as_path()];
    paths.extend(env_file.as_deref());
    Ok(SavedPlan {
        ekstack_saved_plan: FORMAT,
        stack: stack.meta.name.clone(),
        region: stack.meta.region.clone(),
        stack_file: stack_file.clone(),
        env: overlay.0,
        env_file: overlay.1.map(|f| absolute(&f)),
        files: file_digests(&paths)?,
        flags,
        fingerprint: fingerprint(stack, &planned.live)?,
        actions: actions_digest(&planned.plan),
        plan: crate::render::plan::json(&planned.plan)?,
    })
}

/// Refuses a saved plan whose files changed, or whose files now name
/// another stack or region.
pub fn check_files(saved: &SavedPlan, stack: &Stack) -> Result<()> {
    if stack.meta.name != saved.stack || stack.meta.region != saved.region {
        bail!(
            "the saved plan is for stack {} in {}, but its files now say stack {} in {}; make a new plan",
            saved.stack,
            saved.region,
            stack.meta.name,
            stack.meta.region
        );
    }
    for (path, digest) in &saved.files {
        let now = file_digests(&[Path::new(path)])?;
        if now.get(path) != Some(digest) {
            bail!("{path} changed since the plan was saved; make a new plan with `ekstack plan -o`");
        }
    }
    Ok(())
}

/// `ekstack apply plan.json`: the saved actions and nothing else, under the
/// stack's lock, after the same confirmation as `apply`; refused when live
/// state moved since the plan was saved.
pub async fn apply_saved(
    target: &Target,
    stack: &Stack,
    saved: &SavedPlan,
    prices: &PriceTable,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Applied> {
    let aws = super::connect(target).await?;
    let (name, region) = (&stack.meta.name, &stack.meta.region);
    let work = async {
        let planned = with_cost(
            make_plan(&aws, stack, options.skip_final_snapshot).await?,
            stack,
            prices,
        );
        if fingerprint(stack, &planned.live)? != saved.fingerprint || actions_digest(&planned.plan) != saved.actions {
            bail!("live state changed since the plan was saved (or it was applied already); nothing was changed. Make a new plan with `ekstack plan -o`");
        }
        ui.show_plan(&planned.plan)?;
        if !planned.plan.has_changes() {
            return Ok(Applied {
                plan: planned.plan,
                ran: None,
            });
        }
        check_safety(&planned, saved.flags.allow_data_loss)?;
        if !ui.confirm(Prompt::Apply)? {
            bail!("apply cancelled; nothing was changed");
        }
        let ran = execute(&aws, stack, &planned, options, ui).await?;
        Ok(Applied {
            plan: planned.plan,
            ran: Some(ran),
        })
    };
    super::lock::with_lock(&aws, name, region, &options.resume, options.lock_timeout, work).await
}

//! `ekstack explain`: what each resource is for, its share of the monthly
//! cost, and the three changes to the file that would save the most.
//!
//! No AWS call: the cost is the plan's estimate of the file as written. A
//! change is proposed only once a copy of the files with it passes the same
//! checks as `ekstack validate`, so no suggestion is one the rules refuse.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::config::{self, Overlay, SleepDepth, Stack};
use crate::cost::savings::{self, Candidate, Edit};
use crate::cost::{self, PriceTable};
use crate::graph::{self, Address};
use crate::i18n::Msg;
use crate::resources::Kind;

/// How many changes `explain` proposes.
pub const SUGGESTIONS: usize = 3;

/// The hours a night's sleep lasts in the estimate (19:00 to 07:00).
pub const NIGHT_HOURS: f64 = 12.0;

/// Everything `explain` says, in the order it says it.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub stack: String,
    pub env: Option<String>,
    pub region: String,
    pub resources: Vec<Explained>,
    /// The whole stack's estimate a month, known prices only.
    pub monthly_usd: f64,
    /// Prices the table lacks, left out of every figure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
    /// The changes that save the most, most first.
    pub suggestions: Vec<Suggestion>,
    /// How many changes were tried and how many `validate` refused.
    pub considered: usize,
    pub refused: usize,
    /// Sleeping every night with `ekstack sleep`: not a change to the file.
    pub night_sleep: Option<NightSleep>,
}

/// One resource of the stack.
#[derive(Debug, Clone, Serialize)]
pub struct Explained {
    pub address: Address,
    pub kind: Kind,
    /// What it is and why the stack needs it.
    pub purpose: Msg,
    /// `None` when it bills nothing by itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
    /// Its part of the stack's monthly figure, 0–1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
}

/// One change to the file, checked and priced.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// The file to change: the overlay when one is used (the change is for
    /// this environment), else the stack file.
    pub files: Vec<PathBuf>,
    pub key: String,
    pub from: String,
    /// `key = to`, or `(removed)` for a table that goes.
    pub to: String,
    pub remove: bool,
    pub saves_monthly_usd: f64,
    pub monthly_usd_after: f64,
    pub gives_up: Msg,
}

/// Sleeping 12 hours a night, every night.
#[derive(Debug, Clone, Serialize)]
pub struct NightSleep {
    pub hours_per_night: f64,
    pub saves_monthly_usd: f64,
    pub gives_up: Msg,
}

/// The stack and overlay to explain.
pub struct ExplainRequest<'a> {
    pub stack_file: &'a Path,
    pub overlay: &'a Overlay,
    pub region_fallback: Option<String>,
    pub prices: &'a PriceTable,
}

/// What a resolved stack costs a month, and the prices it lacks.
fn monthly(stack: &Stack, prices: &PriceTable) -> Result<(cost::Estimate, graph::Graph)> {
    let graph = graph::build(stack)?;
    let estimate = cost::estimate(&stack.meta.region, &cost::desired_billables(&graph), prices);
    Ok((estimate, graph))
}

pub fn explain(request: &ExplainRequest) -> Result<Explanation> {
    let loaded = config::load(request.stack_file, request.overlay, request.region_fallback.clone())?;
    let stack = &loaded.stack;
    let (estimate, graph) = monthly(stack, request.prices)?;
    let total = estimate.monthly_usd;
    let resources = graph
        .resources
        .iter()
        .map(|r| {
            let lines: Vec<_> = estimate.lines.iter().filter(|l| l.address == r.address).collect();
            let amount: f64 = lines.iter().filter_map(|l| l.monthly_usd).sum();
            let priced = lines.iter().any(|l| l.monthly_usd.is_some());
            let monthly_usd = (priced && amount > 0.0).then_some(amount);
            Explained {
                address: r.address.clone(),
                kind: r.kind,
                purpose: r.kind.ops().purpose(r),
                monthly_usd,
                share: monthly_usd.filter(|_| total > 0.0).map(|m| m / total),
            }
        })
        .collect();

    let files = Files::of(&loaded, request)?;
    let candidates = savings::candidates(stack);
    let considered = candidates.len();
    let mut refused = 0;
    let mut suggestions = Vec::new();
    for candidate in candidates {
        match files.try_change(&candidate, request)? {
            Some(changed) => {
                let (after, _) = monthly(&changed.stack, request.prices)?;
                // A change whose price the table lacks cannot be compared.
                let saves = total - after.monthly_usd;
                if after.unknown.len() <= estimate.unknown.len() && saves >= 0.005 {
                    suggestions.push(Suggestion {
                        files: changed.files,
                        key: candidate.key.clone(),
                        from: candidate.from.clone(),
                        to: candidate.to.clone(),
                        remove: matches!(candidate.edit, Edit::Remove),
                        saves_monthly_usd: saves,
                        monthly_usd_after: after.monthly_usd,
                        gives_up: candidate.gives_up.clone(),
                    });
                }
            }
            None => refused += 1,
        }
    }
    suggestions.sort_by(|a, b| b.saves_monthly_usd.total_cmp(&a.saves_monthly_usd));
    // Two sizes of one key (db.t4g.small, db.t4g.large): the better one only.
    let mut seen = std::collections::HashSet::new();
    suggestions.retain(|s| seen.insert(s.key.clone()));
    suggestions.truncate(SUGGESTIONS);

    let night_sleep = if stack.meta.asleep {
        None
    } else {
        let (asleep, _) = monthly(&stack.sleeping(SleepDepth::Light), request.prices)?;
        let saves = (total - asleep.monthly_usd) * NIGHT_HOURS / 24.0;
        (saves > 0.0).then(|| NightSleep {
            hours_per_night: NIGHT_HOURS,
            saves_monthly_usd: saves,
            gives_up: Msg::new("savings.gives_up.night_sleep"),
        })
    };

    Ok(Explanation {
        stack: stack.meta.name.clone(),
        env: stack.meta.env.clone(),
        region: stack.meta.region.clone(),
        resources,
        monthly_usd: total,
        unknown: estimate.unknown.clone(),
        suggestions,
        considered,
        refused,
        night_sleep,
    })
}

/// The stack file and its overlay as read, to change copies of.
struct Files {
    stack: (PathBuf, String),
    overlay: Option<(PathBuf, String)>,
    /// Overlay keys the files as they are already leave out (`prod.toml`'s
    /// node group, for a stack on Fargate only).
    notes: usize,
}

/// A copy of the stack with one change that validated.
struct Changed {
    stack: Stack,
    files: Vec<PathBuf>,
}

impl Files {
    fn of(loaded: &config::Loaded, request: &ExplainRequest) -> Result<Files> {
        let mut read = loaded.sources.iter().map(|(_, f)| (f.path.clone(), f.text.clone()));
        let stack = read.next().context("internal error: a loaded stack without its file")?;
        let overlay = match request.overlay {
            Overlay::None => None,
            _ => read.next(),
        };
        Ok(Files {
            stack,
            overlay,
            notes: loaded.notes.len(),
        })
    }

    /// The files with `candidate` made, loaded as `validate` loads them;
    /// `None` when the rules refuse the change.
    fn try_change(&self, candidate: &Candidate, request: &ExplainRequest) -> Result<Option<Changed>> {
        let mut stack_text = self.stack.1.clone();
        let mut overlay_text = self.overlay.as_ref().map(|(_, t)| t.clone());
        let mut files = Vec::new();
        match &candidate.edit {
            // Set where this environment's value comes from: its overlay
            // when it has one, so other environments keep theirs.
            Edit::Set(value) => match (&mut overlay_text, &self.overlay) {
                (Some(text), Some((path, _))) => {
                    *text = edit(text, &candidate.key, Some(value))?;
                    files.push(path.clone());
                }
                _ => {
                    stack_text = edit(&stack_text, &candidate.key, Some(value))?;
                    files.push(self.stack.0.clone());
                }
            },
            // A table goes from every file that declares it.
            Edit::Remove => {
                if has(&stack_text, &candidate.key) {
                    stack_text = edit(&stack_text, &candidate.key, None)?;
                    files.push(self.stack.0.clone());
                }
                if let (Some(text), Some((path, _))) = (&mut overlay_text, &self.overlay) {
                    if has(text, &candidate.key) {
                        *text = edit(text, &candidate.key, None)?;
                        files.push(path.clone());
                    }
                }
            }
        }
        // The copies keep the layout `--env` looks for (stacks/, environments/).
        let dir = tempfile::tempdir()?;
        let name = |p: &Path| p.file_name().map(PathBuf::from).unwrap_or_else(|| "stack.toml".into());
        std::fs::create_dir_all(dir.path().join("stacks"))?;
        let stack_copy = dir.path().join("stacks").join(name(&self.stack.0));
        std::fs::write(&stack_copy, &stack_text)?;
        let overlay = match (request.overlay, &overlay_text, &self.overlay) {
            (Overlay::Env(env), Some(text), _) => {
                std::fs::create_dir_all(dir.path().join("environments"))?;
                std::fs::write(dir.path().join("environments").join(format!("{env}.toml")), text)?;
                Overlay::Env(env.clone())
            }
            (Overlay::File(_), Some(text), Some((path, _))) => {
                let copy = dir.path().join(name(path));
                std::fs::write(&copy, text)?;
                Overlay::File(copy)
            }
            _ => Overlay::None,
        };
        let Ok(loaded) = config::load(&stack_copy, &overlay, request.region_fallback.clone()) else {
            return Ok(None);
        };
        // An overlay key left out as not fitting the stack changes nothing.
        if loaded.notes.len() > self.notes {
            return Ok(None);
        }
        Ok(Some(Changed {
            stack: loaded.stack,
            files,
        }))
    }
}

fn has(text: &str, key: &str) -> bool {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return false;
    };
    let mut item = doc.as_item();
    for part in key.split('.') {
        match item.get(part) {
            Some(next) => item = next,
            None => return false,
        }
    }
    true
}

/// `text` with `key` set to `value`, or removed (`None`), comments and
/// layout kept: the edit a suggestion's `key`, `to` and `remove` describe.
pub fn edit(text: &str, key: &str, value: Option<&toml_edit::Value>) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    let parts: Vec<&str> = key.split('.').collect();
    let (last, tables) = parts.split_last().context("an empty key")?;
    let mut table = doc.as_table_mut() as &mut dyn toml_edit::TableLike;
    for part in tables {
        if table.get(part).is_none() {
            let mut new = toml_edit::Table::new();
            new.set_implicit(true);
            table.insert(part, toml_edit::Item::Table(new));
        }
        table = table
            .get_mut(part)
            .and_then(|i| i.as_table_like_mut())
            .with_context(|| format!("`{part}` in `{key}` is not a table"))?;
    }
    match value {
        Some(v) => {
            table.insert(last, toml_edit::Item::Value(v.clone()));
        }
        None => {
            table.remove(last);
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<(PathBuf, Overlay)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for entry in std::fs::read_dir(root.join("stacks")).unwrap() {
            let path = entry.unwrap().path();
            out.push((path.clone(), Overlay::None));
            for env in ["mvp", "prod"] {
                out.push((path.clone(), Overlay::Env(env.into())));
            }
        }
        out.sort_by_key(|(p, o)| format!("{} {o:?}", p.display()));
        out
    }

    /// Every resource of every shipped stack is explained in both languages.
    #[test]
    fn every_shipped_resource_has_a_purpose_in_both_languages() {
        let prices = PriceTable::builtin();
        let mut explained = 0;
        for (path, overlay) in shipped() {
            let Ok(e) = explain(&ExplainRequest {
                stack_file: &path,
                overlay: &overlay,
                region_fallback: None,
                prices: &prices,
            }) else {
                continue;
            };
            for r in &e.resources {
                for lang in [crate::i18n::Lang::En, crate::i18n::Lang::Ja] {
                    let text = r.purpose.text(lang);
                    assert!(
                        !text.starts_with("purpose.") && !text.contains('{'),
                        "{} {overlay:?} {}: {text}",
                        path.display(),
                        r.address
                    );
                }
                explained += 1;
            }
            let shares: f64 = e.resources.iter().filter_map(|r| r.share).sum();
            assert!(
                (shares - 1.0).abs() < 1e-6 || e.monthly_usd == 0.0,
                "{} shares sum to {shares}",
                path.display()
            );
        }
        assert!(explained > 200, "only {explained} resources explained");
    }

    /// A change the rules refuse is never proposed: `try_change` loads the
    /// changed copy exactly as `validate` does.
    #[test]
    fn a_change_the_rules_refuse_is_dropped() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let stack_file = root.join("stacks/learning.toml");
        let overlay = Overlay::Env("prod".into());
        let prices = PriceTable::builtin();
        let request = ExplainRequest {
            stack_file: &stack_file,
            overlay: &overlay,
            region_fallback: None,
            prices: &prices,
        };
        let loaded = config::load(&stack_file, &overlay, None).unwrap();
        let files = Files::of(&loaded, &request).unwrap();
        let candidate = |key: &str, to: toml_edit::Value| Candidate {
            key: key.into(),
            from: String::new(),
            to: to.to_string(),
            edit: Edit::Set(to),
            gives_up: Msg::new("savings.gives_up.multi_az"),
        };
        // desired below min, and a class that is not an instance class.
        assert!(files
            .try_change(&candidate("eks.nodegroups.general.desired", 1.into()), &request)
            .unwrap()
            .is_none());
        assert!(files
            .try_change(&candidate("database.class", "m6g".into()), &request)
            .unwrap()
            .is_none());
        let fine = files
            .try_change(&candidate("database.multi_az", false.into()), &request)
            .unwrap()
            .unwrap();
        assert!(!fine.stack.database.unwrap().multi_az);
        assert_eq!(fine.files, vec![loaded.sources.get(1).path.clone()]);
    }

    #[test]
    fn an_edit_keeps_the_file_around_it() {
        let text = "# prod\n[database]\nclass = \"db.m6g.large\" # big\nmulti_az = true\n\n[database.proxy]\n";
        let set = edit(text, "database.multi_az", Some(&false.into())).unwrap();
        assert!(set.contains("# prod") && set.contains("multi_az = false") && set.contains("# big"));
        let removed = edit(text, "database.proxy", None).unwrap();
        assert!(!removed.contains("[database.proxy]") && removed.contains("multi_az = true"));
        let added = edit(
            "[network]\nnat = \"single\"\n",
            "eks.nodegroups.general.desired",
            Some(&1.into()),
        )
        .unwrap();
        assert_eq!(
            added.parse::<toml::Table>().unwrap()["eks"]["nodegroups"]["general"]["desired"].as_integer(),
            Some(1)
        );
        assert!(has(text, "database.proxy") && !has(text, "database.replicas"));
    }
}

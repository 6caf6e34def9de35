//! Raw (merged) configuration → resolved [`Stack`]: defaults, derived subnet
//! CIDRs and AWS's rules, checked before any AWS call. Every broken rule is
//! collected so the user sees them all at once.
//!
//! One file per section of the stack file (`stack`, `network`, `eks`,
//! `database`) and one for the format checks they share (`checks`). This file
//! holds the entry point and the `Resolver` every rule reports through.
//!
//! A rule that breaks pushes a [`Diagnostic`] and gets back a `Reported`
//! token, which is the only way to make one; section resolvers return
//! `Result<T, Reported>`. Each field is checked into a `let` of its own first
//! and only then combined (`All::all`, `collect_all`), so one broken field
//! never hides the errors of the next: by the time results are combined,
//! every rule has already spoken. A resolved [`Stack`] therefore exists
//! exactly when no rule was broken, without a flag to keep in step.

mod addons;
mod checks;
mod ci;
mod database;
mod eks;
mod network;
mod pod_identities;
mod stack;

pub use addons::assumed_role;
pub use checks::{check_stack_name, version_has_prefix};
pub use ci::check_ecr_name;
pub use database::parameter_key;
pub use network::{derive_subnets, MAX_DERIVED_AZS, SUBNET_EXTRA_BITS};

use strum::VariantNames;

use super::diagnostic::{did_you_mean, Diagnostic};
use super::model::*;
use super::raw::RawFile;
use super::source::{Located, Location, TableIndex};
use crate::i18n::Msg;
use sink::{Diagnostics, Reported};

pub struct ResolveInput {
    pub raw: RawFile,
    pub env: Option<String>,
    /// Region from `--region`, used when the file names none (and checked against it when it does).
    pub region_fallback: Option<String>,
    /// Where to point errors about something missing entirely (start of the stack file).
    pub file_start: Location,
    pub tables: TableIndex,
}

pub fn resolve(input: ResolveInput) -> Result<Stack, Vec<Diagnostic>> {
    let ResolveInput {
        raw,
        env,
        region_fallback,
        file_start,
        tables,
    } = input;
    let mut r = Resolver {
        diags: Diagnostics::default(),
        file_start,
        tables,
    };
    let stack = r.stack(raw, env, region_fallback);
    match (stack, r.diags.into_vec()) {
        (Ok(stack), diags) if diags.is_empty() => Ok(stack),
        (_, diags) => Err(diags),
    }
}

/// The token lives in a module of its own so that nothing else can make one:
/// its field is private here, and [`Diagnostics::push`] is the only constructor.
mod sink {
    use super::Diagnostic;

    /// Proof that a broken rule was reported. A rule returns `Err(Reported)`
    /// only after pushing its diagnostic, so an error can never be silent.
    #[must_use = "a broken rule must fail the value it was checking"]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Reported(());

    /// Every diagnostic reported so far, in order.
    #[derive(Debug, Default)]
    pub struct Diagnostics(Vec<Diagnostic>);

    impl Diagnostics {
        pub fn push(&mut self, diagnostic: Diagnostic) -> Reported {
            self.0.push(diagnostic);
            Reported(())
        }

        pub fn into_vec(self) -> Vec<Diagnostic> {
            self.0
        }
    }
}

/// Combines results that were each computed (and reported) on their own.
pub(super) trait All {
    type Values;
    /// Every value, or the token of a rule that broke.
    fn all(self) -> Result<Self::Values, Reported>;
}

macro_rules! impl_all {
    ($($t:ident),+) => {
        impl<$($t),+> All for ($(Result<$t, Reported>,)+) {
            type Values = ($($t,)+);
            #[allow(non_snake_case)]
            fn all(self) -> Result<Self::Values, Reported> {
                let ($($t,)+) = self;
                Ok(($($t?,)+))
            }
        }
    };
}

impl_all!(A, B);
impl_all!(A, B, C);
impl_all!(A, B, C, D);
impl_all!(A, B, C, D, E);
impl_all!(A, B, C, D, E, F);
impl_all!(A, B, C, D, E, F, G);
impl_all!(A, B, C, D, E, F, G, H);
impl_all!(A, B, C, D, E, F, G, H, I);
impl_all!(A, B, C, D, E, F, G, H, I, J);
impl_all!(A, B, C, D, E, F, G, H, I, J, K);

/// Checks every item (the iterator is drained before anything is combined, so
/// each item's rules report), then gives all the values or a token.
pub(super) fn collect_all<T, C: FromIterator<T>>(
    results: impl IntoIterator<Item = Result<T, Reported>>,
) -> Result<C, Reported> {
    let results: Vec<Result<T, Reported>> = results.into_iter().collect();
    results.into_iter().collect()
}

/// The shared reporter: collects diagnostics and knows where tables are written.
struct Resolver {
    diags: Diagnostics,
    file_start: Location,
    tables: TableIndex,
}

fn loc<T>(l: &Located<T>) -> Option<Location> {
    Some(l.at())
}

impl Resolver {
    /// Where a table is written (its header), or the start of the stack file.
    fn table(&self, path: &str) -> Option<Location> {
        self.tables.find(path).or_else(|| Some(self.file_start.clone()))
    }

    fn error(&mut self, key: impl Into<String>, message: impl Into<String>, at: Option<Location>) -> Reported {
        self.diags.push(Diagnostic::new(key, message, at))
    }

    fn error_help(
        &mut self,
        key: impl Into<String>,
        message: impl Into<String>,
        at: Option<Location>,
        help: Option<String>,
    ) -> Reported {
        let mut d = Diagnostic::new(key, message, at);
        d.help = help;
        self.diags.push(d)
    }

    /// A rule that holds or is reported.
    fn require(
        &mut self,
        holds: bool,
        key: impl Into<String>,
        message: impl Into<String>,
        at: Option<Location>,
    ) -> Result<(), Reported> {
        if holds {
            Ok(())
        } else {
            Err(self.error(key, message, at))
        }
    }

    /// Parses an enumerated string, reporting the accepted values.
    fn one_of<T>(
        &mut self,
        key: &str,
        value: &Located<String>,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, Reported> {
        parse(&value.value).ok_or_else(|| {
            let list = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
            let help = did_you_mean(&value.value, names.iter().copied())
                .map(|s| Msg::new("error.did_you_mean_value").arg("candidate", s));
            let message = Msg::new("error.one_of").arg("list", list).arg("value", &value.value);
            self.diags.push(Diagnostic::localized(key, message, help, loc(value)))
        })
    }

    /// [`Self::one_of`] for an enum of the model, whose names come from strum.
    fn variant<T: std::str::FromStr + VariantNames>(
        &mut self,
        key: &str,
        value: &Located<String>,
    ) -> Result<T, Reported> {
        self.one_of(key, value, T::VARIANTS, |s| s.parse().ok())
    }

    fn int_in(&mut self, key: &str, value: &Located<i64>, min: i64, max: i64) -> Result<i32, Reported> {
        if value.value < min || value.value > max {
            let message = Msg::new("error.between")
                .arg("min", min)
                .arg("max", max)
                .arg("value", value.value);
            Err(self.diags.push(Diagnostic::localized(key, message, None, loc(value))))
        } else {
            Ok(value.value as i32)
        }
    }

    /// Checks each item of a list with `check`, then that none repeats.
    /// Returns the distinct valid items (later rules may read them even when
    /// another item broke a rule) and whether every item passed.
    fn distinct<T: PartialEq>(
        &mut self,
        key: &str,
        list: &[Located<String>],
        mut check: impl FnMut(&mut Self, &str, &Located<String>) -> Result<T, Reported>,
    ) -> (Vec<T>, Result<(), Reported>) {
        let mut kept = Vec::new();
        let mut results = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let item_key = format!("{key}[{i}]");
            let result = match check(self, &item_key, item) {
                Ok(value) if kept.contains(&value) => {
                    Err(self.error(item_key, format!("\"{}\" is listed twice", item.value), loc(item)))
                }
                Ok(value) => {
                    kept.push(value);
                    Ok(())
                }
                Err(reported) => Err(reported),
            };
            results.push(result);
        }
        (kept, collect_all(results))
    }

    fn stack(&mut self, raw: RawFile, env: Option<String>, region_fallback: Option<String>) -> Result<Stack, Reported> {
        let identity = self.identity(raw.stack.as_ref(), region_fallback);
        let tags = self.tags(raw.stack.as_ref().and_then(|s| s.tags.as_ref()));
        let budget = self.budget(raw.stack.as_ref());
        let azs_required = raw.eks.is_some() || raw.database.is_some();
        let region = identity.as_ref().map(|i| &i.region).map_err(|r| *r);
        let (network, two_azs) = self.network(raw.network.as_ref(), region, azs_required);
        let eks = raw.eks.as_ref().map(|e| self.eks(e, raw.database.is_some()));
        let database = raw.database.as_ref().map(|d| self.database(d));
        let ci = raw
            .ci
            .as_ref()
            .map(|c| self.ci(c, raw.registry.is_some(), raw.eks.is_some()));
        let stack_name = identity.as_ref().ok().map(|i| i.name.as_str());
        let registry = raw.registry.as_ref().map(|r| self.registry(r, stack_name));

        // Cross-section rules.
        let egress = match (&eks, &network) {
            (Some(Ok(eks)), Ok(network)) => {
                // A given VPC's egress is checked at plan time, in AWS.
                let needs_egress = (!eks.nodegroups.is_empty() || !eks.fargate.is_empty()) && !network.is_given();
                let at = raw.network.as_ref().and_then(|n| n.nat.as_ref()).map(|n| n.at());
                self.require(
                    !(needs_egress && network.nat == NatMode::None),
                    "network.nat",
                    "\"none\" leaves the private subnets without egress, but node groups and Fargate pods there need it to pull images and join the cluster; use \"single\" or \"per-az\"",
                    at,
                )
            }
            _ => Ok(()),
        };

        let ci_entry = match (&ci, raw.eks.as_ref().and_then(|e| e.access.as_ref())) {
            (Some(Ok(Some(c))), Some(access)) if !c.namespaces.is_empty() && access.contains_key("ci-deploy") => {
                let at = self.table("eks.access.ci-deploy");
                Err(self.error(
                    "eks.access.ci-deploy",
                    "is the access entry [ci.github] makes for its deploy role; give this one another key",
                    at,
                ))
            }
            _ => Ok(()),
        };
        let (identity, tags, network, eks, database, (), (), ci, registry, (), budget) = (
            identity,
            tags,
            network,
            eks.transpose(),
            database.transpose(),
            two_azs,
            egress,
            ci.transpose(),
            registry.transpose(),
            ci_entry,
            budget,
        )
            .all()?;
        Ok(Stack {
            meta: StackMeta {
                name: identity.name,
                region: identity.region.name,
                env,
                tags,
                budget,
                asleep: false,
                depth: crate::config::SleepDepth::Light,
                sleep_snapshot: None,
                reboot: false,
                finish_migration: false,
                delete_images: false,
                tag_subnets: false,
                account: None,
            },
            network,
            eks,
            database,
            ci: ci.flatten(),
            registry,
        })
    }
}

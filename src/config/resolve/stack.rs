//! The `[stack]` table: the stack's name, its region and the tags put on
//! every resource. The name and region are what the other sections depend on
//! (the region decides the availability zones), so they resolve on their own,
//! apart from the tags, whose errors stop nothing else from being checked.

use std::collections::BTreeMap;

use super::checks::check_stack_name;
use super::{collect_all, loc, All, Reported, Resolver};
use crate::config::diagnostic::{did_you_mean, Diagnostic};
use crate::config::model::Budget;
use crate::config::raw::RawStack;
use crate::config::regions;
use crate::config::source::Located;
use crate::i18n::Msg;

/// Tag key prefixes a user may not set: AWS reserves `aws:`, ekstack owns its
/// own and the Kubernetes discovery tags it puts on subnets.
const RESERVED_TAG_PREFIXES: &[&str] = &["aws:", "ekstack:", "kubernetes.io/"];

/// The stack's name and region, once both are valid.
pub(super) struct Identity {
    pub name: String,
    pub region: Region,
}

/// A region ekstack knows, with its availability zones in order.
pub(super) struct Region {
    pub name: String,
    pub zones: Vec<String>,
}

impl Resolver {
    pub(super) fn identity(
        &mut self,
        raw: Option<&RawStack>,
        region_fallback: Option<String>,
    ) -> Result<Identity, Reported> {
        let Some(s) = raw else {
            return Err(self.error(
                "stack",
                "the stack file needs a [stack] table with `name` and `region`",
                Some(self.file_start.clone()),
            ));
        };
        let name = match &s.name {
            None => Err(self.diags.push(Diagnostic::localized(
                "stack.name",
                Msg::new("error.required"),
                None,
                self.table("stack"),
            ))),
            Some(n) => match check_stack_name(&n.value) {
                Err(rule) => Err(self.error("stack.name", rule, loc(n))),
                Ok(()) => Ok(n.value.clone()),
            },
        };
        let region = match (&s.region, region_fallback) {
            (Some(r), fallback) => self.region(r, fallback),
            (None, fallback) => {
                let known =
                    fallback.and_then(|f| regions::availability_zones(&f).map(|zones| Region { name: f, zones }));
                match known {
                    Some(region) => Ok(region),
                    None => Err(self.diags.push(Diagnostic::localized(
                        "stack.region",
                        Msg::new("error.region_required"),
                        None,
                        self.table("stack"),
                    ))),
                }
            }
        };
        let (name, region) = (name, region).all()?;
        Ok(Identity { name, region })
    }

    /// The region the file names, which `--region` may not contradict.
    fn region(&mut self, r: &Located<String>, fallback: Option<String>) -> Result<Region, Reported> {
        if let Some(f) = fallback.filter(|f| f != &r.value) {
            return Err(self.error(
                "stack.region",
                format!(
                    "is \"{}\" but --region says \"{f}\"; a stack lives in the region its file names",
                    r.value
                ),
                loc(r),
            ));
        }
        match regions::availability_zones(&r.value) {
            Some(zones) => Ok(Region {
                name: r.value.clone(),
                zones,
            }),
            None => {
                let help = did_you_mean(&r.value, regions::region_names()).map(|s| format!("did you mean \"{s}\"?"));
                let known = regions::region_names().collect::<Vec<_>>().join(", ");
                Err(self.error_help(
                    "stack.region",
                    format!("\"{}\" is not a region ekstack supports ({known})", r.value),
                    loc(r),
                    help,
                ))
            }
        }
    }

    pub(super) fn tags(
        &mut self,
        raw: Option<&BTreeMap<String, Located<String>>>,
    ) -> Result<BTreeMap<String, String>, Reported> {
        let Some(raw) = raw else {
            return Ok(BTreeMap::new());
        };
        let count = self.require(
            raw.len() <= 40,
            "stack.tags",
            format!(
                "has {} tags; at most 40 leave room for ekstack's own (AWS allows 50 per resource)",
                raw.len()
            ),
            self.table("stack.tags"),
        );
        let tags = collect_all(
            raw.iter()
                .map(|(k, v)| self.tag(k, v).map(|()| (k.clone(), v.value.clone()))),
        );
        let ((), tags) = (count, tags).all()?;
        Ok(tags)
    }

    fn tag(&mut self, k: &str, v: &Located<String>) -> Result<(), Reported> {
        let key = format!("stack.tags.{k}");
        let broken = if k.is_empty() || k.chars().count() > 128 {
            "tag keys must be 1 to 128 characters".to_string()
        } else if let Some(p) = RESERVED_TAG_PREFIXES
            .iter()
            .find(|p| k.to_ascii_lowercase().starts_with(*p))
        {
            format!("tag keys starting with \"{p}\" are reserved")
        } else if k == "Name" {
            "`Name` is set by ekstack on every resource".to_string()
        } else if v.value.chars().count() > 256 {
            "tag values must be at most 256 characters".to_string()
        } else {
            return Ok(());
        };
        Err(self.error(key, broken, loc(v)))
    }

    /// `budget_usd_month` and `alert_email` come together: a budget
    /// alarms by e-mail, and an address alone has nothing to alarm on.
    pub(super) fn budget(&mut self, raw: Option<&RawStack>) -> Result<Option<Budget>, Reported> {
        let Some(s) = raw else { return Ok(None) };
        let amount = match &s.budget_usd_month {
            None => Ok(None),
            Some(v) if !v.value.is_finite() || v.value <= 0.0 => Err(self.error(
                "stack.budget_usd_month",
                format!("must be above 0 (USD a month), not {}", v.value),
                loc(v),
            )),
            Some(v) if v.value > MAX_BUDGET_USD => Err(self.error(
                "stack.budget_usd_month",
                format!("must be at most {MAX_BUDGET_USD} USD a month, not {}", v.value),
                loc(v),
            )),
            Some(v) => Ok(Some(v.value)),
        };
        let email = match &s.alert_email {
            None => Ok(None),
            Some(e) => match check_email(&e.value) {
                Ok(()) => Ok(Some(e.value.clone())),
                Err(rule) => Err(self.error("stack.alert_email", rule, loc(e))),
            },
        };
        match (amount, email).all()? {
            (Some(usd_month), Some(email)) => Ok(Some(Budget { usd_month, email })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(self.error(
                "stack.budget_usd_month",
                "needs `alert_email`: the budget's alarms go to that address",
                s.budget_usd_month.as_ref().and_then(loc),
            )),
            (None, Some(_)) => Err(self.error(
                "stack.alert_email",
                "needs `budget_usd_month`: the address gets the budget's alarms",
                s.alert_email.as_ref().and_then(loc),
            )),
        }
    }
}

/// A budget above this is a typo more likely than a plan.
const MAX_BUDGET_USD: f64 = 1_000_000.0;

/// An e-mail address as AWS Budgets sends to it: one `@`, a local part
/// without spaces, and a domain of at least two dot-separated labels.
pub fn check_email(address: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "\"{address}\" is not an e-mail address (like \"team@example.com\")"
        ))
    };
    if address.len() > 254 || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad();
    }
    let Some((local, domain)) = address.split_once('@') else {
        return bad();
    };
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') || labels.len() < 2 || !labels.iter().all(label_ok)
    {
        return bad();
    }
    Ok(())
}

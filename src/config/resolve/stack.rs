//! The `[stack]` table: the stack's name, its region and the tags put on
//! every resource. The name and region are what the other sections depend on
//! (the region decides the availability zones), so they resolve on their own,
//! apart from the tags, whose errors stop nothing else from being checked.

use std::collections::BTreeMap;

use super::checks::check_stack_name;
use super::{collect_all, loc, All, Reported, Resolver};
use crate::config::diagnostic::did_you_mean;
use crate::config::raw::RawStack;
use crate::config::regions;
use crate::config::source::Located;

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
            None => Err(self.error("stack.name", "is required", self.table("stack"))),
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
                    None => Err(self.error("stack.region", "is required (or give --region)", self.table("stack"))),
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
}

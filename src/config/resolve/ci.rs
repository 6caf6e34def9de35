//! `[ci.github]` and `[registry]`: who in GitHub Actions may assume the
//! stack's CI roles, and the ECR repositories its images are pushed to. The
//! names become IAM trust conditions and ECR names, so each is held to the
//! rule GitHub or ECR holds it to, before any AWS call.

use super::checks::is_dns_label;
use super::{loc, All, Reported, Resolver};
use crate::config::model::{GithubCi, Registry, KEEP_IMAGES};
use crate::config::raw::{RawCi, RawRegistry};
use crate::config::source::Located;

/// An ECR repository name, whole ("CreateRepository", `repositoryName`:
/// 2 to 256 characters matching
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`,
/// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html).
pub fn check_ecr_name(name: &str) -> Result<(), String> {
    // One path part: runs of [a-z0-9] joined by ".", "_", "__" or "-"+.
    let component = |c: &str| {
        let alnum = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit();
        let mut rest = c;
        loop {
            let run = rest.find(|ch: char| !alnum(ch)).unwrap_or(rest.len());
            if run == 0 {
                return false;
            }
            rest = &rest[run..];
            if rest.is_empty() {
                return true;
            }
            let sep = rest.find(alnum).unwrap_or(rest.len());
            let separator = &rest[..sep];
            let ok = separator == "." || separator == "_" || separator == "__" || separator.chars().all(|ch| ch == '-');
            if !ok {
                return false;
            }
            rest = &rest[sep..];
        }
    };
    if !(2..=256).contains(&name.len()) {
        return Err(format!("\"{name}\" must be 2 to 256 characters"));
    }
    if !name.split('/').all(component) {
        return Err(format!(
            "\"{name}\" is not a name ECR accepts: lowercase letters and digits in parts joined by '.', '_', '__' or '-', with '/' between path parts"
        ));
    }
    Ok(())
}

/// GitHub's owner rule (a user or organization: letters, digits and single
/// hyphens, at most 39) and repository rule (letters, digits, '.', '_',
/// '-', at most 100, not "." or "..").
fn check_repository(full: &str) -> Result<(), String> {
    let Some((owner, name)) = full.split_once('/') else {
        return Err(format!("\"{full}\" must be `owner/name`, e.g. \"acme/shop\""));
    };
    let owner_ok = (1..=39).contains(&owner.len())
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !owner.starts_with('-')
        && !owner.ends_with('-')
        && !owner.contains("--");
    let name_ok = (1..=100).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && name != "."
        && name != "..";
    if full.contains('*') {
        return Err(format!(
            "\"{full}\" has a wildcard; the roles trust one repository, named exactly"
        ));
    }
    if !owner_ok || !name_ok {
        return Err(format!(
            "\"{full}\" is not a GitHub repository: `owner/name`, the owner of letters, digits and single '-' (at most 39), the name of letters, digits, '.', '_' or '-' (at most 100)"
        ));
    }
    Ok(())
}

/// A branch name as git allows it (`git check-ref-format`), with one
/// addition: a trailing `*` makes it a prefix (`release/*`).
fn check_branch(branch: &str) -> Result<(), String> {
    let name = branch.strip_suffix('*').unwrap_or(branch);
    // `*` alone leaves `name` empty: it would trust every branch.
    let bad = name.is_empty()
        || name.contains('*')
        || name.contains("..")
        || name.contains("@{")
        || name.starts_with('/')
        || name.starts_with('-')
        || name.ends_with(".lock")
        || name.contains("//")
        || name.chars().any(|c| c.is_ascii_control() || " ~^:?[\\".contains(c));
    if bad {
        return Err(format!(
            "\"{branch}\" is not a branch name (or a prefix ending in '*', like \"release/*\"); \"*\" alone would trust every branch"
        ));
    }
    Ok(())
}

/// GitHub environment names: at most 255 characters; ':' and '*' would
/// change what the token's `sub` claim matches.
fn check_environment(env: &str) -> Result<(), String> {
    if env.is_empty() || env.len() > 255 || env.contains(['*', ':', '"']) || env.trim() != env {
        return Err(format!(
            "\"{env}\" is not an environment name ekstack can trust: 1 to 255 characters without '*', ':' or '\"'"
        ));
    }
    Ok(())
}

impl Resolver {
    pub(super) fn ci(&mut self, raw: &RawCi, has_registry: bool, has_eks: bool) -> Result<Option<GithubCi>, Reported> {
        let Some(g) = &raw.github else {
            return Ok(None);
        };
        let base = "ci.github";
        let at = self.table(base);
        let repository = match &g.repository {
            None => Err(self.error(
                format!("{base}.repository"),
                "is required: the GitHub repository whose workflows may assume the roles, `owner/name`",
                at.clone(),
            )),
            Some(r) => check_repository(&r.value)
                .map(|()| r.value.clone())
                .map_err(|rule| self.error(format!("{base}.repository"), rule, loc(r))),
        };
        let list = |r: &mut Self,
                    key: &str,
                    list: Option<&Located<Vec<Located<String>>>>,
                    check: fn(&str) -> Result<(), String>| {
            let Some(list) = list else { return Ok(None) };
            let (names, each) = r.distinct(&format!("{base}.{key}"), &list.value, |r, k, item| {
                check(&item.value)
                    .map(|()| item.value.clone())
                    .map_err(|rule| r.error(k, rule, loc(item)))
            });
            each.map(|()| Some(names))
        };
        let branches = list(self, "branches", g.branches.as_ref(), check_branch);
        let environments = list(self, "environments", g.environments.as_ref(), check_environment);
        let namespaces = list(self, "namespaces", g.namespaces.as_ref(), |ns| {
            if is_dns_label(ns) {
                Ok(())
            } else {
                Err(format!(
                    "\"{ns}\" is not a Kubernetes namespace name (a lowercase DNS label)"
                ))
            }
        });
        let (repository, branches, environments, namespaces) =
            (repository, branches, environments, namespaces).all()?;
        // Only `main` deploys unless the file says which refs do.
        let (branches, environments) = match (branches, environments) {
            (None, None) => (vec!["main".to_string()], vec![]),
            (b, e) => (b.unwrap_or_default(), e.unwrap_or_default()),
        };
        let list_at = g
            .branches
            .as_ref()
            .or(g.environments.as_ref())
            .map(|l| l.at())
            .or(at.clone());
        let deployers = self.require(
            !branches.is_empty() || !environments.is_empty(),
            format!("{base}.branches"),
            "and `environments` are both empty, so nothing could deploy; name the branches (e.g. [\"main\"]) or environments that may",
            list_at,
        );
        let namespaces = namespaces.unwrap_or_default();
        let ns_at = g.namespaces.as_ref().map(|l| l.at()).or(at.clone());
        let registry_needs = self.require(
            !(has_registry && namespaces.is_empty()),
            format!("{base}.namespaces"),
            "is empty, but [registry] is set: the deploy role pushes images to roll them out, so name the namespaces it may write to (e.g. [\"app\"])",
            ns_at.clone(),
        );
        let eks_needed = self.require(
            namespaces.is_empty() || has_eks,
            format!("{base}.namespaces"),
            "gives the deploy role EKS access in these namespaces, but the stack has no [eks]",
            ns_at,
        );
        (deployers, registry_needs, eks_needed).all()?;
        Ok(Some(GithubCi {
            repository,
            branches,
            environments,
            namespaces,
            infra_apply: g.infra_apply.as_ref().is_some_and(|b| b.value),
        }))
    }

    pub(super) fn registry(&mut self, raw: &RawRegistry, stack: Option<&str>) -> Result<Registry, Reported> {
        let base = "registry";
        let at = self.table(base);
        let repositories = match &raw.repositories {
            None => Err(self.error(
                format!("{base}.repositories"),
                "is required: the repository names, e.g. [\"api\"]",
                at.clone(),
            )),
            Some(list) => {
                let count = self.require(
                    !list.value.is_empty(),
                    format!("{base}.repositories"),
                    "must name at least one repository (or leave [registry] out)",
                    loc(list),
                );
                let (names, each) = self.distinct(&format!("{base}.repositories"), &list.value, |r, k, name| {
                    // Checked whole, as ECR will see it.
                    let full = format!("{}/{}", stack.unwrap_or("stack"), name.value);
                    check_ecr_name(&full)
                        .map(|()| name.value.clone())
                        .map_err(|rule| r.error(k, format!("makes the repository {rule}"), loc(name)))
                });
                (count, each).all().map(|_| names)
            }
        };
        let keep_images = match &raw.keep_images {
            None => Ok(KEEP_IMAGES),
            Some(n) => self
                .int_in(&format!("{base}.keep_images"), n, 1, 10_000)
                .map(|n| n as u32),
        };
        let (repositories, keep_images) = (repositories, keep_images).all()?;
        Ok(Registry {
            repositories,
            keep_images,
            immutable_tags: raw.immutable_tags.as_ref().is_some_and(|b| b.value),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_names_follow_the_api_pattern() {
        for ok in [
            "shop/api",
            "shop/api-v2",
            "shop/team/api",
            "shop/a.b_c",
            "shop/a__b",
            "shop/a--b",
        ] {
            assert_eq!(check_ecr_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "shop/API",
            "shop/a..b",
            "shop/a___b",
            "shop/-api",
            "shop/api/",
            "shop//api",
            "a",
            "shop/api_",
            "shop/a._b",
        ] {
            assert!(check_ecr_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repositories_and_branches_follow_githubs_rules() {
        assert!(check_repository("acme/shop").is_ok());
        assert!(check_repository("acme/shop.web_1").is_ok());
        for bad in [
            "acme",
            "acme/*",
            "*/shop",
            "-acme/shop",
            "acme/",
            "ac me/shop",
            "acme/shop/x",
        ] {
            assert!(check_repository(bad).is_err(), "{bad}");
        }
        assert!(check_branch("main").is_ok());
        assert!(check_branch("release/*").is_ok());
        for bad in ["*", "ma*in", "a..b", "has space", "-x", ""] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
    }
}

//! The tags every resource carries from its create call (DESIGN §3), and the
//! split between the tags a user manages and those ekstack, AWS and
//! Kubernetes own.

use crate::config::Stack;
use crate::live::Tags;
use crate::plan::Value;
use crate::resources::{Attribute, Desired, ResourceKind};

pub const TAG_STACK: &str = "ekstack:stack";
pub const TAG_ADDRESS: &str = "ekstack:address";
/// Set on the VPC while the stack sleeps (`ekstack sleep`): since when.
pub const TAG_SLEEPING: &str = "ekstack:sleeping";
/// With the sleeping mark: `deep` or `deep-snapshot` (absent: light).
pub const TAG_SLEEP_DEPTH: &str = "ekstack:sleep-depth";
/// With the sleeping mark: the database's sleep snapshot.
pub const TAG_SLEEP_SNAPSHOT: &str = "ekstack:sleep-snapshot";
/// With the sleeping mark: when AWS starts the stopped database again.
pub const TAG_DB_RESTARTS: &str = "ekstack:db-restarts";
/// With the sleeping mark: the end of `sleep --for DAYS`.
pub const TAG_SLEEP_UNTIL: &str = "ekstack:sleep-until";
/// The environment overlay a resource was made with (`ls` reads it).
pub const TAG_ENV: &str = "ekstack:env";
/// When the run that made a resource planned it, RFC 3339 (`ls` reads it).
pub const TAG_CREATED: &str = "ekstack:created";

/// The tags of a resource at `address` named `name`: the user's, the stack's
/// own, and `Name`.
pub fn of(stack: &Stack, address: &str, name: &str) -> Tags {
    let mut t = stack.meta.tags.clone();
    t.insert(TAG_STACK.into(), stack.meta.name.clone());
    t.insert(TAG_ADDRESS.into(), address.into());
    t.insert("Name".into(), name.into());
    // Written at create only: ekstack's own tags are never compared.
    t.insert(TAG_ENV.into(), stack.meta.env.clone().unwrap_or_else(|| "none".into()));
    t.insert(TAG_CREATED.into(), created_now());
    t
}

/// Now, to the second, as `ekstack:created` holds it.
fn created_now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The tags a user manages: everything but AWS's, ekstack's own and the
/// Kubernetes discovery tags. Compared by the plan, so console edits show up.
pub fn user_tags(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| {
            !(k.starts_with("aws:") || k.starts_with("ekstack:") || k.starts_with("kubernetes.io/") || *k == "Name")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What to change to bring a resource's user tags to the desired ones: the
/// keys to remove and the tags to set. Each service then makes its own calls.
pub fn changes(live: &Tags, desired: &Tags) -> (Vec<String>, Tags) {
    let have = user_tags(live);
    let want = user_tags(desired);
    let stale = have.keys().filter(|k| !want.contains_key(*k)).cloned().collect();
    let set = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (stale, set)
}

/// The user's tags of a resource, from `stack.tags`, changed in place by `via`.
pub fn attribute<K: ResourceKind>(key: K::Attr, d: &Desired<'_, K>, via: &'static str) -> Attribute<K> {
    Attribute::new(key, "stack.tags", d.user_tags(), |l| Value::from(user_tags(&l.tags))).in_place(via)
}

/// Whether tags say a resource belongs to `stack`.
pub fn is_of_stack(tags: &Tags, stack: &str) -> bool {
    tags.get(TAG_STACK).map(String::as_str) == Some(stack)
}

/// The address a resource claims, if it belongs to `stack`.
pub fn claimed_address(tags: &Tags, stack: &str) -> Option<String> {
    if !is_of_stack(tags, stack) {
        return None;
    }
    tags.get(TAG_ADDRESS).cloned()
}

//! Finding a stack's live resources with no state file: every kind in the
//! registry looks for its own, concurrently; kinds found under a parent
//! (node groups under their cluster) look once the parents are known, and
//! only under parents that are the stack's own.

use anyhow::Result;

use super::{Discovery, Kind};
use crate::aws::Aws;
use crate::live::{Live, LiveState, Origin};

/// Reads everything of one stack. Makes no mutating call.
pub async fn discover(aws: &Aws, stack: &str, region: &str) -> Result<LiveState> {
    let cx = &Discovery { aws, stack, region };
    let top = Kind::all().filter(|k| k.ops().parent().is_none());
    let found = futures_util::future::try_join_all(top.map(|k| k.ops().discover(cx, None))).await?;
    let mut resources: Vec<Live> = found.into_iter().flatten().collect();

    let children = Kind::all().filter_map(|k| Some((k, k.ops().parent()?)));
    let lookups = children.flat_map(|(kind, parent_kind)| {
        resources
            .iter()
            .filter(move |p| p.kind == parent_kind && p.origin == Origin::Ours)
            .map(move |p| kind.ops().discover(cx, Some(p)))
    });
    let found = futures_util::future::try_join_all(lookups).await?;
    let children: Vec<Live> = found.into_iter().flatten().collect();
    resources.extend(children);
    Ok(LiveState { resources })
}

/// A one-line description of a resource that shares a name with the stack
/// but was not made by ekstack for it.
pub fn describe_foreign(l: &Live) -> String {
    format!(
        "{} {} exists but carries no ekstack:stack tag for this stack",
        l.kind, l.id
    )
}

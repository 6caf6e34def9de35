//! What the RDS kinds share: tags, engine versions and their guards, the
//! running state that `sleep` changes, final snapshots and data-loss texts.

use std::future::Future;

use anyhow::Result;
use aws_sdk_rds::types::Tag;

use super::{Policy, Step};
use crate::aws::errors::AwsResultExt;
use crate::i18n::Msg;
use crate::live::{Readiness, Record, Tags};
use crate::plan::{Value, Verdict};

/// An RDS resource's tags (ListTagsForResource); none without an ARN.
pub async fn list_tags(aws: &crate::aws::Aws, arn: Option<&str>) -> Result<Tags> {
    let Some(arn) = arn else { return Ok(Tags::new()) };
    let out = aws
        .rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .aws_on("rds:ListTagsForResource", arn)?;
    Ok(tag_map(out.tag_list()))
}

/// The Secrets Manager secret RDS manages for a database's master
/// password, from its live record (an instance or an Aurora cluster).
pub fn managed_secret(live: Option<&crate::live::Live>) -> Option<String> {
    let live = live?;
    live.observed::<super::db_instance::DbInstance>()
        .and_then(|o| o.secret_arn.clone())
        .or_else(|| {
            live.observed::<super::db_cluster::DbCluster>()
                .and_then(|o| o.secret_arn.clone())
        })
}

pub fn rds_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn tag_map(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect()
}

/// Brings the user tags of an RDS resource to the desired ones.
pub async fn sync_tags(step: &Step<'_>, arn: Option<&str>, live: &Tags, desired: &Tags) -> Result<()> {
    let arn = arn.ok_or_else(|| anyhow::anyhow!("the resource has no ARN to tag"))?;
    let (stale, set) = super::tags::changes(live, desired);
    let rds = &step.aws().rds;
    if !stale.is_empty() {
        rds.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .aws_on("rds:RemoveTagsFromResource", arn)?;
    }
    if !set.is_empty() {
        rds.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(&set)))
            .send()
            .await
            .aws_on("rds:AddTagsToResource", arn)?;
    }
    Ok(())
}

/// "16.4" → "16"; MySQL "8.0.39" → "8.0".
pub use crate::config::model::engine_major as major;

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Whether a version names a minor (`16.4`, MySQL `8.0.39`) rather than
/// a major only (`16`, `8.0`): a pinned minor is kept; with a major only,
/// AWS applies minor versions itself (AutoMinorVersionUpgrade).
pub fn pinned(v: &str) -> bool {
    major(v) != v
}

/// Engines go up, never down; a major upgrade is said to be one.
pub fn engine_version_guard(before: &Value, after: &Value) -> Verdict {
    let (Some(b), Some(a)) = (before.as_str(), after.as_str()) else {
        return Verdict::Allowed;
    };
    if major(a) == major(b) && a.contains('.') && major(a) != a && version_key(a) < version_key(b) {
        return Verdict::Impossible(
            Msg::new("impossible.engine_minor_downgrade")
                .arg("before", b)
                .arg("after", a)
                .arg("major", major(b)),
        );
    }
    if version_key(major(a)) < version_key(major(b)) {
        return Verdict::Impossible(
            Msg::new("impossible.engine_downgrade")
                .arg("before", b)
                .arg("after", a)
                .arg("major", major(b)),
        );
    }
    if major(a) != major(b) {
        Verdict::AllowedWithNote(
            Msg::new("note.major_upgrade")
                .arg("before", major(b))
                .arg("after", major(a)),
        )
    } else {
        Verdict::AllowedWithNote(Msg::new("note.minor_upgrade"))
    }
}

pub fn running_guard(_before: &Value, after: &Value) -> Verdict {
    if after.as_bool() == Some(false) {
        Verdict::AllowedWithNote(Msg::new("note.database_stopped"))
    } else {
        Verdict::AllowedWithNote(Msg::new("note.database_started"))
    }
}

/// What deleting the database loses, given the snapshot policy and whether
/// AWS protects it.
/// Whether the stack's database (an instance or an Aurora cluster) runs:
/// `None` when there is none.
pub fn database_running(live: &crate::live::LiveState) -> Option<bool> {
    live.ours()
        .find(|l| matches!(l.kind, super::Kind::DbInstance | super::Kind::DbCluster))
        .map(|l| !matches!(l.readiness, Readiness::Stopped | Readiness::Deleting))
}

/// A manual snapshot as found by name.
pub struct FoundSnapshot {
    pub status: String,
    pub gib: u32,
}

/// A manual snapshot of an instance (`cluster = false`) or an Aurora
/// cluster, by name.
pub async fn find_snapshot(aws: &crate::aws::Aws, name: &str, cluster: bool) -> Result<Option<FoundSnapshot>> {
    let rds = &aws.rds;
    let gib = |g: Option<i32>| u32::try_from(g.unwrap_or(0)).unwrap_or(0);
    if cluster {
        let out = super::existing(
            rds.describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(name)
                .send()
                .await
                .aws_on("rds:DescribeDBClusterSnapshots", name),
        )?;
        Ok(out.and_then(|o| {
            o.db_cluster_snapshots().first().map(|s| FoundSnapshot {
                status: s.status().unwrap_or_default().to_string(),
                gib: gib(s.allocated_storage()),
            })
        }))
    } else {
        let out = super::existing(
            rds.describe_db_snapshots()
                .db_snapshot_identifier(name)
                .send()
                .await
                .aws_on("rds:DescribeDBSnapshots", name),
        )?;
        Ok(out.and_then(|o| {
            o.db_snapshots().first().map(|s| FoundSnapshot {
                status: s.status().unwrap_or_default().to_string(),
                gib: gib(s.allocated_storage()),
            })
        }))
    }
}

/// Deletes a sleep snapshot once the database is back (gone already: fine).
pub async fn delete_snapshot(aws: &crate::aws::Aws, name: &str, cluster: bool) -> Result<()> {
    let rds = &aws.rds;
    let result = if cluster {
        rds.delete_db_cluster_snapshot()
            .db_cluster_snapshot_identifier(name)
            .send()
            .await
            .aws_on("rds:DeleteDBClusterSnapshot", name)
            .map(|_| ())
    } else {
        rds.delete_db_snapshot()
            .db_snapshot_identifier(name)
            .send()
            .await
            .aws_on("rds:DeleteDBSnapshot", name)
            .map(|_| ())
    };
    super::gone_ok(result)
}

/// Why `sleep --deep --snapshot` deletes the database, and how it comes back.
pub fn sleep_deletion(snapshot: &str) -> String {
    format!(
        "deep sleep: deleted after snapshot {snapshot}; `ekstack wake` (or any apply) restores it from that snapshot under the same identifier, with its data"
    )
}

/// What the plan says of a database made again from its sleep snapshot.
pub fn restore_note(snapshot: &str) -> String {
    format!(
        "restored from its sleep snapshot {snapshot}, with its data (never made empty); the snapshot is deleted once the database is available (`--keep-sleep-snapshot` keeps it)"
    )
}

/// What deleting a database loses; nothing when a sleep snapshot keeps it
/// for the wake.
pub fn deletion_loss(name: &str, protected: bool, policy: &Policy) -> Option<Msg> {
    policy
        .sleep_snapshot
        .is_none()
        .then(|| data_loss(name, protected, policy))
}

pub fn data_loss(name: &str, protected: bool, policy: &Policy) -> Msg {
    let key = match (policy.final_snapshot, protected) {
        (true, false) => "loss.database",
        (false, false) => "loss.database_no_snapshot",
        (true, true) => "loss.database_protected",
        (false, true) => "loss.database_protected_no_snapshot",
    };
    Msg::new(key).arg("name", name)
}

/// Why AWS refuses to delete a protected database, and the way out.
/// `cluster`: an Aurora cluster (`modify-db-cluster`), else an instance.
/// The region is read from the ARN, for the command that works without
/// the stack file.
pub fn protected(id: &str, arn: Option<&str>, cluster: bool) -> super::Blocker {
    let region = arn
        .and_then(|a| a.split(':').nth(3))
        .map(|r| format!(" --region {r}"))
        .unwrap_or_default();
    let (call, flag) = if cluster {
        ("modify-db-cluster", "--db-cluster-identifier")
    } else {
        ("modify-db-instance", "--db-instance-identifier")
    };
    super::Blocker {
        reason: format!("database {id} has deletion protection on"),
        way_out: format!(
            "set `database.deletion_protection = false` (in the stack file or the environment) and run `ekstack apply` to turn the protection off, or, without the stack file, run `aws rds {call}{region} {flag} {id} --no-deletion-protection --apply-immediately`"
        ),
    }
}

/// A snapshot kept after destroy: it bills for its storage until deleted.
pub fn snapshot_remains(name: &str, of: &str, gib: i32, way_out: &str) -> super::Remains {
    let size = if gib > 0 { format!(", {gib} GiB") } else { String::new() };
    super::Remains {
        what: format!("snapshot {name} of {of}{size}"),
        billable: crate::cost::Billable::Snapshot {
            gib: u32::try_from(gib).unwrap_or(0),
        },
        way_out: way_out.to_string(),
    }
}

/// A unique, dated snapshot name, so a second destroy never collides.
pub fn final_snapshot_name(id: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(&time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_else(|_| "now".into());
    format!("{id}-final-{stamp}")
}

/// The running state comes first: `ekstack sleep` only stops a database
/// (`true` returned: nothing else to do), and a stopped database cannot be
/// modified, so it is started before anything else changes. Shared by
/// instances and Aurora clusters, which differ only in the calls.
pub async fn settle_running<O, StopFut, StartFut, WaitFut>(
    step: &Step<'_>,
    live: &Record<O>,
    want_running: bool,
    running_changes: bool,
    stop: impl FnOnce() -> StopFut,
    start: impl FnOnce() -> StartFut,
    wait_ready: impl FnOnce() -> WaitFut,
) -> Result<(Option<Record<O>>, bool)>
where
    StopFut: Future<Output = Result<Record<O>>>,
    StartFut: Future<Output = Result<()>>,
    WaitFut: Future<Output = Result<Record<O>>>,
{
    if !want_running {
        if live.readiness == Readiness::Stopped {
            return Ok((None, true));
        }
        step.status("stopping");
        return Ok((Some(stop().await?), true));
    }
    if running_changes || live.readiness == Readiness::Stopped {
        step.status("starting");
        start().await?;
        return Ok((Some(wait_ready().await?), false));
    }
    Ok((None, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors() {
        assert_eq!(major("16.4"), "16");
        assert_eq!(major("16"), "16");
        assert_eq!(major("8.0.39"), "8.0");
        assert!(matches!(
            engine_version_guard(&"16.4".into(), &"15".into()),
            Verdict::Impossible(_)
        ));
        assert!(
            matches!(engine_version_guard(&"15.7".into(), &"16".into()), Verdict::AllowedWithNote(n) if n.english().contains("major"))
        );
        assert!(matches!(
            engine_version_guard(&"16.4".into(), &"16.2".into()),
            Verdict::Impossible(n) if n.english().contains("minor")
        ));
        assert!(matches!(
            engine_version_guard(&"16.2".into(), &"16.4".into()),
            Verdict::AllowedWithNote(n) if n.english().contains("minor upgrade")
        ));
        assert!(pinned("16.4") && pinned("8.0.39") && !pinned("16") && !pinned("8.0"));
    }
}

/// A database's tie to its parameter group: the group it should use,
/// the parameters the stack's group is to hold, and whether apply may
/// reboot it (`--reboot`).
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterLink {
    /// The group's name: the stack's, or `default.<family>`.
    pub group: String,
    /// The stack's group, when it has one.
    pub custom: Option<super::Ref<super::db_parameter_group::DbParameterGroup>>,
    pub parameters: std::collections::BTreeMap<String, crate::config::Parameter>,
    /// `apply --reboot`: a pending reboot is made, not only reported.
    pub reboot: bool,
}

impl ParameterLink {
    pub fn new(
        stack: &crate::config::Stack,
        family: &str,
        scope: super::db_parameter_group::Scope,
        parameters: &std::collections::BTreeMap<String, crate::config::Parameter>,
    ) -> ParameterLink {
        let custom = !parameters.is_empty();
        ParameterLink {
            group: super::db_parameter_group::group_name(stack, family, scope, custom),
            custom: custom.then(|| super::db_parameter_group::reference(scope)),
            parameters: parameters.clone(),
            reboot: stack.meta.reboot,
        }
    }

    /// The group's name when it is the stack's own: what a create names
    /// (RDS's default group needs no naming).
    pub fn custom_name(&self) -> Option<String> {
        self.custom.as_ref().map(|_| self.group.clone())
    }

    /// Whether the stack's group has static parameters still to change:
    /// once it does, the databases using it are pending a reboot.
    pub fn statics_coming(&self, refs: &dyn super::Resolve) -> bool {
        let live_group = self.custom.as_ref().and_then(|r| refs.live(&r.address));
        !super::db_parameter_group::static_changes(&self.parameters, live_group).is_empty()
    }

    /// Whether the database will be pending a reboot once apply is done,
    /// without one: it is now, the group changes a static parameter
    /// (`statics`), or it moves to another group (applied only at a
    /// reboot; a major upgrade restarts it anyway).
    pub fn pending_after(&self, statics: bool, pending_now: bool, group_now: Option<&str>, upgrading: bool) -> bool {
        pending_now || statics || (!upgrading && group_now.is_some_and(|g| g != self.group))
    }

    /// The two rows every database kind has for its parameter group: the
    /// group it uses (`read_group`), and whether it waits for a reboot
    /// (`pending_after`, in AWS's words: "pending-reboot" or "in-sync").
    pub fn attributes<K: super::ResourceKind>(
        &self,
        group: K::Attr,
        pending: K::Attr,
        read_group: impl Fn(&super::Found<K>) -> Option<String> + Send + Sync + 'static,
        pending_after: impl Fn(&super::Found<K>) -> Value + Send + Sync + 'static,
    ) -> [super::Attribute<K>; 2] {
        [
            super::Attribute::<K>::new(group, "database.parameters", self.group.clone(), move |l| {
                Value::from(read_group(l))
            })
            .in_place("rds:ModifyDBInstance")
            .note(crate::i18n::Msg::new("note.instance_parameter_group")),
            super::Attribute::<K>::new(pending, "database.parameters", IN_SYNC, pending_after)
                .in_place("rds:RebootDBInstance")
                .guard(if self.reboot { reboot_now } else { reboot_later }),
        ]
    }
}

/// Rebooting is what `apply --reboot` asked for.
pub fn reboot_now(_before: &Value, _after: &Value) -> Verdict {
    Verdict::AllowedWithNote(Msg::new("note.reboot_now"))
}

/// Without `--reboot`, a pending reboot is reported, not made.
pub fn reboot_later(_before: &Value, _after: &Value) -> Verdict {
    Verdict::Keep(
        "pending reboot: the parameter group's static parameters (or a new group) take effect at the next reboot; `ekstack apply --reboot` reboots (with a failover if Multi-AZ)".into(),
    )
}

/// Reboots an instance (RebootDBInstance), failing over to the standby
/// when it is Multi-AZ ("Rebooting a DB instance": ForceFailover is for
/// Multi-AZ instances only), and waits a moment for "rebooting" to show.
pub async fn reboot(step: &Step<'_>, id: &str, failover: bool) -> Result<()> {
    let mut call = step.aws().rds.reboot_db_instance().db_instance_identifier(id);
    if failover {
        call = call.force_failover(true);
    }
    call.send().await.aws_on("rds:RebootDBInstance", id)?;
    step.ctx.pause(std::time::Duration::from_secs(2)).await;
    Ok(())
}

/// The parameter group an instance uses and whether it waits for a reboot
/// (`DBParameterGroups[].ParameterApplyStatus` = "pending-reboot").
pub fn instance_group(d: &aws_sdk_rds::types::DbInstance) -> (Option<String>, bool) {
    let group = d.db_parameter_groups().first();
    (
        group.and_then(|g| g.db_parameter_group_name()).map(str::to_string),
        d.db_parameter_groups()
            .iter()
            .any(|g| g.parameter_apply_status() == Some("pending-reboot")),
    )
}

/// `ParameterApplyStatus` when a database runs its group as it is.
pub const IN_SYNC: &str = "in-sync";

/// The plan's view of a database's parameter status, in AWS's words.
pub fn apply_status(pending: bool) -> Value {
    Value::Text(if pending { "pending-reboot" } else { IN_SYNC }.to_string())
}

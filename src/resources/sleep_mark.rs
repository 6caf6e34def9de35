//! The sleeping mark: tags on one EC2 resource of the stack that say it
//! sleeps, since when, how deep, which snapshot holds its database, and
//! when AWS will start a stopped database again. `plan`, `status`, `ls`
//! and `wake` read it; `sleep` writes it and a successful apply of the file
//! removes it.

use anyhow::Result;
use aws_sdk_ec2::types::Tag;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::tags::{TAG_DB_RESTARTS, TAG_SLEEPING, TAG_SLEEP_DEPTH, TAG_SLEEP_SNAPSHOT, TAG_SLEEP_UNTIL};
use super::Kind;
use crate::aws::errors::AwsResultExt;
use crate::aws::Aws;
use crate::config::SleepDepth;
use crate::live::{Live, LiveState, Origin};

/// AWS starts a stopped RDS instance or Aurora cluster again after seven
/// days ("Stopping an Amazon RDS DB instance temporarily": "you can stop a
/// DB instance for up to seven days. If you don't manually start your DB
/// instance after seven days, your DB instance is automatically started").
pub const STOPPED_DAYS: i64 = 7;

/// What the mark says.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SleepMark {
    /// RFC 3339.
    pub since: String,
    pub depth: SleepDepth,
    /// The database's snapshot (`--snapshot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// When AWS starts the stopped database again (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_restarts: Option<String>,
    /// The end of `sleep --for DAYS` (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl SleepMark {
    /// A mark for a sleep starting `now`: a stopped database restarts
    /// [`STOPPED_DAYS`] later.
    pub fn new(now: OffsetDateTime, depth: SleepDepth, stops_database: bool, days: Option<u32>, db: &str) -> Self {
        let stamp = |t: OffsetDateTime| {
            t.replace_nanosecond(0)
                .unwrap_or(t)
                .format(&Rfc3339)
                .unwrap_or_default()
        };
        let snapshot = (depth == SleepDepth::DeepSnapshot).then(|| {
            let compact = now
                .format(&time::macros::format_description!(
                    "[year][month][day]-[hour][minute][second]"
                ))
                .unwrap_or_default();
            format!("{db}-sleep-{compact}")
        });
        SleepMark {
            since: stamp(now),
            depth,
            snapshot,
            database_restarts: (stops_database && depth != SleepDepth::DeepSnapshot)
                .then(|| stamp(now + time::Duration::days(STOPPED_DAYS))),
            until: days.map(|d| stamp(now + time::Duration::days(i64::from(d)))),
        }
    }

    fn tags(&self) -> Vec<Tag> {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let mut tags = vec![tag(TAG_SLEEPING, &self.since)];
        if self.depth.is_deep() {
            tags.push(tag(TAG_SLEEP_DEPTH, self.depth.as_str()));
        }
        tags.extend(self.snapshot.iter().map(|s| tag(TAG_SLEEP_SNAPSHOT, s)));
        tags.extend(self.database_restarts.iter().map(|s| tag(TAG_DB_RESTARTS, s)));
        tags.extend(self.until.iter().map(|s| tag(TAG_SLEEP_UNTIL, s)));
        tags
    }
}

/// What carries the sleeping mark: the stack's own VPC, or in a VPC it
/// was given (which ekstack never tags), its database's security group,
/// which every sleep keeps, else its first security group.
pub fn holder(live: &LiveState) -> Option<&Live> {
    let own = |l: &&Live| l.origin != Origin::Given;
    live.ours().filter(own).find(|l| l.kind == Kind::Vpc).or_else(|| {
        let groups = || live.ours().filter(own).filter(|l| l.kind == Kind::SecurityGroup);
        groups()
            .find(|l| l.address == super::security_group::database().address)
            .or_else(|| groups().min_by(|a, b| a.address.cmp(&b.address)))
    })
}

/// The mark, if the stack carries one.
pub fn read(live: &LiveState) -> Option<SleepMark> {
    let tags = &holder(live)?.tags;
    let since = tags.get(TAG_SLEEPING)?.clone();
    Some(SleepMark {
        since,
        depth: tags
            .get(TAG_SLEEP_DEPTH)
            .and_then(|d| d.parse().ok())
            .unwrap_or_default(),
        snapshot: tags.get(TAG_SLEEP_SNAPSHOT).cloned(),
        database_restarts: tags.get(TAG_DB_RESTARTS).cloned(),
        until: tags.get(TAG_SLEEP_UNTIL).cloned(),
    })
}

/// Whether the stack carries the sleeping mark.
pub fn is_asleep(live: &LiveState) -> bool {
    read(live).is_some()
}

/// Puts the mark on `holder` (replacing any earlier one).
pub async fn write(aws: &Aws, holder: &str, mark: &SleepMark) -> Result<()> {
    clear(aws, holder).await?;
    aws.ec2
        .create_tags()
        .resources(holder)
        .set_tags(Some(mark.tags()))
        .send()
        .await
        .aws_on("ec2:CreateTags", holder)?;
    Ok(())
}

/// Takes the mark off `holder`.
pub async fn clear(aws: &Aws, holder: &str) -> Result<()> {
    let keys = [
        TAG_SLEEPING,
        TAG_SLEEP_DEPTH,
        TAG_SLEEP_SNAPSHOT,
        TAG_DB_RESTARTS,
        TAG_SLEEP_UNTIL,
    ];
    aws.ec2
        .delete_tags()
        .resources(holder)
        .set_tags(Some(keys.iter().map(|k| Tag::builder().key(*k).build()).collect()))
        .send()
        .await
        .aws_on("ec2:DeleteTags", holder)?;
    Ok(())
}

/// Whether an RFC 3339 time has passed.
pub fn passed(at: &str, now: OffsetDateTime) -> bool {
    OffsetDateTime::parse(at, &Rfc3339).is_ok_and(|t| t <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_database_restarts_seven_days_after_the_sleep() {
        let now = OffsetDateTime::parse("2026-12-02T03:04:05.678Z", &Rfc3339).unwrap();
        let light = SleepMark::new(now, SleepDepth::Light, true, Some(5), "s-db");
        assert_eq!(light.since, "2026-12-02T03:04:05Z");
        assert_eq!(light.database_restarts.as_deref(), Some("2026-12-09T03:04:05Z"));
        assert_eq!(light.until.as_deref(), Some("2026-12-07T03:04:05Z"));
        assert_eq!(light.snapshot, None);
        let snap = SleepMark::new(now, SleepDepth::DeepSnapshot, true, Some(30), "s-db");
        assert_eq!(snap.snapshot.as_deref(), Some("s-db-sleep-20261202-030405"));
        assert_eq!(snap.database_restarts, None, "a deleted database does not restart");
        let none = SleepMark::new(now, SleepDepth::Deep, false, None, "s-db");
        assert_eq!(none.database_restarts, None, "no database, nothing restarts");
        assert!(passed("2026-12-01T00:00:00Z", now));
        assert!(!passed("2026-12-09T03:04:05Z", now));
    }
}

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::*;
use crate::config::{load, Overlay, Stack};
use crate::graph::{self, Graph};
use crate::live::{LiveState, Readiness, Tags};
use crate::resources::{self, db_instance, vpc, Attribute, Changes, Desired, Discovery, Inputs, Kind, New, Step};

/// A sample stack as plan sees it: with the account STS would name.
fn stack(name: &str, env: &str) -> Stack {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("stacks/{name}.toml"));
    let mut stack = load(&path, &Overlay::Env(env.into()), None).unwrap().stack;
    stack.meta.account = Some("111122223333".into());
    stack
}

fn db(o: impl FnOnce(&mut db_instance::Observed)) -> Live {
    let mut observed = db_instance::Observed {
        engine: "postgres".into(),
        version: "16.4".into(),
        class: "db.t4g.micro".into(),
        storage_gib: 20,
        multi_az: false,
        backup_retention_days: 7,
        deletion_protection: false,
        performance_insights: Some(false),
        auto_minor_version_upgrade: true,
        username: "app".into(),
        db_name: "app".into(),
        publicly_accessible: false,
        running: true,
        endpoint: None,
        port: None,
        secret_arn: Some("arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!db-1".into()),
        az: None,
        subnet_group: None,
        security_groups: vec![],
        replicas: vec![],
        parameter_group: Some("default.postgres16".into()),
        pending_reboot: false,
    };
    o(&mut observed);
    use resources::ResourceKind as _;
    db_instance::DbInstance::found("db-instance", "learning-db", "available", Readiness::Ready, observed)
        .with_tags(stack("learning", "mvp").meta.tags)
        .erase()
}

fn action<'a>(actions: &'a [ResourceAction], address: &str) -> &'a ResourceAction {
    actions
        .iter()
        .find(|a| a.address == address && a.action != Action::Delete)
        .unwrap()
}

fn plan(s: &Stack, live: Vec<Live>) -> (Vec<ResourceAction>, Vec<String>) {
    let policy = Policy {
        sleep_snapshot: None,
        sleeping: false,
        final_snapshot: true,
        finish_migration: false,
        delete_images: false,
    };
    diff(&graph::build(s).unwrap(), &LiveState { resources: live }, &policy).unwrap()
}

#[test]
fn a_matching_database_is_a_no_op_and_drift_is_an_update_with_its_api_call() {
    let s = stack("learning", "mvp");
    let (actions, _) = plan(&s, vec![db(|_| {})]);
    assert_eq!(action(&actions, "db-instance").action, Action::NoOp);

    let (actions, _) = plan(&s, vec![db(|o| o.backup_retention_days = 1)]);
    let a = action(&actions, "db-instance");
    assert_eq!(a.action, Action::Update);
    assert_eq!(a.changes.len(), 1);
    let c = &a.changes[0];
    assert_eq!(
        (c.path.as_str(), c.attribute.as_str()),
        ("database.backup_retention_days", "backup_retention_days")
    );
    assert_eq!((c.before.clone(), c.after.clone()), (Value::Int(1), Value::Int(7)));
    assert_eq!(c.via.as_deref(), Some("rds:ModifyDBInstance"));
}

#[test]
fn what_forces_replacement_and_what_aws_cannot_do_are_told_apart() {
    let s = stack("learning", "mvp");
    let (actions, _) = plan(&s, vec![db(|o| o.username = "admin".into())]);
    let a = action(&actions, "db-instance");
    assert_eq!(a.action, Action::Replace);
    assert!(
        a.reasons[0].starts_with("database.username forces replacement"),
        "{:?}",
        a.reasons
    );
    assert!(a.data_loss.as_ref().unwrap().english().contains("final snapshot"));

    let (actions, _) = plan(&s, vec![db(|o| o.storage_gib = 50)]);
    let a = action(&actions, "db-instance");
    assert_eq!(a.action, Action::NoOp, "a shrink is never attempted");
    assert_eq!(a.impossible.len(), 1);
    assert!(a.impossible[0].reason.english().contains("can only grow"));
}

#[test]
fn an_unreported_attribute_is_skipped_only_where_its_row_says_why() {
    let s = stack("learning", "prod");
    // moto leaves Performance Insights out; the row says so, so prod's `true` is not drift.
    let (actions, _) = plan(&s, vec![db(|o| o.performance_insights = None)]);
    assert!(!action(&actions, "db-instance").changes_attribute("performance_insights"));
}

/// A kind whose attribute table reads an optional field without saying
/// that AWS may leave it out.
struct Strict;

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
enum StrictAttr {
    Size,
}

#[derive(Debug, Clone)]
struct StrictObserved {
    size: Option<i64>,
}

impl resources::ResourceKind for Strict {
    const KIND: Kind = Kind::Vpc;
    type Spec = i64;
    type Observed = StrictObserved;
    type Attr = StrictAttr;

    fn desired(_: &Stack) -> Vec<New<Self>> {
        vec![]
    }
    fn references(_: &i64) -> Vec<crate::graph::Address> {
        vec![]
    }
    fn attributes(d: &Desired<'_, Self>, _: &dyn Resolve) -> Vec<Attribute<Self>> {
        vec![
            Attribute::<Self>::reported(StrictAttr::Size, "strict.size", *d.spec, |l| {
                l.observed.size.map(Value::from)
            })
            .in_place("strict:Resize"),
        ]
    }
    fn points_at(_: &StrictObserved) -> Vec<String> {
        vec![]
    }
    async fn discover(_: &Discovery<'_>, _: Option<&Live>) -> anyhow::Result<Vec<Found<Self>>> {
        Ok(vec![])
    }
    async fn create(_: &Step<'_>, _: &Desired<'_, Self>, _: &Inputs) -> anyhow::Result<Found<Self>> {
        anyhow::bail!("not made in tests")
    }
    async fn update(
        _: &Step<'_>,
        _: &Desired<'_, Self>,
        _: &Found<Self>,
        _: &Changes<Self>,
        _: &Inputs,
    ) -> anyhow::Result<Found<Self>> {
        anyhow::bail!("not made in tests")
    }
    async fn delete(_: &Step<'_>, _: &Found<Self>) -> anyhow::Result<()> {
        Ok(())
    }
}

#[test]
fn the_diff_fails_loudly_when_an_observed_value_lacks_a_desired_attribute() {
    use resources::ResourceKind as _;
    let tags = Tags::new();
    let d = Desired::<Strict> {
        address: "strict",
        name: "strict",
        tags: &tags,
        spec: &3,
    };
    let refs = BTreeMap::<String, Live>::new();
    let reported = Strict::found(
        "strict",
        "s-1",
        "ok",
        Readiness::Ready,
        StrictObserved { size: Some(2) },
    );
    let c = compare::<Strict>(&d, Some(&reported), &refs).unwrap();
    assert_eq!(c.changes.len(), 1, "a reported difference is a change");

    let unreported = Strict::found("strict", "s-1", "ok", Readiness::Ready, StrictObserved { size: None });
    let err = compare::<Strict>(&d, Some(&unreported), &refs).unwrap_err().to_string();
    assert!(err.contains("did not observe `size`"), "{err}");
    assert!(err.contains("strict.size"), "{err}");
}

#[test]
fn every_attribute_a_kind_names_is_compared_for_some_sample_stack() {
    let mut compared: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
    for (name, env) in [
        ("learning", "mvp"),
        ("learning", "prod"),
        ("aurora", "mvp"),
        ("aurora", "prod"),
        ("fargate", "mvp"),
        ("team", "mvp"),
        ("shop", "mvp"),
        ("given-vpc", "mvp"),
    ] {
        let mut stack = stack(name, env);
        // A given subnet's one attribute is compared with --tag-subnets.
        stack.meta.tag_subnets = true;
        let g: Graph = graph::build(&stack).unwrap();
        for r in &g.resources {
            let refs = BTreeMap::<String, Live>::new();
            let c = r.kind.ops().compare(r, None, &refs).unwrap();
            compared
                .entry(r.kind)
                .or_default()
                .extend(c.changes.into_iter().map(|c| c.attribute));
        }
    }
    for kind in Kind::all() {
        let named: BTreeSet<String> = kind.ops().attribute_names().into_iter().map(String::from).collect();
        assert_eq!(
            compared.get(&kind),
            Some(&named),
            "{kind}: every attribute has a row in its table"
        );
    }
}

#[test]
fn unknown_until_apply_is_a_state_of_the_value() {
    let s = stack("learning", "mvp");
    let (actions, _) = plan(&s, vec![]);
    let igw = action(&actions, "internet-gateway");
    assert_eq!(igw.action, Action::Create);
    let vpc_change = igw.changes.iter().find(|c| c.attribute == "vpc").unwrap();
    assert_eq!(vpc_change.after, Value::Unknown);

    // Once the VPC is live, its id is known to what references it.
    use resources::ResourceKind as _;
    let live_vpc = vpc::Vpc::found(
        "vpc",
        "vpc-1",
        "available",
        Readiness::Ready,
        vpc::Observed {
            cidr: "10.0.0.0/16".into(),
        },
    )
    .with_tags(s.meta.tags.clone())
    .erase();
    let (actions, _) = plan(&s, vec![live_vpc]);
    let igw = action(&actions, "internet-gateway");
    let vpc_change = igw.changes.iter().find(|c| c.attribute == "vpc").unwrap();
    assert_eq!(vpc_change.after, Value::Text("vpc-1".into()));
}

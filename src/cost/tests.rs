//! Tests of the price table and the estimator: figures against published
//! prices, the orderings users rely on (prod > mvp, sleep saves), and the rule
//! that an unknown price is never counted as zero.

use std::io::Write;

use super::*;
use crate::config::*;
use crate::graph::Graph;
use crate::resources::Kind;

const REGIONS: [&str; 4] = ["ap-northeast-1", "us-east-1", "us-west-2", "eu-west-1"];

/// The learning stack in `region` with the given knobs, through the real
/// configuration loader (so subnets and AZs are derived as for a user).
fn learning(region: &str, nat: NatMode, desired: i32, class: &str, multi_az: bool) -> Stack {
    let text = format!(
        r#"
[stack]
name = "learning"
region = "{region}"

[network]
cidr = "10.0.0.0/16"
azs = 2
nat = "{nat}"

[eks]
version = "1.35"

[eks.nodegroups.general]
instance_types = ["t3.medium"]
min = 1
desired = {desired}
max = {max}
disk_gib = 20

[eks.fargate.apps]
namespaces = ["app"]

[database]
engine = "postgres"
version = "16"
class = "{class}"
storage_gib = 20
multi_az = {multi_az}
"#,
        nat = nat.as_str(),
        max = desired.max(2) * 2,
    );
    load_text(&text)
}

fn load_text(text: &str) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.toml");
    std::fs::write(&path, text).unwrap();
    load(&path, &Overlay::None, None).unwrap().stack
}

fn mvp(region: &str) -> Stack {
    learning(region, NatMode::Single, 1, "db.t4g.micro", false)
}

fn prod(region: &str) -> Stack {
    learning(region, NatMode::PerAz, 3, "db.m6g.large", true)
}

fn aurora_serverless() -> Stack {
    let text = r#"
[stack]
name = "learning"
region = "eu-west-1"

[network]
azs = 2
nat = "single"

[database]
engine = "aurora-postgresql"
version = "16"
class = "db.serverless"

[database.serverless]
min_acu = 0.5
max_acu = 4
"#;
    load_text(text)
}

/// What the stack bills after apply: each kind's billables over the graph.
fn stack_billables(stack: &Stack) -> Vec<(String, Billable)> {
    desired_billables(&crate::graph::build(stack).unwrap())
}

/// What it bills asleep: the graph of its sleeping form.
fn sleeping_billables(stack: &Stack) -> Vec<(String, Billable)> {
    stack_billables(&stack.sleeping(SleepDepth::Light))
}

/// The learning stack as the study guide runs it (`--env mvp`).
fn learning_stack_file() -> Stack {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    crate::config::load(
        &root.join("stacks/learning.toml"),
        &crate::config::Overlay::Env("mvp".into()),
        None,
    )
    .unwrap()
    .stack
}

/// A deep sleep with `--snapshot` leaves only storage: the snapshot
/// (what `plan` adds for the database it deletes) and nothing else of
/// the cluster, the nodes, the NAT or the database's hours.
#[test]
fn a_deep_sleep_costs_at_most_5_percent_of_awake() {
    let t = PriceTable::builtin();
    let stack = learning_stack_file();
    let awake = estimate(&stack.meta.region, &stack_billables(&stack), &t);
    let mut deep = stack_billables(&stack.sleeping(SleepDepth::DeepSnapshot));
    let gib = u32::try_from(stack.database.as_ref().unwrap().storage_gib.unwrap_or(20)).unwrap();
    deep.push(("sleep snapshot".into(), Billable::Snapshot { gib }));
    let asleep = estimate(&stack.meta.region, &deep, &t);
    assert!(asleep.complete);
    assert!(
        asleep.hourly_usd <= 0.05 * awake.hourly_usd,
        "{} of {}",
        asleep.hourly_usd,
        awake.hourly_usd
    );
    assert!(asleep.hourly_usd > 0.0, "the snapshot bills");
    // Without --snapshot the stopped database's storage bills instead, and
    // no control plane.
    let stopped = estimate(
        &stack.meta.region,
        &stack_billables(&stack.sleeping(SleepDepth::Deep)),
        &t,
    );
    assert!(stopped.hourly_usd <= 0.05 * awake.hourly_usd, "{}", stopped.hourly_usd);
    let light = estimate(&stack.meta.region, &sleeping_billables(&stack), &t);
    assert!(
        light.hourly_usd > 0.3 * awake.hourly_usd,
        "the control plane bills asleep"
    );
}

fn price(region: &str, section: Section, item: &str) -> f64 {
    PriceTable::builtin()
        .get(region, section, item)
        .unwrap_or_else(|| panic!("{region} {section:?} {item}"))
        .usd
}

#[test]
fn builtin_table_has_every_region_and_core_item() {
    let t = PriceTable::builtin();
    let ec2 = [
        "t3.micro",
        "t3.small",
        "t3.medium",
        "t3.large",
        "t3.xlarge",
        "t4g.micro",
        "t4g.small",
        "t4g.medium",
        "t4g.large",
        "t4g.xlarge",
        "m5.large",
        "m5.xlarge",
        "m5.2xlarge",
        "m6i.large",
        "m6i.xlarge",
        "m6g.medium",
        "m6g.large",
        "m6g.xlarge",
        "m6g.2xlarge",
        "m7g.medium",
        "m7g.large",
        "m7g.xlarge",
        "c6g.medium",
        "c6g.large",
        "c6g.xlarge",
        "c5.large",
    ];
    let rds = [
        "db.t3.micro",
        "db.t3.small",
        "db.t3.medium",
        "db.t4g.micro",
        "db.t4g.small",
        "db.t4g.medium",
        "db.t4g.large",
        "db.m6g.large",
        "db.m6g.xlarge",
        "db.m5.large",
        "db.m7g.large",
        "db.r6g.large",
    ];
    let aurora = [
        "db.t3.medium",
        "db.t4g.medium",
        "db.t4g.large",
        "db.r6g.large",
        "db.r7g.large",
    ];
    for region in REGIONS {
        assert!(t.regions.contains_key(region), "{region} missing");
        for (section, item) in [
            (Section::Eks, item::EKS_CLUSTER_HOUR),
            (Section::Vpc, item::NAT_GATEWAY_HOUR),
            (Section::Vpc, item::NAT_GATEWAY_GB),
            (Section::Vpc, item::PUBLIC_IPV4_HOUR),
            (Section::Ebs, item::GP3_GB_MONTH),
            (Section::Ebs, item::SNAPSHOT_GB_MONTH),
            (Section::Fargate, item::FARGATE_VCPU_HOUR),
            (Section::Fargate, item::FARGATE_GB_HOUR),
            (Section::RdsStorage, item::GP2_GB_MONTH),
            (Section::RdsStorage, item::GP3_GB_MONTH),
            (Section::RdsStorage, item::GP3_MULTI_AZ_GB_MONTH),
            (Section::RdsStorage, item::BACKUP_GB_MONTH),
            (Section::Aurora, item::ACU_HOUR),
            (Section::Aurora, item::STORAGE_GB_MONTH),
        ] {
            assert!(t.get(region, section, item).is_some(), "{region} {section:?} {item}");
        }
        for i in ec2 {
            assert!(t.get(region, Section::Ec2, i).is_some(), "{region} ec2 {i}");
        }
        for section in [
            Section::RdsPostgres,
            Section::RdsPostgresMultiAz,
            Section::RdsMysql,
            Section::RdsMysqlMultiAz,
        ] {
            for c in rds {
                let single = match section {
                    Section::RdsPostgresMultiAz => Section::RdsPostgres,
                    Section::RdsMysqlMultiAz => Section::RdsMysql,
                    s => s,
                };
                let p = t
                    .get(region, section, c)
                    .unwrap_or_else(|| panic!("{region} {section:?} {c}"))
                    .usd;
                if single != section {
                    let s = t.get(region, single, c).unwrap().usd;
                    assert!(
                        (p - 2.0 * s).abs() < 1e-9,
                        "{region} {c}: Multi-AZ should be 2x single-AZ"
                    );
                }
            }
        }
        for section in [Section::AuroraPostgresql, Section::AuroraMysql] {
            for c in aurora {
                assert!(t.get(region, section, c).is_some(), "{region} {section:?} {c}");
            }
        }
        // Every section records where and when its figures were taken.
        for entries in t.regions[region].sections.values() {
            for (name, e) in entries {
                assert!(
                    e.source.as_deref().is_some_and(|s| s.contains("http")),
                    "{region} {name} has no source"
                );
                assert!(e.retrieved.is_some(), "{region} {name} has no retrieval date");
                assert!(e.usd > 0.0, "{region} {name}");
            }
        }
    }
}

#[test]
fn builtin_figures_match_published_prices() {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(price("us-east-1", Section::Ec2, "t3.medium"), 0.0416));
    assert!(close(price("us-east-1", Section::Vpc, item::NAT_GATEWAY_HOUR), 0.045));
    assert!(close(price("us-east-1", Section::Vpc, item::PUBLIC_IPV4_HOUR), 0.005));
    assert!(close(price("us-east-1", Section::Eks, item::EKS_CLUSTER_HOUR), 0.10));
    assert!(close(price("us-east-1", Section::RdsPostgres, "db.t4g.micro"), 0.016));
    assert!(close(
        price("us-east-1", Section::Fargate, item::FARGATE_VCPU_HOUR),
        0.04048
    ));
    assert!(close(price("us-east-1", Section::Aurora, item::ACU_HOUR), 0.12));
    assert!(close(price("ap-northeast-1", Section::Ec2, "t3.medium"), 0.0544));
    // Tokyo costs more than N. Virginia for what the learning stack uses.
    for (section, item) in [
        (Section::Ec2, "t3.medium"),
        (Section::Ec2, "t4g.medium"),
        (Section::Vpc, item::NAT_GATEWAY_HOUR),
        (Section::RdsPostgres, "db.t4g.micro"),
        (Section::Ebs, item::GP3_GB_MONTH),
        (Section::Fargate, item::FARGATE_VCPU_HOUR),
    ] {
        assert!(
            price("ap-northeast-1", section, item) > price("us-east-1", section, item),
            "{item}"
        );
    }
}

#[test]
fn learning_mvp_is_in_a_sane_band_and_prod_costs_clearly_more() {
    let t = PriceTable::builtin();
    for region in REGIONS {
        let m = estimate(region, &stack_billables(&mvp(region)), &t);
        let p = estimate(region, &stack_billables(&prod(region)), &t);
        assert!(m.complete && p.complete, "{region}: {:?} {:?}", m.unknown, p.unknown);
        // Control plane 73 + NAT ~33-45 + a t3.medium ~30-40 + a micro DB ~12-18.
        assert!(
            (140.0..230.0).contains(&m.monthly_usd),
            "{region} mvp {}",
            m.monthly_usd
        );
        assert!(
            p.monthly_usd > 1.8 * m.monthly_usd,
            "{region} prod {} mvp {}",
            p.monthly_usd,
            m.monthly_usd
        );
        assert!((m.monthly_usd - m.hourly_usd * HOURS_PER_MONTH).abs() < 0.1);
    }
    let tokyo = estimate("ap-northeast-1", &stack_billables(&mvp("ap-northeast-1")), &t);
    let virginia = estimate("us-east-1", &stack_billables(&mvp("us-east-1")), &t);
    assert!(tokyo.monthly_usd > virginia.monthly_usd);
}

#[test]
fn sleep_cuts_the_hourly_cost_by_more_than_40_percent() {
    let t = PriceTable::builtin();
    for region in REGIONS {
        for stack in [mvp(region), prod(region)] {
            let awake = estimate(region, &stack_billables(&stack), &t);
            let asleep = estimate(region, &sleeping_billables(&stack), &t);
            assert!(asleep.complete);
            assert!(
                asleep.hourly_usd < 0.6 * awake.hourly_usd,
                "{region}: {} vs {}",
                asleep.hourly_usd,
                awake.hourly_usd
            );
            assert!(asleep.hourly_usd > 0.0, "the control plane and storage keep billing");
        }
    }
    // The same with hand-built sleep-like inputs.
    let awake = vec![
        ("eks-cluster".to_string(), Billable::EksControlPlane { extended: false }),
        ("nat-gateway.x".to_string(), Billable::NatGateway),
        ("eip.nat.x".to_string(), Billable::PublicIpv4),
        (
            "eks-nodegroup.general".to_string(),
            Billable::Ec2 {
                instance_type: "t3.medium".into(),
                count: 2,
                spot: false,
            },
        ),
        (
            "eks-nodegroup.general".to_string(),
            Billable::EbsGp3 { gib: 20, count: 2 },
        ),
        (
            "db-instance".to_string(),
            Billable::RdsInstance {
                engine: Engine::Postgres,
                class: "db.t4g.micro".into(),
                multi_az: false,
                running: true,
            },
        ),
        (
            "db-instance".to_string(),
            Billable::RdsStorage {
                gib: 20,
                multi_az: false,
            },
        ),
    ];
    let asleep = vec![
        ("eks-cluster".to_string(), Billable::EksControlPlane { extended: false }),
        (
            "eks-nodegroup.general".to_string(),
            Billable::Ec2 {
                instance_type: "t3.medium".into(),
                count: 0,
                spot: false,
            },
        ),
        (
            "eks-nodegroup.general".to_string(),
            Billable::EbsGp3 { gib: 20, count: 0 },
        ),
        (
            "db-instance".to_string(),
            Billable::RdsInstance {
                engine: Engine::Postgres,
                class: "db.t4g.micro".into(),
                multi_az: false,
                running: false,
            },
        ),
        (
            "db-instance".to_string(),
            Billable::RdsStorage {
                gib: 20,
                multi_az: false,
            },
        ),
    ];
    let a = estimate("us-east-1", &awake, &t);
    let s = estimate("us-east-1", &asleep, &t);
    assert!(
        s.hourly_usd < 0.6 * a.hourly_usd,
        "{} vs {}",
        s.hourly_usd,
        a.hourly_usd
    );
}

#[test]
fn unknown_prices_are_listed_and_never_counted_as_zero() {
    let t = PriceTable::builtin();
    let known = vec![("eks-cluster".to_string(), Billable::EksControlPlane { extended: false })];
    let mut items = known.clone();
    items.push((
        "eks-nodegroup.gpu".to_string(),
        Billable::Ec2 {
            instance_type: "p5.48xlarge".into(),
            count: 2,
            spot: false,
        },
    ));
    let e = estimate("us-east-1", &items, &t);
    assert!(!e.complete);
    assert_eq!(e.unknown, vec!["2 x EC2 p5.48xlarge (on-demand)".to_string()]);
    let line = &e.lines[1];
    assert_eq!(line.hourly_usd, None);
    assert_eq!(line.monthly_usd, None);
    assert_eq!(e.hourly_usd, estimate("us-east-1", &known, &t).hourly_usd);
    let text = crate::render::cost::lines(&e);
    assert!(text.contains("unknown"), "{text}");
    assert!(text.contains("p5.48xlarge"), "{text}");

    // An unknown region prices nothing and says so.
    let e = estimate("mars-north-1", &known, &t);
    assert!(!e.complete);
    assert_eq!(e.lines[0].hourly_usd, None);
    assert!(e.lines[0].note.as_deref().unwrap().contains("mars-north-1"));
}

#[test]
fn a_user_file_overrides_one_price_and_keeps_the_rest() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        r#"
[regions."us-east-1".ec2]
source = "our negotiated rate card"
retrieved = "2026-11-01"
[regions."us-east-1".ec2.prices]
"t3.medium" = 0.03

[regions."xx-test-1".eks.prices]
cluster_hour = 0.2
"#
    )
    .unwrap();
    let t = PriceTable::load(f.path()).unwrap();
    let base = PriceTable::builtin();
    assert_eq!(t.get("us-east-1", Section::Ec2, "t3.medium").unwrap().usd, 0.03);
    assert_eq!(
        t.get("us-east-1", Section::Ec2, "t3.large"),
        base.get("us-east-1", Section::Ec2, "t3.large")
    );
    assert_eq!(
        t.get("us-east-1", Section::Vpc, item::NAT_GATEWAY_HOUR),
        base.get("us-east-1", Section::Vpc, item::NAT_GATEWAY_HOUR)
    );
    assert_eq!(
        t.get("xx-test-1", Section::Eks, item::EKS_CLUSTER_HOUR).unwrap().usd,
        0.2
    );
    let e = estimate(
        "us-east-1",
        &[(
            "n".to_string(),
            Billable::Ec2 {
                instance_type: "t3.medium".into(),
                count: 1,
                spot: false,
            },
        )],
        &t,
    );
    assert_eq!(e.lines[0].hourly_usd, Some(0.03));
    assert!(e.lines[0].note.as_deref().unwrap().contains("price from"));
}

#[test]
fn a_bad_user_file_is_an_error_not_a_silent_zero() {
    for bad in [
        "[regions.\"us-east-1\".vpc.prices]\nnat_gatway_hour = 0.05\n",
        "[regions.\"us-east-1\".ec2.prices]\n\"t3.medium\" = -1.0\n",
        "[regions.\"us-east-1\".ec2s.prices]\n\"t3.medium\" = 0.1\n",
        "[meta]\ncurrency = \"JPY\"\n",
    ] {
        assert!(PriceTable::from_toml_str(bad, "test").is_err(), "{bad}");
    }
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "[regions.\"us-east-1\".vpc.prices]\nnat_gatway_hour = 0.05").unwrap();
    let err = format!("{:#}", PriceTable::load(f.path()).unwrap_err());
    assert!(
        err.contains("nat_gatway_hour") && err.contains("nat_gateway_hour"),
        "{err}"
    );
}

#[test]
fn every_billable_is_at_an_address_of_the_graph_and_of_the_kind_that_bills_it() {
    for stack in [mvp("ap-northeast-1"), prod("us-east-1"), aurora_serverless()] {
        let graph: Graph = crate::graph::build(&stack).unwrap();
        let billed = desired_billables(&graph);
        for (address, billable) in &billed {
            let r = graph
                .get(address)
                .unwrap_or_else(|| panic!("{address} bills {billable:?} but is not in the graph"));
            let expected_kind = match billable {
                Billable::EksControlPlane { .. } | Billable::EksAutoModeNodes { .. } => Kind::EksCluster,
                Billable::RdsProxy { .. } => Kind::DbProxy,
                Billable::NatGateway => Kind::NatGateway,
                Billable::PublicIpv4 => Kind::Eip,
                Billable::Ec2 { .. } | Billable::EbsGp3 { .. } => Kind::EksNodegroup,
                Billable::RdsInstance { .. } | Billable::RdsStorage { .. } => Kind::DbInstance,
                Billable::AuroraStorage { .. } => Kind::DbCluster,
                Billable::AuroraInstance { .. } | Billable::AuroraServerless { .. } => Kind::DbClusterInstance,
                Billable::FargatePod { .. } | Billable::Snapshot { .. } | Billable::EcrStorage { .. } => {
                    panic!("not billed by the file")
                }
            };
            assert_eq!(r.kind, expected_kind, "{address}: {billable:?}");
        }
        // Every NAT gateway and its address bill; every node group bills its nodes and disks.
        for r in &graph.resources {
            let lines = billed.iter().filter(|(a, _)| *a == r.address).count();
            let expected = match r.kind {
                Kind::NatGateway | Kind::Eip | Kind::EksCluster | Kind::DbCluster | Kind::DbClusterInstance => 1,
                Kind::EksNodegroup | Kind::DbInstance => 2,
                _ => 0,
            };
            assert_eq!(lines, expected, "{}", r.address);
        }
    }
    let p = stack_billables(&prod("us-east-1"));
    assert!(p.iter().any(|(_, b)| *b
        == Billable::Ec2 {
            instance_type: "t3.medium".into(),
            count: 3,
            spot: false
        }));
    let mut none = mvp("us-east-1");
    none.network.nat = NatMode::None;
    assert!(!stack_billables(&none)
        .iter()
        .any(|(_, b)| matches!(b, Billable::NatGateway | Billable::PublicIpv4)));
    let a = stack_billables(&aurora_serverless());
    assert!(a.iter().any(|(_, b)| *b
        == Billable::AuroraServerless {
            min_acu: 0.5,
            max_acu: 4.0,
            running: true
        }));
}

#[test]
fn aurora_serverless_is_priced_at_min_acu_with_max_as_a_bound() {
    let t = PriceTable::builtin();
    let e = estimate("eu-west-1", &stack_billables(&aurora_serverless()), &t);
    assert!(e.complete, "{:?}", e.unknown);
    let line = e.lines.iter().find(|l| l.address == "db-cluster-instance.1").unwrap();
    let acu = price("eu-west-1", Section::Aurora, item::ACU_HOUR);
    assert!((line.hourly_usd.unwrap() - 0.5 * acu).abs() < 1e-9);
    assert!(line.note.as_deref().unwrap().contains("4 ACU"), "{:?}", line.note);
    let storage = e.lines.iter().find(|l| l.address == "db-cluster").unwrap();
    assert!(storage.note.as_deref().unwrap().contains("10 GiB assumed"));

    // A provisioned Aurora class is priced per instance; db.serverless as an
    // instance is unknown rather than zero.
    let items = vec![
        (
            "db-cluster-instance.1".to_string(),
            Billable::AuroraInstance {
                engine: Engine::AuroraMysql,
                class: "db.r6g.large".into(),
                running: true,
            },
        ),
        (
            "db-cluster-instance.2".to_string(),
            Billable::AuroraInstance {
                engine: Engine::AuroraMysql,
                class: "db.serverless".into(),
                running: true,
            },
        ),
    ];
    let e = estimate("us-east-1", &items, &t);
    assert!(e.lines[0].hourly_usd.unwrap() > 0.2);
    assert_eq!(e.lines[1].hourly_usd, None);
    assert!(!e.complete);
}

#[test]
fn spot_is_labelled_as_an_upper_bound() {
    let t = PriceTable::builtin();
    let e = estimate(
        "us-west-2",
        &[(
            "n".to_string(),
            Billable::Ec2 {
                instance_type: "m6g.large".into(),
                count: 2,
                spot: true,
            },
        )],
        &t,
    );
    assert!((e.lines[0].hourly_usd.unwrap() - 0.154).abs() < 1e-9);
    assert!(e.lines[0].note.as_deref().unwrap().contains("upper bound"));
}

#[test]
fn fargate_snapshot_and_storage_lines() {
    let t = PriceTable::builtin();
    let items = vec![
        (
            "pods".to_string(),
            Billable::FargatePod {
                vcpu: 0.25,
                memory_gib: 0.5,
                count: 4,
            },
        ),
        ("snap".to_string(), Billable::Snapshot { gib: 20 }),
        (
            "db-instance".to_string(),
            Billable::RdsStorage {
                gib: 100,
                multi_az: true,
            },
        ),
    ];
    let e = estimate("us-east-1", &items, &t);
    assert!(e.complete);
    let pods = e.lines[0].hourly_usd.unwrap();
    assert!((pods - 4.0 * (0.25 * 0.04048 + 0.5 * 0.004445)).abs() < 1e-6);
    assert!((e.lines[1].monthly_usd.unwrap() - 20.0 * 0.095).abs() < 0.01);
    assert!((e.lines[2].monthly_usd.unwrap() - 23.0).abs() < 0.01);
}

#[test]
fn estimates_serialize_for_json_output_and_render_aligned() {
    let t = PriceTable::builtin();
    let e = estimate("ap-northeast-1", &stack_billables(&mvp("ap-northeast-1")), &t);
    let v = serde_json::json!({ "cost": e });
    assert!(v["cost"]["monthly_usd"].as_f64().unwrap() > 0.0);
    assert!(v["cost"]["hourly_usd"].as_f64().unwrap() > 0.0);
    let graph = crate::graph::build(&mvp("ap-northeast-1")).unwrap();
    let first_billed = graph
        .resources
        .iter()
        .find(|r| !r.kind.ops().billables(r).is_empty())
        .unwrap();
    assert_eq!(v["cost"]["lines"][0]["address"], first_billed.address.as_str());
    serde_json::to_string(&stack_billables(&mvp("ap-northeast-1"))).unwrap();
    serde_json::to_string(&t).unwrap();
    let text = crate::render::cost::lines(&e);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ADDRESS"));
    assert!(lines.last().unwrap().starts_with("total"));
    // The $/hour column ends at the same place on every row.
    let col = lines[0].find("USD/HOUR").unwrap() + "USD/HOUR".len();
    for l in &lines[1..] {
        assert!(l.as_bytes()[col - 1].is_ascii_digit(), "{l}");
    }
    println!("{text}");
}

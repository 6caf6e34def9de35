//! Unit tests of loading, merging and validating stack files.

use std::path::{Path, PathBuf};

use super::*;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("stacks")).unwrap();
        std::fs::create_dir_all(d.path().join("environments")).unwrap();
        Dir(d)
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.path().join(rel);
        std::fs::write(&p, text).unwrap();
        p
    }
}

const BASE: &str = "[stack]\nname = \"t\"\nregion = \"us-east-1\"\n";

fn errors(text: &str) -> Vec<String> {
    let d = Dir::new();
    let p = d.write("stacks/s.toml", text);
    match load(&p, &Overlay::None, None) {
        Ok(_) => vec![],
        Err(e) => e.summary_lines(),
    }
}

fn ok(text: &str) -> Stack {
    let d = Dir::new();
    let p = d.write("stacks/s.toml", text);
    match load(&p, &Overlay::None, None) {
        Ok(l) => l.stack,
        Err(e) => panic!("expected valid, got {:?}", e.summary_lines()),
    }
}

fn assert_error(text: &str, line: usize, key: &str, rule: &str) {
    let errs = errors(text);
    assert!(
        errs.iter()
            .any(|e| e.contains(&format!("s.toml:{line}:")) && e.contains(key) && e.contains(rule)),
        "wanted line {line} key {key} rule {rule:?}, got {errs:#?}"
    );
}

#[test]
fn stack_and_network_alone_is_valid_with_defaults() {
    let s = ok(&format!("{BASE}[network]\ncidr = \"10.0.0.0/16\"\n"));
    assert_eq!(s.network.azs, vec!["us-east-1a", "us-east-1b"]);
    assert_eq!(s.network.nat, NatMode::Single);
    assert_eq!(s.network.public_subnets[0].to_string(), "10.0.0.0/20");
    assert_eq!(s.network.private_subnets[0].to_string(), "10.0.128.0/20");
    assert!(s.eks.is_none() && s.database.is_none());
}

#[test]
fn adding_an_az_keeps_existing_subnets() {
    let two = ok(&format!("{BASE}[network]\nazs = 2\n"));
    let three = ok(&format!("{BASE}[network]\nazs = 3\n"));
    assert_eq!(two.network.public_subnets[..], three.network.public_subnets[..2]);
    assert_eq!(two.network.private_subnets[..], three.network.private_subnets[..2]);
    assert_eq!(three.network.private_subnets[2].to_string(), "10.0.160.0/20");
}

#[test]
fn unknown_key_names_line_and_suggests() {
    let errs = errors(&format!("{BASE}[network]\nnatt = \"single\"\n"));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].contains("s.toml:5:1: network.natt: unknown key `natt`"),
        "{errs:?}"
    );
    let d = Dir::new();
    let p = d.write("stacks/s.toml", &format!("{BASE}[network]\nnatt = \"single\"\n"));
    let rendered = load(&p, &Overlay::None, None)
        .unwrap_err()
        .render(false, crate::i18n::Lang::En);
    assert!(rendered.contains("did you mean `nat`?"), "{rendered}");
}

#[test]
fn enum_values_are_checked_with_a_suggestion() {
    assert_error(
        &format!("{BASE}[network]\nnat = \"per_az\"\n"),
        5,
        "network.nat",
        "must be one of",
    );
    assert_error(
        &format!("{BASE}[eks]\nendpoint = \"open\"\n"),
        5,
        "eks.endpoint",
        "must be one of",
    );
    assert_error(
        &format!("{BASE}[eks]\nlogging = [\"api\", \"audits\"]\n"),
        5,
        "eks.logging[1]",
        "must be one of",
    );
    assert_error(
        &format!("{BASE}[database]\nengine = \"postgresql\"\n"),
        5,
        "database.engine",
        "must be one of",
    );
}

#[test]
fn names_follow_aws_rules() {
    assert_error(
        "[stack]\nname = \"Shop\"\nregion = \"us-east-1\"\n",
        2,
        "stack.name",
        "[a-z][a-z0-9-]{0,19}",
    );
    assert_error(
        "[stack]\nname = \"shop-\"\nregion = \"us-east-1\"\n",
        2,
        "stack.name",
        "must not end with '-'",
    );
    assert_error(
        "[stack]\nname = \"a-very-long-stack-name-x\"\nregion = \"us-east-1\"\n",
        2,
        "stack.name",
        "[a-z]",
    );
    assert_error(
        "[stack]\nname = \"s\"\nregion = \"us-esat-1\"\n",
        3,
        "stack.region",
        "not a region",
    );
    assert_error(
        &format!("{BASE}[database]\nusername = \"1app\"\n"),
        5,
        "database.username",
        "must start with a letter",
    );
    assert_error(
        &format!("{BASE}[database]\ndb_name = \"my-db\"\n"),
        5,
        "database.db_name",
        "must start with a letter",
    );
    assert_error(
        &format!("{BASE}[database]\nusername = \"rdsadmin\"\n"),
        5,
        "database.username",
        "reserved",
    );
}

#[test]
fn cidrs_are_checked() {
    assert_error(
        &format!("{BASE}[network]\ncidr = \"10.0.0.0/8\"\n"),
        5,
        "network.cidr",
        "/16 to /28",
    );
    assert_error(
        &format!("{BASE}[network]\ncidr = \"10.0.0.1/16\"\n"),
        5,
        "network.cidr",
        "host bits",
    );
    assert_error(
        &format!("{BASE}[network]\ncidr = \"10.0.0/16\"\n"),
        5,
        "network.cidr",
        "not an IPv4 CIDR",
    );
    assert_error(
        &format!("{BASE}[network]\ncidr = \"10.0.0.0/16\"\npublic_subnets = [\"10.0.0.0/24\", \"10.1.0.0/24\"]\n"),
        6,
        "network.public_subnets[1]",
        "not inside the VPC",
    );
    assert_error(
        &format!("{BASE}[network]\npublic_subnets = [\"10.0.0.0/24\", \"10.0.1.0/24\"]\nprivate_subnets = [\"10.0.1.0/24\", \"10.0.2.0/24\"]\n"),
        6,
        "network.private_subnets[0]",
        "overlaps",
    );
    assert_error(
        &format!("{BASE}[network]\npublic_subnets = [\"10.0.0.0/24\"]\n"),
        5,
        "network.public_subnets",
        "one per AZ",
    );
}

#[test]
fn eks_and_rds_need_two_azs() {
    assert_error(
        &format!("{BASE}[network]\nazs = 1\n[eks]\n"),
        5,
        "network.azs",
        "at least two",
    );
    assert_error(
        &format!("{BASE}[network]\nazs = 9\n"),
        5,
        "network.azs",
        "between 1 and 6",
    );
    assert_error(
        &format!("{BASE}[network]\nazs = [\"us-east-1a\", \"eu-west-1a\"]\n"),
        5,
        "network.azs",
        "not an availability zone",
    );
}

#[test]
fn nodegroup_rules() {
    assert_error(
        &format!("{BASE}[eks.nodegroups.g]\nmin = 3\ndesired = 2\nmax = 4\n"),
        6,
        "eks.nodegroups.g.desired",
        "between min (3) and max (4)",
    );
    assert_error(
        &format!("{BASE}[eks.nodegroups.g]\nmin = 5\nmax = 4\n"),
        5,
        "eks.nodegroups.g.min",
        "must not exceed max",
    );
    assert_error(
        &format!("{BASE}[eks.nodegroups.g]\ninstance_types = [\"t3.nonsense\"]\n"),
        5,
        "instance_types[0]",
        "not an EC2 instance type",
    );
    assert!(errors(&format!(
        "{BASE}[eks.nodegroups.g]\ninstance_types = [\"m7i.48xlarge\", \"m7i.metal-24xl\"]\n"
    ))
    .is_empty());
    assert_error(
        &format!("{BASE}[eks.nodegroups.g]\ninstance_types = []\n"),
        5,
        "eks.nodegroups.g.instance_types",
        "1 to 20",
    );
    assert_error(
        &format!("{BASE}[eks.nodegroups.g]\ninstance_types = [\"t3.medium\", \"t4g.medium\"]\n"),
        5,
        "instance_types",
        "mixes x86_64 and arm64",
    );
    assert_error(
        &format!("{BASE}[eks.nodegroups.g]\ncapacity = \"spto\"\n"),
        5,
        "capacity",
        "must be one of",
    );
    assert_error(
        &format!("{BASE}[eks]\nversion = \"1.12\"\n"),
        5,
        "eks.version",
        "not a Kubernetes version",
    );
    assert_error(
        &format!("{BASE}[network]\nnat = \"none\"\n[eks.nodegroups.g]\n"),
        5,
        "network.nat",
        "egress",
    );
}

#[test]
fn fargate_rules() {
    assert_error(
        &format!("{BASE}[eks.fargate.f]\nnamespaces = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]\n"),
        5,
        "eks.fargate.f.namespaces",
        "1 to 5",
    );
    assert_error(
        &format!("{BASE}[eks.fargate.f]\nnamespaces = [\"App\"]\n"),
        5,
        "eks.fargate.f.namespaces[0]",
        "namespace name",
    );
}

#[test]
fn database_rules() {
    assert_error(
        &format!("{BASE}[database]\nengine = \"aurora-postgresql\"\nstorage_gib = 50\n"),
        6,
        "database.storage_gib",
        "Aurora",
    );
    assert_error(
        &format!("{BASE}[database]\nengine = \"aurora-postgresql\"\nmulti_az = true\n"),
        6,
        "database.multi_az",
        "Aurora",
    );
    assert_error(
        &format!("{BASE}[database]\nbackup_retention_days = 36\n"),
        5,
        "database.backup_retention_days",
        "between 0 and 35",
    );
    assert_error(
        &format!("{BASE}[database]\nclass = \"db.serverless\"\n"),
        5,
        "database.class",
        "Aurora Serverless",
    );
    assert_error(
        &format!("{BASE}[database]\nengine = \"aurora-mysql\"\nclass = \"db.t4g.micro\"\n"),
        6,
        "database.class",
        "Aurora does not offer",
    );
    assert_error(
        &format!("{BASE}[database]\nengine = \"aurora-postgresql\"\nclass = \"db.serverless\"\n[database.serverless]\nmin_acu = 8\nmax_acu = 4\n"),
        8,
        "database.serverless.min_acu",
        "must not exceed",
    );
    assert_error(&format!("{BASE}[database]\nengine = \"aurora-postgresql\"\nclass = \"db.serverless\"\n[database.serverless]\nmax_acu = 4.3\n"), 8, "max_acu", "steps of 0.5");
    assert_error(
        &format!("{BASE}[database]\nversion = \"9.6\"\n"),
        5,
        "database.version",
        "not a postgres version",
    );
    assert_error(
        &format!("{BASE}[database]\ninstances = 2\n"),
        5,
        "database.instances",
        "only to Aurora",
    );
    assert_error(
        &format!("{BASE}[database]\nstorage_gib = 10\n"),
        5,
        "database.storage_gib",
        "between 20 and 65536",
    );
}

#[test]
fn reserved_tags_are_rejected() {
    assert_error(
        "[stack]\nname = \"t\"\nregion = \"us-east-1\"\ntags = { \"aws:x\" = \"1\" }\n",
        4,
        "stack.tags.aws:x",
        "reserved",
    );
    assert_error(
        "[stack]\nname = \"t\"\nregion = \"us-east-1\"\ntags = { \"ekstack:stack\" = \"1\" }\n",
        4,
        "stack.tags.ekstack:stack",
        "reserved",
    );
}

#[test]
fn type_errors_name_the_key() {
    assert_error(
        &format!("{BASE}[eks.nodegroups.g]\ndesired = \"2\"\n"),
        5,
        "eks.nodegroups.g.desired",
        "invalid type",
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let errs = errors(&format!(
        "{BASE}[network]\nnat = \"x\"\ncidr = \"1.2.3.4/40\"\n[database]\nbackup_retention_days = 99\n"
    ));
    assert_eq!(errs.len(), 3, "{errs:#?}");
}

#[test]
fn overlay_deep_merges_and_errors_point_into_it() {
    let d = Dir::new();
    let stack = d.write(
        "stacks/s.toml",
        &format!("{BASE}tags = {{ a = \"1\" }}\n[eks.nodegroups.g]\nmin = 1\ndesired = 1\nmax = 2\n[database]\nclass = \"db.t4g.micro\"\n"),
    );
    d.write(
        "environments/prod.toml",
        "[stack]\ntags = { b = \"2\" }\n[eks.nodegroups.g]\ndesired = 3\nmax = 5\n",
    );
    let l = load(&stack, &Overlay::Env("prod".into()), None).unwrap();
    assert_eq!(l.stack.meta.tags.len(), 2);
    let ng = &l.stack.eks.as_ref().unwrap().nodegroups["g"];
    assert_eq!((ng.min, ng.desired, ng.max), (1, 3, 5));
    assert_eq!(l.stack.meta.env.as_deref(), Some("prod"));

    d.write("environments/bad.toml", "[eks.nodegroups.g]\ndesired = 9\n");
    let e = load(&stack, &Overlay::Env("bad".into()), None).unwrap_err();
    assert!(e.summary_lines()[0].contains("bad.toml:2:"), "{:?}", e.summary_lines());

    d.write("environments/typo.toml", "[database]\nmulti_za = true\n");
    let e = load(&stack, &Overlay::Env("typo".into()), None).unwrap_err();
    assert!(
        e.summary_lines()[0].contains("typo.toml:2:1: database.multi_za"),
        "{:?}",
        e.summary_lines()
    );

    let e = load(&stack, &Overlay::Env("prdo".into()), None).unwrap_err();
    assert!(
        e.render(false, crate::i18n::Lang::En).contains("did you mean \"prod\""),
        "{}",
        e.render(false, crate::i18n::Lang::En)
    );
}

/// Every key an environment may set reaches the stack: the ones added
/// since the merge was written included.
#[test]
fn overlay_sets_the_mode_and_the_replicas() {
    let d = Dir::new();
    let stack = d.write(
        "stacks/s.toml",
        &format!("{BASE}[eks]\n[eks.pod_identities.api]\nnamespace = \"app\"\npolicies = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n[database]\n"),
    );
    d.write(
        "environments/auto.toml",
        "[eks]\nmode = \"auto\"\nauto_mode_expected_instances = 4\n[database]\nreplicas = 2\nreplica_class = \"db.t4g.small\"\n",
    );
    let l = load(&stack, &Overlay::Env("auto".into()), None).unwrap();
    let eks = l.stack.eks.as_ref().unwrap();
    assert!(eks.auto());
    assert_eq!(eks.auto_mode_expected_instances, Some(4));
    let db = l.stack.database.as_ref().unwrap();
    assert_eq!((db.replicas, db.replica_class()), (2, "db.t4g.small"));
}

#[test]
fn overlay_does_not_add_components_or_engine_mismatched_keys() {
    let d = Dir::new();
    let stack = d.write(
        "stacks/s.toml",
        &format!("{BASE}[eks.fargate.f]\nnamespaces = [\"app\", \"kube-system\"]\n"),
    );
    d.write(
        "environments/prod.toml",
        "[eks.nodegroups.general]\ndesired = 3\n[database]\nmulti_az = true\n",
    );
    let l = load(&stack, &Overlay::Env("prod".into()), None).unwrap();
    assert!(l.stack.database.is_none());
    assert!(l.stack.eks.as_ref().unwrap().nodegroups.is_empty());
    assert_eq!(l.notes.len(), 2);
    assert!(
        l.render_notes(false).contains("prod.toml:1:"),
        "{}",
        l.render_notes(false)
    );

    let aurora = d.write(
        "stacks/a.toml",
        &format!("{BASE}[database]\nengine = \"aurora-postgresql\"\nclass = \"db.serverless\"\n"),
    );
    d.write(
        "environments/p2.toml",
        "[database]\nclass = \"db.m6g.large\"\nmulti_az = true\nbackup_retention_days = 30\n",
    );
    let l = load(&aurora, &Overlay::Env("p2".into()), None).unwrap();
    let db = l.stack.database.unwrap();
    assert_eq!(db.class, "db.serverless");
    assert_eq!(db.backup_retention_days, 30);
    assert_eq!(l.notes.len(), 2);
}

#[test]
fn shipped_stacks_validate_in_every_environment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for stack in ["learning", "fargate", "aurora", "shop", "given-vpc"] {
        for env in [None, Some("mvp"), Some("prod")] {
            let overlay = env.map(|e| Overlay::Env(e.into())).unwrap_or_default();
            let path = root.join("stacks").join(format!("{stack}.toml"));
            if let Err(e) = load(&path, &overlay, None) {
                panic!("{stack} {env:?}: {:?}", e.summary_lines());
            }
        }
    }
}

#[test]
fn key_at_finds_table_and_key() {
    let text = "[stack]\nname = \"x\"\n\n[eks.nodegroups.\"g\"]\ndesired = 2\n";
    assert_eq!(
        key_at(text, text.find("desired").unwrap() + 10),
        "eks.nodegroups.g.desired"
    );
    assert_eq!(key_at(text, text.find("name").unwrap()), "stack.name");
}

#[test]
fn graviton_detection() {
    for (t, arm) in [
        ("t4g.medium", true),
        ("m7gd.large", true),
        ("c6gn.xlarge", true),
        ("t3.medium", false),
        ("g4dn.xlarge", false),
        ("m5.large", false),
        ("a1.large", true),
    ] {
        assert_eq!(Arch::of_instance_type(t) == Arch::Arm64, arm, "{t}");
    }
}

#[test]
fn rendered_stack_is_a_valid_stack_file_that_resolves_the_same() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for stack in ["learning", "fargate", "aurora", "shop", "given-vpc"] {
        for env in ["mvp", "prod"] {
            let path = root.join("stacks").join(format!("{stack}.toml"));
            let first = load(&path, &Overlay::Env(env.into()), None).unwrap().stack;
            let d = Dir::new();
            let rendered = d.write("stacks/r.toml", &render_toml(&first).unwrap());
            let again = load(&rendered, &Overlay::None, None)
                .unwrap_or_else(|e| panic!("{stack}/{env}: {:?}", e.summary_lines()))
                .stack;
            assert_eq!(first.network, again.network);
            assert_eq!(first.eks, again.eks);
            assert_eq!(first.database, again.database);
        }
    }
}

#[test]
fn every_unknown_key_is_reported_at_once() {
    let errs = errors(&format!("{BASE}tagz = {{}}\n[network]\nnatt = \"single\"\n[eks.nodegroups.a]\ndesird = 2\nlabels = {{ a = \"b\" }}\n[databse]\n"));
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs[0].contains("s.toml:4:1: stack.tagz"));
    assert!(errs[2].contains("s.toml:8:1: eks.nodegroups.a.desird"));
    assert!(errs[3].contains("databse"));
}

#[test]
fn a_broken_value_in_every_section_is_reported_together_in_order() {
    let errs = errors(
        "[stack]\nname = \"Shop\"\nregion = \"us-east-1\"\ntags = { \"aws:x\" = \"1\" }\n\
         [network]\ncidr = \"10.0.0.1/16\"\n\
         [eks]\nversion = \"1.12\"\n\
         [eks.nodegroups.g]\nmin = 5\nmax = 4\n\
         [eks.fargate.f]\nnamespaces = [\"App\", \"b\", \"b\"]\n\
         [database]\nbackup_retention_days = 99\nusername = \"rdsadmin\"\n",
    );
    let wanted = [
        "s.toml:2:8: stack.name:",
        "s.toml:4:20: stack.tags.aws:x:",
        "s.toml:6:8: network.cidr:",
        "s.toml:8:11: eks.version:",
        "s.toml:10:7: eks.nodegroups.g.min:",
        "s.toml:13:15: eks.fargate.f.namespaces[0]:",
        "s.toml:13:27: eks.fargate.f.namespaces[2]: \"b\" is listed twice",
        "s.toml:15:25: database.backup_retention_days:",
        "s.toml:16:12: database.username:",
    ];
    assert_eq!(errs.len(), wanted.len(), "{errs:#?}");
    for (err, wanted) in errs.iter().zip(wanted) {
        assert!(err.contains(wanted), "wanted {wanted:?}, got {err:?}");
    }
}

#[test]
fn rules_that_do_not_stop_the_others_still_let_them_report() {
    // Too few AZs does not keep the egress rule from reading the network, and
    // a bad tag does not keep the network from knowing the region.
    let errs = errors(
        "[stack]\nname = \"t\"\nregion = \"us-east-1\"\ntags = { Name = \"x\" }\n\
         [network]\nazs = 1\nnat = \"none\"\n\
         [eks.nodegroups.g]\n",
    );
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs[0].contains("s.toml:4:17: stack.tags.Name"), "{errs:#?}");
    assert!(
        errs[1].contains("s.toml:6:7: network.azs: EKS and RDS need"),
        "{errs:#?}"
    );
    assert!(
        errs[2].contains("s.toml:7:7: network.nat: \"none\" leaves"),
        "{errs:#?}"
    );
}

#[test]
fn keys_of_maps_are_the_users_own_not_unknown() {
    let s = ok(&format!(
        "{BASE}tags = {{ natt = \"1\", \"team/x\" = \"y\" }}\n\
         [eks.nodegroups.natt]\nlabels = {{ desird = \"2\", \"example.com/role\" = \"web\" }}\n\
         [eks.fargate.desird]\nnamespaces = [\"app\"]\nlabels = {{ tier = \"web\" }}\n"
    ));
    let eks = s.eks.unwrap();
    assert_eq!(s.meta.tags["natt"], "1");
    assert_eq!(eks.nodegroups["natt"].labels["desird"], "2");
    assert_eq!(eks.fargate["desird"].labels["tier"], "web");
    // A struct key under a user-named table is still checked.
    let errs = errors(&format!(
        "{BASE}[eks.fargate.desird]\nnamespaces = [\"app\"]\nlabel = {{}}\n"
    ));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains("s.toml:6:1: eks.fargate.desird.label: unknown key `label` in [eks.fargate.desird]; expected one of `labels`, `namespaces`"),
        "{errs:#?}"
    );
}

#[test]
fn unknown_keys_are_found_past_a_value_of_the_wrong_type() {
    let text = format!(
        "{BASE}[network]\ncidr = 16\nnatt = \"single\"\n[eks.nodegroups.g]\ndesired = \"2\"\ninstance_types = [\"t3.medium\", 3]\ndesird = 2\n[databse]\n"
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs[0].contains("s.toml:6:1: network.natt: unknown key"), "{errs:#?}");
    assert!(errs[1].contains("s.toml:10:1: eks.nodegroups.g.desird"), "{errs:#?}");
    assert!(
        errs[2].contains("s.toml:11:2: databse: unknown key `databse` in the top level"),
        "{errs:#?}"
    );
    // With the unknown keys fixed, the type error is what is left.
    let errs = errors(
        &text
            .replace("natt", "nat")
            .replace("desird", "min")
            .replace("databse", "database"),
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("s.toml:5:8: network.cidr: invalid type"), "{errs:#?}");
}

#[test]
fn enum_names_parse_print_and_serialise_alike() {
    use strum::VariantNames;
    fn check<T: VariantNames + serde::Serialize>(
        parse: impl Fn(&str) -> Option<T>,
        as_str: impl Fn(&T) -> &'static str,
    ) {
        for name in T::VARIANTS {
            let value = parse(name).unwrap_or_else(|| panic!("{name} parses"));
            assert_eq!(as_str(&value), *name);
            assert_eq!(serde_json::to_value(&value).unwrap(), serde_json::json!(name));
        }
    }
    check(NatMode::parse, |v| v.as_str());
    check(EndpointAccess::parse, |v| v.as_str());
    check(Capacity::parse, |v| v.as_str());
    check(Engine::parse, |v| v.as_str());
    assert_eq!(NatMode::VARIANTS, ["none", "single", "per-az"]);
    assert_eq!(EndpointAccess::VARIANTS, ["public", "private", "public-and-private"]);
    assert_eq!(Capacity::VARIANTS, ["on-demand", "spot"]);
    assert_eq!(
        Engine::VARIANTS,
        ["postgres", "mysql", "aurora-postgresql", "aurora-mysql"]
    );
    assert_eq!(NatMode::parse("per_az"), None);
}

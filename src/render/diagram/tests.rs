use std::path::Path;

use super::*;
use crate::config::{load, Overlay};
use crate::diagram::{build, PlannedAction};
use crate::resources::Kind;

fn drawn(name: &str, env: &str, plan: Option<&[PlannedAction]>) -> Diagram {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("stacks")
        .join(format!("{name}.toml"));
    let stack = load(&path, &Overlay::Env(env.into()), None).unwrap().stack;
    build(&stack, &crate::graph::build(&stack).unwrap(), plan)
}

fn plan() -> Vec<PlannedAction> {
    vec![
        PlannedAction::new("vpc", Kind::Vpc, Action::Create),
        PlannedAction::new("eks-nodegroup.general", Kind::EksNodegroup, Action::Update),
        PlannedAction::new("db-instance", Kind::DbInstance, Action::Replace),
        PlannedAction::new("nat-gateway.ap-northeast-1d", Kind::NatGateway, Action::Delete),
    ]
}

/// The SVG parsed, with the checks every picture must pass: one root in
/// the SVG namespace, nothing fetched from elsewhere.
fn parsed(svg: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    for node in doc.descendants().filter(|n| n.is_element()) {
        assert_ne!(node.tag_name().name(), "script", "no scripts");
        assert_ne!(node.tag_name().name(), "image", "no images");
        assert_ne!(node.tag_name().name(), "foreignObject");
        for a in node.attributes() {
            assert!(!a.name().ends_with("href"), "{}={}", a.name(), a.value());
        }
    }
    assert!(!svg.contains("href=\"http") && !svg.contains("@import") && !svg.contains("url(http"));
    doc
}

fn texts<'a>(doc: &'a roxmltree::Document) -> Vec<&'a str> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect()
}

#[test]
fn the_svg_is_valid_self_contained_and_names_every_az() {
    let d = drawn("learning", "prod", None);
    let svg = svg::render(&d);
    let doc = parsed(&svg);
    let title = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap();
    assert_eq!(title, "ekstack diagram: learning (prod) · ap-northeast-1");
    let texts = texts(&doc);
    for az in ["ap-northeast-1a", "ap-northeast-1c"] {
        assert!(texts.contains(&az), "{az} in {texts:?}");
    }
    for t in [
        "min 2 / desired 3 / max 6",
        "Multi-AZ standby",
        "Read replica 1",
        "RDS Proxy",
        "Add-ons",
    ] {
        assert!(texts.iter().any(|x| x.contains(t)), "{t} in {texts:?}");
    }
    assert!(texts.contains(&"no plan: the stack as the file says"));
    // Arrows have heads.
    assert!(doc.descendants().any(|n| n.has_tag_name("marker")));
    assert!(svg.contains("marker-end=\"url(#head)\"") && svg.contains("marker-end=\"url(#head-egress)\""));
    // Each resource box names its address.
    for a in [
        "vpc",
        "internet-gateway",
        "nat-gateway.ap-northeast-1c",
        "db-replica.1",
        "eks-addon.coredns",
    ] {
        assert!(svg.contains(&format!("data-address=\"{a}\"")), "{a}");
    }
}

#[test]
fn a_planned_svg_colours_by_action_with_a_legend() {
    let d = drawn("learning", "mvp", Some(&plan()));
    let svg = svg::render(&d);
    let doc = parsed(&svg);
    let texts = texts(&doc);
    for word in [
        "create",
        "update in place",
        "replace",
        "delete",
        "unchanged",
        "Planned action",
    ] {
        assert!(texts.contains(&word), "{word} in {texts:?}");
    }
    let class_of = |address: &str| {
        doc.descendants()
            .find(|n| n.attribute("data-address") == Some(address))
            .and_then(|n| n.attribute("class"))
            .unwrap()
    };
    assert_eq!(class_of("vpc"), "act-create");
    assert_eq!(class_of("eks-nodegroup.general"), "act-update");
    assert_eq!(class_of("db-instance"), "act-replace");
    assert_eq!(class_of("nat-gateway.ap-northeast-1d"), "act-delete");
    assert_eq!(class_of("eks-cluster"), "act-noop");
    assert!(texts.contains(&"ap-northeast-1d"));
}

#[test]
fn text_is_escaped() {
    let mut d = drawn("learning", "mvp", None);
    d.env = Some("a<b & \"c\"".into());
    let svg = svg::render(&d);
    parsed(&svg);
    assert!(svg.contains("a&lt;b &amp; &quot;c&quot;"));
    let m = mermaid::render(&d);
    assert!(!m.lines().next().unwrap().contains('"'));
}

#[test]
fn mermaid_has_subgraphs_class_defs_a_legend_and_the_traffic() {
    let d = drawn("learning", "prod", Some(&plan()));
    let m = mermaid::render(&d);
    assert!(m.starts_with("%% ekstack diagram: learning (prod)"), "{m}");
    assert!(m.contains("\nflowchart TB\n"));
    for line in [
        "subgraph n_vpc[\"VPC 10.0.0.0/16\"]",
        "subgraph zone_0[\"ap-northeast-1a\"]",
        "subgraph n_subnet_public_ap_northeast_1a[\"Public subnet<br/>10.0.0.0/20\"]",
        "subgraph legend[\"Planned action\"]",
        "classDef act_create fill:#dcfce7,stroke:#16a34a",
        "classDef act_delete fill:#fee2e2,stroke:#dc2626",
        "ctx_internet -->|requests| n_internet_gateway",
        "n_internet_gateway -->|requests| ctx_alb",
        "ctx_alb -->|requests| ctx_pods",
        "ctx_pods -->|SQL| n_db_proxy",
        "n_db_proxy -->|SQL| n_db_instance",
        "ctx_pods -.->|egress| n_nat_gateway_ap_northeast_1c",
        "n_nat_gateway_ap_northeast_1a -.->|egress| ctx_internet",
    ] {
        assert!(m.contains(line), "{line}\n{m}");
    }
    assert!(m.contains("n_db_instance_standby"));
    let class_line = |class: &str| {
        m.lines()
            .find(|l| l.trim_start().starts_with("class ") && l.trim_end().ends_with(&format!(" {class}")))
            .unwrap_or_else(|| panic!("class {class}\n{m}"))
            .to_string()
    };
    assert!(class_line("act_update").contains("n_eks_nodegroup_general"));
    assert!(class_line("act_delete").contains("n_nat_gateway_ap_northeast_1d"));
    assert!(class_line("context").contains("ctx_internet"));
    // The deleted NAT carries no traffic.
    assert!(!m.contains("-.->|egress| n_nat_gateway_ap_northeast_1d"));
    assert_mermaid_safe(&m);
}

/// What Mermaid would choke on: an id that is not a word, an unbalanced
/// subgraph, a quote inside a label.
fn assert_mermaid_safe(m: &str) {
    let mut depth = 0i32;
    for line in m.lines().map(str::trim) {
        if line.starts_with("subgraph ") {
            depth += 1;
        } else if line == "end" {
            depth -= 1;
            assert!(depth >= 0);
        }
        let id: String = line
            .split(['[', '(', ' '])
            .nth(usize::from(
                line.starts_with("subgraph ")
                    || line.starts_with("class ")
                    || line.starts_with("style ")
                    || line.starts_with("classDef "),
            ))
            .unwrap_or("")
            .to_string();
        if !line.starts_with("%%") && !line.is_empty() && !line.starts_with("flowchart") && !line.starts_with("class ")
        {
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "id {id:?} in {line}"
            );
        }
        // Labels are quoted once: an even number of quotes per line.
        assert_eq!(line.matches('"').count() % 2, 0, "{line}");
    }
    assert_eq!(depth, 0, "subgraphs balanced");
}

#[test]
fn every_shipped_stack_and_env_draws_in_both_formats() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("stacks")).unwrap() {
        let name = entry.unwrap().path().file_stem().unwrap().to_string_lossy().to_string();
        for env in ["mvp", "prod"] {
            for plan in [None, Some(plan())] {
                let d = drawn(&name, env, plan.as_deref());
                let svg = svg::render(&d);
                let doc = parsed(&svg);
                let texts = texts(&doc);
                for z in &d.network.zones {
                    assert!(texts.contains(&z.name.as_str()), "{name} {env}: {}", z.name);
                }
                assert_mermaid_safe(&mermaid::render(&d));
            }
        }
    }
}

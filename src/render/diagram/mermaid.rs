//! The diagram as a Mermaid `flowchart`, which GitHub and editors draw.
//!
//! Mermaid is strict about what it parses: ids here are letters, digits and
//! underscores, always prefixed (an id such as `end` would close a
//! subgraph), and every label is quoted with the characters Mermaid reads
//! as syntax (quotes, `#`, `;`, brackets) replaced.

use std::fmt::Write as _;

use super::{details, heading, legend_title, title, traffic_label, Shade};
use crate::diagram::{Diagram, End, Node, Part, Traffic};

/// The Mermaid source of the diagram.
pub fn render(d: &Diagram) -> String {
    let mut m = Mermaid::default();
    m.line(0, &format!("%% ekstack diagram: {}", clean(&heading(d))));
    m.line(0, "flowchart TB");
    m.node(1, "ctx_internet", &d.internet, Shape::Circle);

    let net = &d.network;
    m.open(1, "n_vpc", &label_of(&net.vpc), &net.vpc);
    if let Some(igw) = &net.internet_gateway {
        m.node(2, "n_internet_gateway", igw, Shape::Box);
    }
    if let Some(alb) = &net.load_balancer {
        m.node(2, "ctx_alb", alb, Shape::Stadium);
    }
    for (i, z) in net.zones.iter().enumerate() {
        m.open_plain(2, &format!("zone_{i}"), &z.name);
        let public = z.public_subnet.as_ref();
        let private = z.private_subnet.as_ref();
        if let Some(s) = public {
            m.open(3, &id_of(s, ""), &label_of(s), s);
        }
        for nat in &z.nat_gateways {
            m.node(if public.is_some() { 4 } else { 3 }, &id_of(nat, ""), nat, Shape::Box);
        }
        if public.is_some() {
            m.close(3);
        }
        if let Some(s) = private {
            m.open(3, &id_of(s, ""), &label_of(s), s);
        }
        for db in &z.databases {
            let id = db_id(db);
            m.node(if private.is_some() { 4 } else { 3 }, &id, db, Shape::Cylinder);
        }
        if private.is_some() {
            m.close(3);
        }
        m.close(2);
    }
    if let Some(c) = &d.cluster {
        m.open(2, "ctx_pods", &label_of(&c.pods), &c.pods);
        for (i, n) in c.compute.iter().enumerate() {
            let id = if n.is_context() {
                format!("ctx_compute_{i}")
            } else {
                id_of(n, "")
            };
            m.node(3, &id, n, Shape::Box);
        }
        if c.compute.is_empty() {
            // Mermaid refuses an empty subgraph.
            m.line(3, "ctx_pods_none[\"no node group or Fargate profile\"]");
        }
        m.close(2);
    }
    if let Some(db) = &d.database {
        if let Some(p) = &db.proxy {
            m.node(2, &id_of(p, ""), p, Shape::Stadium);
        }
        if let Some(a) = &db.aurora {
            // Its instances are drawn in their AZs; the cluster is a box of its own.
            m.node(2, &id_of(a, ""), a, Shape::Cylinder);
        }
    }
    m.close(1);

    if let Some(c) = &d.cluster {
        m.open(1, "n_eks_cluster", &label_of(&c.control_plane), &c.control_plane);
        let facts = clean_keeping_breaks(&details(&c.control_plane).join("<br/>"));
        m.line(2, &format!("n_eks_cluster_api[\"{facts}\"]"));
        m.classes
            .push((Shade::of(&c.control_plane).class(), "n_eks_cluster_api".into()));
        for a in &c.addons {
            m.node(2, &id_of(a, ""), a, Shape::Stadium);
        }
        m.close(1);
    }

    let tally = super::tally(d);
    if !tally.is_empty() {
        let mut label = String::from("Also in the stack:");
        for (kind, counts) in &tally {
            let n: usize = counts.iter().map(|(_, n)| n).sum();
            write!(label, "<br/>{n} × {kind}").ok();
        }
        m.line(1, &format!("ctx_others[\"{}\"]", clean_keeping_breaks(&label)));
        m.classes.push(("context", "ctx_others".into()));
    }

    m.open_plain(1, "legend", legend_title(d));
    for shade in Shade::legend_entries(d) {
        let id = format!("legend_{}", shade.class().replace('-', "_"));
        m.line(2, &format!("{id}[\"{}\"]", clean(shade.legend())));
        m.classes.push((shade.class(), id));
    }
    m.close(1);

    for f in &d.flows {
        let arrow = match f.traffic {
            Traffic::Egress => "-.->",
            Traffic::Ingress | Traffic::Queries => "-->",
        };
        for (from, to) in ends(d, f.from)
            .iter()
            .flat_map(|a| ends(d, f.to).into_iter().map(move |b| (a.clone(), b)))
        {
            m.line(1, &format!("{from} {arrow}|{}| {to}", traffic_label(f.traffic)));
        }
    }

    for shade in [
        Shade::Action(crate::plan::Action::Create),
        Shade::Action(crate::plan::Action::Update),
        Shade::Action(crate::plan::Action::Replace),
        Shade::Action(crate::plan::Action::Delete),
        Shade::Action(crate::plan::Action::NoOp),
        Shade::File,
        Shade::Context,
    ] {
        let p = shade.paint();
        let dash = match shade {
            Shade::Context | Shade::Action(crate::plan::Action::Delete) => ",stroke-dasharray:5 3",
            _ => "",
        };
        m.line(
            1,
            &format!(
                "classDef {} fill:{},stroke:{},color:{}{dash}",
                class_id(shade.class()),
                p.fill,
                p.stroke,
                p.text
            ),
        );
    }
    let mut by_class: Vec<(&str, Vec<&str>)> = Vec::new();
    for (class, id) in &m.classes {
        match by_class.iter_mut().find(|(c, _)| c == class) {
            Some((_, ids)) => ids.push(id),
            None => by_class.push((class, vec![id])),
        }
    }
    let mut tail = String::new();
    for (class, ids) in by_class {
        writeln!(tail, "  class {} {}", ids.join(","), class_id(class)).ok();
    }
    for (id, shade) in &m.subgraphs {
        let p = shade.paint();
        let dash = match shade {
            Shade::Context | Shade::Action(crate::plan::Action::Delete) => ",stroke-dasharray:5 3",
            _ => "",
        };
        writeln!(
            tail,
            "  style {id} fill:{},stroke:{},color:{}{dash}",
            p.fill, p.stroke, p.text
        )
        .ok();
    }
    m.out.push_str(&tail);
    m.out
}

#[derive(Default)]
struct Mermaid {
    out: String,
    /// (class, node id), for the `class` lines at the end.
    classes: Vec<(&'static str, String)>,
    /// Subgraphs and their shade, for the `style` lines at the end.
    subgraphs: Vec<(String, Shade)>,
}

#[derive(Clone, Copy)]
enum Shape {
    Box,
    Stadium,
    Cylinder,
    Circle,
}

impl Mermaid {
    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn node(&mut self, depth: usize, id: &str, node: &Node, shape: Shape) {
        let label = clean_keeping_breaks(&label_of(node));
        let text = match shape {
            Shape::Box => format!("{id}[\"{label}\"]"),
            Shape::Stadium => format!("{id}([\"{label}\"])"),
            Shape::Cylinder => format!("{id}[(\"{label}\")]"),
            Shape::Circle => format!("{id}((\"{label}\"))"),
        };
        self.line(depth, &text);
        self.classes.push((Shade::of(node).class(), id.to_string()));
    }

    fn open(&mut self, depth: usize, id: &str, label: &str, node: &Node) {
        self.line(depth, &format!("subgraph {id}[\"{}\"]", clean_keeping_breaks(label)));
        self.subgraphs.push((id.to_string(), Shade::of(node)));
    }

    fn open_plain(&mut self, depth: usize, id: &str, label: &str) {
        self.line(depth, &format!("subgraph {id}[\"{}\"]", clean(label)));
    }

    fn close(&mut self, depth: usize) {
        self.line(depth, "end");
    }
}

/// Title and details, one per line.
fn label_of(node: &Node) -> String {
    let mut lines = vec![title(node)];
    if matches!(node.part, Part::ControlPlane { .. }) {
        lines[0].push_str(" (AWS-managed)");
    } else {
        lines.extend(details(node));
    }
    lines.join("<br/>")
}

/// The Mermaid id of a box: its address, in the characters ids allow.
fn id_of(node: &Node, suffix: &str) -> String {
    let address = node.address.as_deref().unwrap_or("context");
    let mut id = String::from("n_");
    id.extend(address.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }));
    id.push_str(suffix);
    id
}

/// A database box's id: the standby shares its primary's address.
fn db_id(node: &Node) -> String {
    match node.part {
        Part::DbInstance {
            role: crate::diagram::DbRole::Standby,
            ..
        } => id_of(node, "_standby"),
        _ => id_of(node, ""),
    }
}

fn class_id(class: &str) -> String {
    class.replace('-', "_")
}

/// The Mermaid ids an arrow's end stands for.
fn ends(d: &Diagram, end: End) -> Vec<String> {
    match end {
        End::Internet => vec!["ctx_internet".into()],
        End::InternetGateway => vec!["n_internet_gateway".into()],
        End::LoadBalancer => vec!["ctx_alb".into()],
        End::Pods => vec!["ctx_pods".into()],
        End::Nat(z) => d.network.zones[z]
            .nat_gateways
            .iter()
            .filter(|n| n.action != Some(crate::plan::Action::Delete))
            .map(|n| id_of(n, ""))
            .collect(),
        End::Proxy => d
            .database
            .as_ref()
            .and_then(|db| db.proxy.as_ref())
            .map(|p| id_of(p, ""))
            .into_iter()
            .collect(),
        End::Database => d.writer().map(|w| id_of(w, "")).into_iter().collect(),
    }
}

/// Text Mermaid reads as text inside a quoted label.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '#' | ';' | '<' | '>' | '[' | ']' | '{' | '}' | '|' | '`' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// As [`clean`], keeping the `<br/>` line breaks this module put in.
fn clean_keeping_breaks(text: &str) -> String {
    text.split("<br/>").map(clean).collect::<Vec<_>>().join("<br/>")
}

//! The stack's picture as Mermaid and as a self-contained SVG.
//!
//! Both renderers read the same [`crate::diagram::Diagram`] and share the
//! words on each box and the colour of each action here, so the two
//! pictures cannot disagree.

pub mod mermaid;
pub mod svg;

use std::path::Path;

use anyhow::Context as _;

use crate::diagram::{DbRole, Diagram, LoadBalancerMaker, Node, Part};
use crate::plan::Action;
use crate::resources::subnet::Tier;

/// What the picture is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Mermaid `flowchart`: GitHub and editors draw it.
    Mermaid,
    /// A self-contained SVG image.
    Svg,
}

/// The diagram in `format`.
pub fn render(diagram: &Diagram, format: Format) -> String {
    match format {
        Format::Mermaid => mermaid::render(diagram),
        Format::Svg => svg::render(diagram),
    }
}

/// Writes the diagram to `out`, or to stdout without one.
pub fn print(diagram: &Diagram, format: Format, out: Option<&Path>) -> anyhow::Result<()> {
    let text = render(diagram, format);
    match out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing the diagram to {}", path.display()))?;
            super::stderr(&format!("Wrote the diagram to {}.\n", path.display()));
        }
        None => super::stdout(&text)?,
    }
    Ok(())
}

/// How a box is painted: its fill, its stroke, and the colour of its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    pub fill: &'static str,
    pub stroke: &'static str,
    pub text: &'static str,
}

/// What a box's colour says: a planned action, the stack as the file says
/// (no plan), or context that is not an ekstack resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shade {
    Action(Action),
    /// No plan: every resource alike.
    File,
    Context,
}

impl Shade {
    pub fn of(node: &Node) -> Shade {
        match (node.is_context(), node.action) {
            (true, _) => Shade::Context,
            (false, Some(a)) => Shade::Action(a),
            (false, None) => Shade::File,
        }
    }

    /// A name usable as a CSS class or Mermaid classDef.
    pub fn class(self) -> &'static str {
        match self {
            Shade::Action(Action::Create) => "act-create",
            Shade::Action(Action::Update) => "act-update",
            Shade::Action(Action::Replace) => "act-replace",
            Shade::Action(Action::Delete) => "act-delete",
            Shade::Action(Action::NoOp) => "act-noop",
            Shade::File => "act-file",
            Shade::Context => "context",
        }
    }

    /// What the legend calls it.
    pub fn legend(self) -> &'static str {
        match self {
            Shade::Action(Action::Create) => "create",
            Shade::Action(Action::Update) => "update in place",
            Shade::Action(Action::Replace) => "replace",
            Shade::Action(Action::Delete) => "delete",
            Shade::Action(Action::NoOp) => "unchanged",
            Shade::File => "an ekstack resource",
            Shade::Context => "context, not made by ekstack",
        }
    }

    /// The word on a box's badge.
    pub fn badge(self) -> Option<&'static str> {
        match self {
            Shade::Action(Action::Create) => Some("+ create"),
            Shade::Action(Action::Update) => Some("~ update"),
            Shade::Action(Action::Replace) => Some("-/+ replace"),
            Shade::Action(Action::Delete) => Some("- delete"),
            _ => None,
        }
    }

    /// Create green, update amber, replace orange, delete red, unchanged grey.
    pub fn paint(self) -> Paint {
        let p = |fill, stroke, text| Paint { fill, stroke, text };
        match self {
            Shade::Action(Action::Create) => p("#dcfce7", "#16a34a", "#14532d"),
            Shade::Action(Action::Update) => p("#fef3c7", "#d97706", "#78350f"),
            Shade::Action(Action::Replace) => p("#ffedd5", "#ea580c", "#7c2d12"),
            Shade::Action(Action::Delete) => p("#fee2e2", "#dc2626", "#7f1d1d"),
            Shade::Action(Action::NoOp) => p("#f3f4f6", "#9ca3af", "#374151"),
            Shade::File => p("#e0ecfb", "#3b6fb6", "#1e3a5f"),
            Shade::Context => p("#ffffff", "#64748b", "#334155"),
        }
    }

    /// The shades a legend lists.
    pub fn legend_entries(diagram: &Diagram) -> Vec<Shade> {
        let mut shades = if diagram.planned {
            [
                Action::Create,
                Action::Update,
                Action::Replace,
                Action::Delete,
                Action::NoOp,
            ]
            .into_iter()
            .map(Shade::Action)
            .collect()
        } else {
            vec![Shade::File]
        };
        shades.push(Shade::Context);
        shades
    }
}

/// The legend's heading: whether colours come from a plan.
pub fn legend_title(diagram: &Diagram) -> &'static str {
    if diagram.planned {
        "Planned action"
    } else {
        "no plan: the stack as the file says"
    }
}

/// `learning (prod) · ap-northeast-1`.
pub fn heading(diagram: &Diagram) -> String {
    match &diagram.env {
        Some(env) => format!("{} ({env}) · {}", diagram.stack, diagram.region),
        None => format!("{} · {}", diagram.stack, diagram.region),
    }
}

/// The first line of a box.
pub fn title(node: &Node) -> String {
    match &node.part {
        Part::Internet => "Internet".into(),
        Part::LoadBalancer { .. } => "Application Load Balancer".into(),
        Part::Pods => "Pods".into(),
        Part::AutoModeNodes { .. } => "Auto Mode nodes".into(),
        Part::Vpc { cidr, given } => match (given, cidr) {
            (Some(id), _) => format!("Given VPC {id}"),
            (None, Some(cidr)) => format!("VPC {cidr}"),
            (None, None) => "VPC".into(),
        },
        Part::InternetGateway { .. } => "Internet gateway".into(),
        Part::Subnet { tier: Tier::Public, .. } => "Public subnet".into(),
        Part::Subnet {
            tier: Tier::Private, ..
        } => "Private subnet".into(),
        Part::NatGateway => "NAT gateway".into(),
        Part::ControlPlane { .. } => "EKS control plane".into(),
        Part::Nodegroup { key, .. } => format!("Node group {key}"),
        Part::FargateProfile { key, .. } => format!("Fargate profile {key}"),
        Part::Addon { name, .. } => name.clone(),
        Part::DbInstance { role, .. } => match role {
            DbRole::Primary => "Database primary".into(),
            DbRole::Standby => "Multi-AZ standby".into(),
            DbRole::Replica(n) => format!("Read replica {n}"),
        },
        Part::AuroraCluster { .. } => "Aurora cluster".into(),
        Part::AuroraInstance { ordinal: 1, .. } => "Writer (instance 1)".into(),
        Part::AuroraInstance { ordinal, .. } => format!("Reader (instance {ordinal})"),
        Part::Proxy { .. } => "RDS Proxy".into(),
        Part::Other { kind } => kind.as_str().into(),
    }
}

/// The lines under a box's title.
pub fn details(node: &Node) -> Vec<String> {
    match &node.part {
        Part::Internet | Part::Other { .. } | Part::Vpc { .. } => vec![],
        Part::LoadBalancer { made_by } => vec![
            "made by a Kubernetes Ingress".into(),
            match made_by {
                LoadBalancerMaker::Controller => "via the AWS Load Balancer Controller".into(),
                LoadBalancerMaker::AutoMode => "via EKS Auto Mode".into(),
                LoadBalancerMaker::NoController => "once eks.load_balancer_controller is on".into(),
            },
        ],
        Part::Pods => vec!["your workloads, run by Kubernetes".into()],
        Part::AutoModeNodes { node_pools } => {
            let mut lines = vec!["EKS starts and runs them".into()];
            if !node_pools.is_empty() {
                lines.push(format!("node pools: {}", node_pools.join(", ")));
            }
            lines
        }
        Part::InternetGateway { given: true } => vec!["the given VPC's".into()],
        Part::InternetGateway { given: false } => vec![],
        Part::Subnet { cidr, given_id, .. } => match (cidr, given_id) {
            (_, Some(id)) => vec![id.clone()],
            (Some(cidr), None) => vec![cidr.to_string()],
            (None, None) => vec![],
        },
        Part::NatGateway => vec!["with its Elastic IP".into()],
        Part::ControlPlane {
            name,
            version,
            endpoint,
            auto,
            logging,
        } => {
            let mut lines = vec![format!("cluster {name}")];
            if let Some(v) = version {
                lines.push(format!("Kubernetes {v}"));
            }
            if let Some(e) = endpoint {
                lines.push(format!("endpoint {}", e.as_str()));
            }
            if *auto {
                lines.push("EKS Auto Mode".into());
            }
            if !logging.is_empty() {
                lines.push(format!("logs: {}", logging.join(", ")));
            }
            lines
        }
        Part::Nodegroup {
            instance_types,
            capacity,
            size,
            ..
        } => {
            let mut lines = Vec::new();
            let mut what = instance_types.join(", ");
            if let Some(c) = capacity {
                if !what.is_empty() {
                    what.push_str(" · ");
                }
                what.push_str(c.as_str());
            }
            if !what.is_empty() {
                lines.push(what);
            }
            if let Some(s) = size {
                lines.push(format!("min {} / desired {} / max {}", s.min, s.desired, s.max));
            }
            lines
        }
        Part::FargateProfile { namespaces, .. } if namespaces.is_empty() => vec![],
        Part::FargateProfile { namespaces, .. } => vec![format!("namespaces: {}", namespaces.join(", "))],
        Part::Addon { version, .. } => version.iter().cloned().collect(),
        Part::DbInstance { role, engine, class } => {
            let mut what: Vec<&str> = Vec::new();
            what.extend(engine.map(|e| e.as_str()));
            what.extend(class.as_deref());
            let mut lines = vec![];
            if !what.is_empty() {
                lines.push(what.join(" · "));
            }
            match role {
                DbRole::Primary => {}
                DbRole::Standby => lines.push("synchronous copy, fails over".into()),
                DbRole::Replica(_) => lines.push("asynchronous, takes reads".into()),
            }
            lines
        }
        Part::AuroraCluster { engine, serverless } => {
            let mut lines: Vec<String> = engine.iter().map(|e| e.as_str().to_string()).collect();
            if let Some((min, max)) = serverless {
                lines.push(format!("Serverless v2, {min}–{max} ACU"));
            }
            lines.push("RDS spreads its instances over the AZs".into());
            lines
        }
        Part::AuroraInstance { class, .. } => class.iter().cloned().collect(),
        Part::Proxy { engine_family } => {
            let mut lines = vec!["pools the pods' connections".into()];
            lines.extend(engine_family.clone());
            lines
        }
    }
}

/// The word on a traffic arrow.
pub fn traffic_label(traffic: crate::diagram::Traffic) -> &'static str {
    match traffic {
        crate::diagram::Traffic::Ingress => "requests",
        crate::diagram::Traffic::Queries => "SQL",
        crate::diagram::Traffic::Egress => "egress",
    }
}

/// Resources without a box of their own, as `kind: count`, with how many
/// of them each action touches.
pub fn tally(diagram: &Diagram) -> Vec<(String, Vec<(Shade, usize)>)> {
    let mut by_kind: std::collections::BTreeMap<&str, Vec<Shade>> = Default::default();
    for n in &diagram.others {
        if let Part::Other { kind } = &n.part {
            by_kind.entry(kind.as_str()).or_default().push(Shade::of(n));
        }
    }
    by_kind
        .into_iter()
        .map(|(kind, shades)| {
            let mut counts: Vec<(Shade, usize)> = Vec::new();
            for s in shades {
                match counts.iter_mut().find(|(c, _)| *c == s) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((s, 1)),
                }
            }
            (kind.to_string(), counts)
        })
        .collect()
}

#[cfg(test)]
mod tests;

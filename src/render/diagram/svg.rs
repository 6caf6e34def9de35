//! The diagram as a self-contained SVG: no fonts, images, scripts or style
//! sheets from elsewhere, so it opens the same in a browser, an editor or
//! a pull request.
//!
//! The layout is a grid. The internet is at the top; below it the VPC, one
//! column per AZ, each with its public subnet (the NAT gateway) above its
//! private subnet (the database instances); what spans the AZs (the ALB,
//! the pods with their node groups and Fargate profiles, the RDS Proxy,
//! an Aurora cluster) is drawn across the columns. The EKS control plane
//! is AWS's, outside the VPC, on the right with the legend. Arrows are
//! routed so that they cross other arrows but never a box: ingress comes
//! down between the first two AZs, and egress leaves each NAT gateway by a
//! corridor above the NAT row and a lane on the VPC's right.

use std::fmt::Write as _;

use super::{details, heading, legend_title, tally, title, traffic_label, Shade};
use crate::diagram::{DbRole, Diagram, End, Node, Part, Traffic};
use crate::plan::Action;

const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Helvetica Neue', Arial, sans-serif";
const MARGIN: f64 = 28.0;
const COL_W: f64 = 340.0;
const COL_GAP: f64 = 28.0;
/// Between the VPC's left edge and the first AZ.
const VPC_PAD: f64 = 22.0;
/// Between the last AZ and the VPC's right edge: the egress lane.
const LANE: f64 = 56.0;
const NAT_W: f64 = 160.0;
const PANEL_W: f64 = 310.0;
const PANEL_GAP: f64 = 48.0;
const INK: &str = "#1f2937";
const EGRESS: &str = "#0e7490";
const MUTED: &str = "#64748b";

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn right(&self) -> f64 {
        self.x + self.w
    }
    fn bottom(&self) -> f64 {
        self.y + self.h
    }
    fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
}

/// Height of a box with a title and `lines` lines under it.
fn box_height(lines: usize) -> f64 {
    32.0 + 16.0 * lines as f64
}

/// Roughly how wide `text` is at `size` px in a sans-serif face.
fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    let per = if bold { 0.6 } else { 0.56 };
    text.chars().count() as f64 * size * per
}

/// `text`, cut with an ellipsis to fit `width`.
fn fit(text: &str, width: f64, size: f64, bold: bool) -> String {
    if text_width(text, size, bold) <= width {
        return text.to_string();
    }
    let per = size * if bold { 0.6 } else { 0.56 };
    let keep = ((width / per).floor() as usize).saturating_sub(1);
    let mut cut: String = text.chars().take(keep).collect();
    cut.push('…');
    cut
}

/// Text as XML character data or an attribute value.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

#[derive(Default)]
struct Svg {
    body: String,
}

impl Svg {
    fn raw(&mut self, s: &str) {
        self.body.push_str(s);
        self.body.push('\n');
    }

    #[allow(clippy::too_many_arguments)]
    fn text(&mut self, x: f64, y: f64, size: f64, bold: bool, fill: &str, anchor: &str, text: &str) {
        self.raw(&format!(
            r#"<text x="{}" y="{}" font-size="{}"{} fill="{fill}" text-anchor="{anchor}">{}</text>"#,
            n(x),
            n(y),
            n(size),
            if bold { r#" font-weight="600""# } else { "" },
            esc(text)
        ));
    }

    fn rect(&mut self, r: Rect, rx: f64, fill: &str, stroke: &str, extra: &str) {
        self.raw(&format!(
            r#"<rect x="{}" y="{}" width="{}" height="{}" rx="{}" fill="{fill}" stroke="{stroke}"{extra}/>"#,
            n(r.x),
            n(r.y),
            n(r.w),
            n(r.h),
            n(rx)
        ));
    }

    /// A resource or context box: title, detail lines, an action badge.
    fn node(&mut self, r: Rect, node: &Node, lines: &[String]) {
        self.node_styled(r, node, lines, 8.0, "");
    }

    /// [`Self::node`] with its own corner radius and extra attributes for
    /// the rectangle (the Aurora cluster's box is rounder and translucent).
    fn node_styled(&mut self, r: Rect, node: &Node, lines: &[String], rx: f64, extra: &str) {
        let shade = Shade::of(node);
        let p = shade.paint();
        let dash = dash_of(shade);
        self.open_group(node, shade);
        self.rect(r, rx, p.fill, p.stroke, &format!(r#" stroke-width="1.6"{extra}{dash}"#));
        let t = title(node);
        // In a narrow box the badge is the action's symbol alone.
        let badge = shade.badge().map(|b| {
            if text_width(&t, 13.5, true) + text_width(b, 10.5, true) + 12.0 > r.w - 24.0 {
                b.split(' ').next().unwrap_or(b)
            } else {
                b
            }
        });
        let badge_w = badge.map_or(0.0, |b| text_width(b, 10.5, true) + 12.0);
        if lines.is_empty() && badge.is_none() {
            // A box that is only a name: centred.
            self.text(
                r.cx(),
                r.cy() + 5.0,
                13.5,
                true,
                p.text,
                "middle",
                &fit(&t, r.w - 24.0, 13.5, true),
            );
        } else {
            self.text(
                r.x + 12.0,
                r.y + 21.0,
                13.5,
                true,
                p.text,
                "start",
                &fit(&t, r.w - 24.0 - badge_w, 13.5, true),
            );
        }
        if let Some(b) = badge {
            self.text(r.right() - 10.0, r.y + 19.0, 10.5, true, p.stroke, "end", b);
        }
        for (i, line) in lines.iter().enumerate() {
            self.text(
                r.x + 12.0,
                r.y + 39.0 + 16.0 * i as f64,
                12.0,
                false,
                p.text,
                "start",
                &fit(line, r.w - 24.0, 12.0, false),
            );
        }
        self.raw("</g>");
    }

    /// A group carrying the address the box stands for, and a tooltip.
    fn open_group(&mut self, node: &Node, shade: Shade) {
        match &node.address {
            Some(a) => self.raw(&format!(
                r#"<g class="{}" data-address="{}"><title>{} ({})</title>"#,
                shade.class(),
                esc(a),
                esc(a),
                esc(shade.legend())
            )),
            None => self.raw(&format!(
                r#"<g class="{}"><title>{}: {}</title>"#,
                shade.class(),
                esc(&title(node)),
                esc(shade.legend())
            )),
        }
    }

    /// An arrow along `points`, with a label near `label_at`.
    fn arrow(&mut self, points: &[(f64, f64)], traffic: Traffic, label: Option<(f64, f64, &str)>) {
        self.path(points, traffic, true);
        if let Some((x, y, anchor)) = label {
            let colour = if traffic == Traffic::Egress { EGRESS } else { INK };
            self.raw(&format!(
                r#"<text class="label" x="{}" y="{}" font-size="11" fill="{colour}" text-anchor="{anchor}">{}</text>"#,
                n(x),
                n(y),
                esc(traffic_label(traffic))
            ));
        }
    }

    fn path(&mut self, points: &[(f64, f64)], traffic: Traffic, head: bool) {
        let mut d = String::new();
        for (i, (x, y)) in points.iter().enumerate() {
            write!(d, "{}{},{} ", if i == 0 { "M" } else { "L" }, n(*x), n(*y)).ok();
        }
        let (colour, dash, marker) = match traffic {
            Traffic::Egress => (EGRESS, r#" stroke-dasharray="7 4""#, "url(#head-egress)"),
            _ => (INK, "", "url(#head)"),
        };
        let head = if head {
            format!(r#" marker-end="{marker}""#)
        } else {
            String::new()
        };
        self.raw(&format!(
            r#"<path d="{}" fill="none" stroke="{colour}" stroke-width="1.8"{dash}{head}/>"#,
            d.trim_end()
        ));
    }
}

fn dash_of(shade: Shade) -> &'static str {
    match shade {
        Shade::Context => r#" stroke-dasharray="5 4""#,
        Shade::Action(Action::Delete) => r#" stroke-dasharray="6 3""#,
        _ => "",
    }
}

/// Details on one line when they fit `width`, else one per line.
fn packed(node: &Node, width: f64) -> Vec<String> {
    let lines = details(node);
    let one = lines.join(" · ");
    if lines.len() > 1 && text_width(&one, 12.0, false) <= width - 24.0 {
        vec![one]
    } else {
        lines
    }
}

/// Where each AZ's column and what spans them sit, top to bottom.
struct Layout {
    cols: Vec<f64>,
    vpc: Rect,
    internet: Rect,
}

/// The SVG document of the diagram.
pub fn render(d: &Diagram) -> String {
    let zones = &d.network.zones;
    let count = zones.len().max(1);
    let span_w = count as f64 * COL_W + (count - 1) as f64 * COL_GAP;
    let vpc_x = MARGIN;
    let cols: Vec<f64> = (0..count)
        .map(|i| vpc_x + VPC_PAD + i as f64 * (COL_W + COL_GAP))
        .collect();
    // Down the gap between the first two AZs, clear of every box.
    let ingress_x = if count > 1 {
        cols[0] + COL_W + COL_GAP / 2.0
    } else {
        cols[0] + COL_W - 14.0 - NAT_W - 26.0
    };
    let header_h = 70.0;
    let internet = Rect {
        x: ingress_x - 130.0,
        y: header_h + 6.0,
        w: 260.0,
        h: 46.0,
    };
    let vpc_y = internet.bottom() + 74.0;
    let mut lay = Layout {
        cols,
        vpc: Rect {
            x: vpc_x,
            y: vpc_y,
            w: VPC_PAD + span_w + LANE,
            h: 0.0,
        },
        internet,
    };
    let span = |lay: &Layout, inset: f64| (lay.cols[0] + inset, span_w - 2.0 * inset);

    let mut svg = Svg::default();
    let mut under = Svg::default(); // AZ columns and subnets, drawn first
    let mut arrows = Svg::default(); // drawn last, over the containers

    // Rows, top to bottom.
    let az_y = vpc_y + 46.0;
    let pub_y = az_y + 34.0;
    let mut y = pub_y + 36.0;
    let alb = d.network.load_balancer.as_ref().map(|alb| {
        let (x, w) = span(&lay, 14.0);
        let lines = packed(alb, w);
        let r = Rect {
            x,
            y,
            w,
            h: box_height(lines.len()),
        };
        y = r.bottom() + 16.0;
        (r, lines)
    });
    let corridor_y = y;
    let any_nat = zones.iter().any(|z| !z.nat_gateways.is_empty());
    if any_nat {
        y += 16.0;
    }
    let nat_h = box_height(1);
    let nat_rows = zones.iter().map(|z| z.nat_gateways.len()).max().unwrap_or(0);
    let nat_y = y;
    y += nat_rows as f64 * (nat_h + 10.0);
    let pub_bottom = y.max(pub_y + 64.0) + 6.0;

    let priv_y = pub_bottom + 18.0;
    y = priv_y + 40.0;
    // The pods, around the node groups and profiles.
    let pods = d.cluster.as_ref().map(|c| {
        let (x, w) = span(&lay, 14.0);
        let inner = w - 24.0;
        let items = c.compute.len().max(1);
        let per_row = items.min(((inner + 12.0) / 202.0).floor().max(1.0) as usize);
        let item_w = (inner - (per_row - 1) as f64 * 12.0) / per_row as f64;
        let lines: Vec<Vec<String>> = c.compute.iter().map(details).collect();
        let item_h = box_height(lines.iter().map(Vec::len).max().unwrap_or(0));
        let rows = c.compute.len().div_ceil(per_row).max(1);
        let boxes: Vec<Rect> = (0..c.compute.len())
            .map(|i| Rect {
                x: x + 12.0 + (i % per_row) as f64 * (item_w + 12.0),
                y: y + 34.0 + (i / per_row) as f64 * (item_h + 12.0),
                w: item_w,
                h: item_h,
            })
            .collect();
        let r = Rect {
            x,
            y,
            w,
            h: 34.0 + rows as f64 * (item_h + 12.0) + 2.0,
        };
        y = r.bottom() + 36.0;
        (r, boxes, lines)
    });
    let proxy = d.database.as_ref().and_then(|db| db.proxy.as_ref()).map(|p| {
        let (x, w) = span(&lay, 14.0);
        let lines = packed(p, w);
        let r = Rect {
            x,
            y,
            w,
            h: box_height(lines.len()),
        };
        y = r.bottom() + 34.0;
        (r, lines)
    });
    let aurora = d.database.as_ref().and_then(|db| db.aurora.as_ref()).map(|a| {
        let (x, w) = span(&lay, 14.0);
        let lines = packed(a, w);
        let header = box_height(lines.len()) - 4.0;
        (Rect { x, y, w, h: header }, lines)
    });
    let db_top = aurora.as_ref().map_or(y, |(r, _)| r.bottom());
    let mut db_boxes: Vec<Vec<Rect>> = Vec::new();
    let mut db_bottom = db_top;
    for z in zones {
        let mut col = Vec::new();
        let mut cy = db_top;
        for node in &z.databases {
            let h = box_height(details(node).len());
            col.push(Rect {
                x: 0.0,
                y: cy,
                w: 0.0,
                h,
            });
            cy += h + 12.0;
        }
        if !z.databases.is_empty() {
            db_bottom = db_bottom.max(cy - 12.0);
        }
        db_boxes.push(col);
    }
    for (i, col) in db_boxes.iter_mut().enumerate() {
        for r in col.iter_mut() {
            let inset = if aurora.is_some() { 26.0 } else { 14.0 };
            r.x = lay.cols[i] + inset;
            r.w = COL_W - 2.0 * inset;
        }
    }
    let aurora = aurora.map(|(mut r, lines)| {
        r.h = (db_bottom - r.y) + 14.0;
        (r, lines)
    });
    let data_bottom = aurora.as_ref().map_or(db_bottom, |(r, _)| r.bottom());
    let priv_bottom = data_bottom.max(y - 20.0).max(priv_y + 64.0) + 14.0;
    let az_bottom = priv_bottom + 14.0;
    lay.vpc.h = az_bottom + 18.0 - vpc_y;

    // The internet gateway on the VPC's top edge.
    let igw = d.network.internet_gateway.as_ref().map(|g| {
        let lines = details(g);
        let r = Rect {
            x: ingress_x - 95.0,
            y: vpc_y - box_height(lines.len()) / 2.0,
            w: 190.0,
            h: box_height(lines.len()),
        };
        (r, g, lines)
    });

    // The VPC, its AZ columns and subnets.
    let vpc_shade = Shade::of(&d.network.vpc);
    let vp = vpc_shade.paint();
    under.open_group(&d.network.vpc, vpc_shade);
    under.rect(
        lay.vpc,
        12.0,
        "#ffffff",
        vp.stroke,
        &format!(r#" stroke-width="2.2"{}"#, dash_of(vpc_shade)),
    );
    // Left of the internet gateway on the top edge: "VPC" or "Given VPC"
    // in bold, then the CIDR or id, then the badge.
    let vpc_title = title(&d.network.vpc);
    let (word, rest) = match vpc_title.split_once(" vpc-").or_else(|| vpc_title.split_once(' ')) {
        Some((w, r)) if vpc_title.contains(" vpc-") => (w.to_string(), format!("vpc-{r}")),
        Some((w, r)) => (w.to_string(), r.to_string()),
        None => (vpc_title.clone(), String::new()),
    };
    let room = igw.as_ref().map_or(lay.vpc.w, |(g, _, _)| g.x - lay.vpc.x) - 28.0;
    under.text(lay.vpc.x + 16.0, vpc_y + 27.0, 15.0, true, vp.text, "start", &word);
    let mut x = lay.vpc.x + 16.0 + text_width(&word, 15.0, true) + 8.0;
    let badge = vpc_shade.badge();
    let badge_w = badge.map_or(0.0, |b| text_width(b, 10.5, true) + 8.0);
    under.text(
        x,
        vpc_y + 27.0,
        13.0,
        false,
        vp.text,
        "start",
        &fit(&rest, room - (x - lay.vpc.x) - badge_w, 13.0, false),
    );
    x += text_width(&rest, 13.0, false).min(room - (x - lay.vpc.x) - badge_w) + 8.0;
    if let Some(b) = badge {
        under.text(x, vpc_y + 26.0, 10.5, true, vp.stroke, "start", b);
    }
    under.raw("</g>");
    for (i, z) in zones.iter().enumerate() {
        let col = Rect {
            x: lay.cols[i],
            y: az_y,
            w: COL_W,
            h: az_bottom - az_y,
        };
        under.rect(col, 10.0, "#f8fafc", "#94a3b8", r#" stroke-dasharray="6 4""#);
        under.text(col.x + 12.0, az_y + 22.0, 13.5, true, "#475569", "start", &z.name);
        for (subnet, top, bottom) in [
            (&z.public_subnet, pub_y, pub_bottom),
            (&z.private_subnet, priv_y, priv_bottom),
        ] {
            let r = Rect {
                x: col.x + 8.0,
                y: top,
                w: COL_W - 16.0,
                h: bottom - top,
            };
            match subnet {
                Some(s) => subnet_box(&mut under, r, s),
                None => {
                    // An AZ only a deletion names may lack one tier.
                    under.rect(r, 8.0, "none", "#cbd5e1", r#" stroke-dasharray="3 3""#);
                }
            }
        }
        for (j, nat) in z.nat_gateways.iter().enumerate() {
            let r = Rect {
                x: col.right() - 14.0 - NAT_W,
                y: nat_y + j as f64 * (nat_h + 10.0),
                w: NAT_W,
                h: nat_h,
            };
            svg.node(r, nat, &details(nat));
        }
    }

    svg.node(lay.internet, &d.internet, &[]);
    if let Some((r, g, lines)) = &igw {
        svg.node(*r, g, lines);
    }
    if let Some((r, lines)) = &alb {
        svg.node(*r, d.network.load_balancer.as_ref().unwrap_or(&d.internet), lines);
    }

    // The pods and what runs them.
    if let (Some(c), Some((r, boxes, lines))) = (&d.cluster, &pods) {
        let shade = Shade::of(&c.pods);
        let p = shade.paint();
        svg.open_group(&c.pods, shade);
        svg.rect(
            *r,
            10.0,
            "#ffffff",
            p.stroke,
            &format!(r#" stroke-width="1.6"{}"#, dash_of(shade)),
        );
        let label = format!("{} — {}", title(&c.pods), details(&c.pods).join(", "));
        svg.text(r.x + 14.0, r.y + 22.0, 13.0, true, p.text, "start", &label);
        svg.raw("</g>");
        for ((node, b), lines) in c.compute.iter().zip(boxes).zip(lines) {
            svg.node(*b, node, lines);
        }
        if c.compute.is_empty() {
            svg.text(
                r.x + 14.0,
                r.y + 52.0,
                12.0,
                false,
                MUTED,
                "start",
                "no node group or Fargate profile",
            );
        }
    }
    if let (Some(db), Some((r, lines))) = (&d.database, &proxy) {
        if let Some(p) = &db.proxy {
            svg.node(*r, p, lines);
        }
    }
    if let (Some(db), Some((r, lines))) = (&d.database, &aurora) {
        if let Some(a) = &db.aurora {
            svg.node_styled(*r, a, lines, 10.0, r#" fill-opacity="0.55""#);
        }
    }
    for (z, col) in zones.iter().zip(&db_boxes) {
        for (node, r) in z.databases.iter().zip(col) {
            svg.node(*r, node, &details(node));
        }
    }

    // Replication from the primary to its standby and replicas.
    let writer_rect = d
        .database
        .as_ref()
        .and_then(|db| db.writer)
        .and_then(|(z, i)| db_boxes.get(z).and_then(|c| c.get(i)).copied());
    if let (Some(w), Some(db)) = (writer_rect, d.database.as_ref()) {
        let (wz, _) = db.writer.unwrap_or_default();
        for (zi, (z, col)) in zones.iter().zip(&db_boxes).enumerate() {
            if zi == wz {
                continue;
            }
            for (node, r) in z.databases.iter().zip(col) {
                let word = match node.part {
                    Part::DbInstance {
                        role: DbRole::Standby, ..
                    } => "sync",
                    Part::DbInstance {
                        role: DbRole::Replica(_),
                        ..
                    } => "async",
                    _ => "replicates",
                };
                let (from_x, to_x) = if r.x > w.x { (w.right(), r.x) } else { (w.x, r.right()) };
                let mid = (from_x + to_x) / 2.0;
                let wy = w.y + w.h / 2.0;
                let ry = r.y + 20.0;
                under_path(&mut arrows, &[(from_x, wy), (mid, wy), (mid, ry), (to_x, ry)]);
                arrows.raw(&format!(
                    r#"<text class="label" x="{}" y="{}" font-size="10.5" fill="{MUTED}" text-anchor="middle">{word}</text>"#,
                    n(mid),
                    n(ry - 5.0)
                ));
            }
        }
    }

    // Traffic.
    let pods_rect = pods.as_ref().map(|(r, _, _)| *r);
    let db_target = match (&aurora, writer_rect) {
        // Clients reach Aurora through the cluster's writer endpoint.
        (Some((r, _)), Some(w)) => Some((w.cx(), r.y)),
        (None, Some(w)) => Some((w.cx(), w.y)),
        _ => None,
    };
    let lane_x = lay.vpc.right() - LANE / 2.0;
    let mut egress_drawn = false;
    for f in &d.flows {
        match (f.from, f.to) {
            (End::Internet, End::InternetGateway) => {
                if let Some((g, _, _)) = &igw {
                    arrows.arrow(
                        &[(ingress_x, lay.internet.bottom()), (ingress_x, g.y)],
                        f.traffic,
                        Some((ingress_x + 8.0, (lay.internet.bottom() + g.y) / 2.0 + 4.0, "start")),
                    );
                }
            }
            (End::InternetGateway | End::Internet, End::LoadBalancer) => {
                if let Some((a, _)) = &alb {
                    let top = igw.as_ref().map_or(lay.internet.bottom(), |(g, _, _)| g.bottom());
                    arrows.arrow(&[(ingress_x, top), (ingress_x, a.y)], f.traffic, None);
                }
            }
            (End::LoadBalancer, End::Pods) => {
                if let (Some((a, _)), Some(p)) = (&alb, pods_rect) {
                    arrows.arrow(
                        &[(ingress_x, a.bottom()), (ingress_x, p.y)],
                        f.traffic,
                        Some((ingress_x + 8.0, priv_y - 6.0, "start")),
                    );
                }
            }
            (End::Pods, End::Proxy) => {
                if let (Some(p), Some((x, _))) = (pods_rect, &proxy) {
                    let cx = db_target.map_or(x.cx(), |(cx, _)| cx);
                    arrows.arrow(
                        &[(cx, p.bottom()), (cx, x.y)],
                        f.traffic,
                        Some((cx + 8.0, (p.bottom() + x.y) / 2.0 + 4.0, "start")),
                    );
                }
            }
            (End::Proxy, End::Database) => {
                if let (Some((x, _)), Some((cx, ty))) = (&proxy, db_target) {
                    arrows.arrow(&[(cx, x.bottom()), (cx, ty)], f.traffic, None);
                }
            }
            (End::Pods, End::Database) => {
                if let (Some(p), Some((cx, ty))) = (pods_rect, db_target) {
                    arrows.arrow(
                        &[(cx, p.bottom()), (cx, ty)],
                        f.traffic,
                        Some((cx + 8.0, (p.bottom() + ty) / 2.0 + 4.0, "start")),
                    );
                }
            }
            (End::Pods, End::Nat(z)) => {
                if let Some(p) = pods_rect {
                    let x = lay.cols[z] + COL_W - 14.0 - NAT_W / 2.0;
                    let last = nat_y + (d.network.zones[z].nat_gateways.len().max(1) - 1) as f64 * (nat_h + 10.0);
                    arrows.arrow(
                        &[(x, p.y), (x, last + nat_h)],
                        f.traffic,
                        Some((x + 8.0, priv_y - 6.0, "start")),
                    );
                }
            }
            (End::Nat(z), End::Internet) => {
                let x = lay.cols[z] + COL_W - 14.0 - NAT_W / 2.0;
                arrows.path(&[(x, nat_y), (x, corridor_y), (lane_x, corridor_y)], f.traffic, false);
                egress_drawn = true;
            }
            (End::Pods, End::Internet) => {
                // A given VPC: out by its own routes, up the lane.
                if let Some(p) = pods_rect {
                    arrows.path(&[(p.right(), p.y + 18.0), (lane_x, p.y + 18.0)], f.traffic, false);
                    let from = p.y + 18.0;
                    arrows.arrow(
                        &[
                            (lane_x, from),
                            (lane_x, lay.internet.cy()),
                            (lay.internet.right(), lay.internet.cy()),
                        ],
                        f.traffic,
                        Some((lane_x - 6.0, lay.internet.cy() - 8.0, "end")),
                    );
                }
            }
            _ => {}
        }
    }
    if egress_drawn {
        arrows.arrow(
            &[
                (lane_x, corridor_y),
                (lane_x, lay.internet.cy()),
                (lay.internet.right(), lay.internet.cy()),
            ],
            Traffic::Egress,
            Some((lane_x - 6.0, lay.internet.cy() - 8.0, "end")),
        );
    }

    // The control plane, the legend and the tally, on the right.
    let panel_x = lay.vpc.right() + PANEL_GAP;
    let mut py = vpc_y - 10.0;
    let mut panel = Svg::default();
    if let Some(c) = &d.cluster {
        let cp = &c.control_plane;
        let shade = Shade::of(cp);
        let p = shade.paint();
        let lines = details(cp);
        let addon_h = 26.0;
        let addons_h = if c.addons.is_empty() {
            0.0
        } else {
            30.0 + c.addons.len() as f64 * (addon_h + 6.0)
        };
        let h = 50.0 + 16.0 * lines.len() as f64 + addons_h + 8.0;
        let r = Rect {
            x: panel_x,
            y: py,
            w: PANEL_W,
            h,
        };
        panel.open_group(cp, shade);
        panel.rect(
            r,
            10.0,
            p.fill,
            p.stroke,
            &format!(r#" stroke-width="1.8"{}"#, dash_of(shade)),
        );
        panel.text(r.x + 14.0, r.y + 23.0, 15.0, true, p.text, "start", &title(cp));
        if let Some(b) = shade.badge() {
            panel.text(r.right() - 12.0, r.y + 21.0, 10.5, true, p.stroke, "end", b);
        }
        panel.text(
            r.x + 14.0,
            r.y + 41.0,
            11.5,
            false,
            MUTED,
            "start",
            "AWS-managed, outside the VPC",
        );
        for (i, line) in lines.iter().enumerate() {
            panel.text(
                r.x + 14.0,
                r.y + 62.0 + 16.0 * i as f64,
                12.0,
                false,
                p.text,
                "start",
                &fit(line, r.w - 28.0, 12.0, false),
            );
        }
        let ay = r.y + 62.0 + 16.0 * lines.len() as f64 + 6.0;
        if !c.addons.is_empty() {
            panel.text(r.x + 14.0, ay, 12.5, true, p.text, "start", "Add-ons");
        }
        panel.raw("</g>");
        for (i, a) in c.addons.iter().enumerate() {
            let ar = Rect {
                x: r.x + 14.0,
                y: ay + 10.0 + i as f64 * (addon_h + 6.0),
                w: r.w - 28.0,
                h: addon_h,
            };
            let shade = Shade::of(a);
            let ap = shade.paint();
            panel.open_group(a, shade);
            panel.rect(
                ar,
                13.0,
                ap.fill,
                ap.stroke,
                &format!(r#" stroke-width="1.3"{}"#, dash_of(shade)),
            );
            let badge = shade.badge().map(|b| b.split(' ').next().unwrap_or(b));
            let mut version = details(a).join(" ");
            if let Some(b) = badge {
                version = format!("{version} {b}").trim().to_string();
            }
            let version = fit(&version, ar.w * 0.45, 11.0, false);
            let room = ar.w - 24.0 - text_width(&version, 11.0, false) - 10.0;
            panel.text(
                ar.x + 12.0,
                ar.y + 17.5,
                12.0,
                true,
                ap.text,
                "start",
                &fit(&title(a), room, 12.0, true),
            );
            panel.text(ar.right() - 12.0, ar.y + 17.5, 11.0, false, ap.text, "end", &version);
            panel.raw("</g>");
        }
        py = r.bottom() + 22.0;
    }

    // The legend.
    let shades = Shade::legend_entries(d);
    let legend_h = 44.0 + shades.len() as f64 * 24.0 + 12.0 + 2.0 * 22.0 + 10.0;
    let lr = Rect {
        x: panel_x,
        y: py,
        w: PANEL_W,
        h: legend_h,
    };
    panel.rect(lr, 10.0, "#ffffff", "#cbd5e1", r#" stroke-width="1.2""#);
    panel.text(lr.x + 14.0, lr.y + 24.0, 13.5, true, INK, "start", "Legend");
    panel.text(lr.x + 76.0, lr.y + 24.0, 12.0, false, MUTED, "start", legend_title(d));
    for (i, s) in shades.iter().enumerate() {
        let sy = lr.y + 40.0 + i as f64 * 24.0;
        let p = s.paint();
        panel.rect(
            Rect {
                x: lr.x + 14.0,
                y: sy,
                w: 26.0,
                h: 16.0,
            },
            4.0,
            p.fill,
            p.stroke,
            &format!(r#" stroke-width="1.5"{}"#, dash_of(*s)),
        );
        panel.text(lr.x + 50.0, sy + 12.5, 12.0, false, INK, "start", s.legend());
    }
    let ay = lr.y + 40.0 + shades.len() as f64 * 24.0 + 14.0;
    panel.path(&[(lr.x + 14.0, ay), (lr.x + 52.0, ay)], Traffic::Ingress, true);
    panel.text(lr.x + 62.0, ay + 4.0, 12.0, false, INK, "start", "requests and SQL");
    panel.path(
        &[(lr.x + 14.0, ay + 22.0), (lr.x + 52.0, ay + 22.0)],
        Traffic::Egress,
        true,
    );
    panel.text(
        lr.x + 62.0,
        ay + 26.0,
        12.0,
        false,
        INK,
        "start",
        "egress to the internet",
    );
    py = lr.bottom() + 22.0;

    // What has no box of its own.
    let rows = tally(d);
    if !rows.is_empty() {
        let tr = Rect {
            x: panel_x,
            y: py,
            w: PANEL_W,
            h: 40.0 + rows.len() as f64 * 20.0 + 6.0,
        };
        panel.rect(tr, 10.0, "#ffffff", "#cbd5e1", r#" stroke-width="1.2""#);
        panel.text(tr.x + 14.0, tr.y + 24.0, 13.5, true, INK, "start", "Also in the stack");
        for (i, (kind, counts)) in rows.iter().enumerate() {
            let ry = tr.y + 46.0 + i as f64 * 20.0;
            let total: usize = counts.iter().map(|(_, n)| n).sum();
            panel.text(tr.x + 14.0, ry, 12.0, false, INK, "start", &format!("{total} × {kind}"));
            let mut cx = tr.right() - 14.0;
            // Without a plan, every count is the same colour: the total says it.
            let chips = if d.planned { counts.as_slice() } else { &[] };
            for (shade, count) in chips.iter().rev() {
                let p = shade.paint();
                let label = count.to_string();
                let w = text_width(&label, 11.0, true) + 14.0;
                cx -= w;
                panel.rect(
                    Rect {
                        x: cx,
                        y: ry - 12.0,
                        w,
                        h: 16.0,
                    },
                    8.0,
                    p.fill,
                    p.stroke,
                    &format!(r#" stroke-width="1.2"{}"#, dash_of(*shade)),
                );
                panel.text(cx + w / 2.0, ry, 11.0, true, p.text, "middle", &label);
                cx -= 4.0;
            }
        }
        py = tr.bottom();
    }

    let width = panel_x + PANEL_W + MARGIN;
    let height = lay.vpc.bottom().max(py) + MARGIN;
    let head = heading(d);
    let mut out = String::new();
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}">"#,
        w = n(width),
        h = n(height)
    )
    .ok();
    writeln!(out, "<title>{}</title>", esc(&format!("ekstack diagram: {head}"))).ok();
    writeln!(
        out,
        r#"<style>text{{font-family:{FONT}}} .label{{paint-order:stroke;stroke:#ffffff;stroke-width:4px;stroke-linejoin:round}}</style>"#
    )
    .ok();
    writeln!(
        out,
        r##"<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker><marker id="head-egress" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{EGRESS}"/></marker></defs>"##
    )
    .ok();
    writeln!(
        out,
        r##"<rect x="0" y="0" width="{}" height="{}" fill="#ffffff"/>"##,
        n(width),
        n(height)
    )
    .ok();
    let mut top = Svg::default();
    top.text(
        MARGIN,
        38.0,
        21.0,
        true,
        INK,
        "start",
        &format!("ekstack diagram — {head}"),
    );
    top.text(MARGIN, 60.0, 12.5, false, MUTED, "start", legend_title(d));
    out.push_str(&top.body);
    out.push_str(&under.body);
    out.push_str(&svg.body);
    out.push_str(&arrows.body);
    out.push_str(&panel.body);
    out.push_str("</svg>\n");
    out
}

/// A subnet: outlined in its action's colour, with a tinted header.
fn subnet_box(svg: &mut Svg, r: Rect, s: &Node) {
    let shade = Shade::of(s);
    let p = shade.paint();
    svg.open_group(s, shade);
    svg.rect(
        r,
        8.0,
        "#ffffff",
        p.stroke,
        &format!(r#" stroke-width="1.5"{}"#, dash_of(shade)),
    );
    svg.raw(&format!(
        r#"<path d="M{x0},{y1} L{x0},{y0r} Q{x0},{y0} {x0r},{y0} L{x1l},{y0} Q{x1},{y0} {x1},{y0r} L{x1},{y1} Z" fill="{}" stroke="none"/>"#,
        p.fill,
        x0 = n(r.x + 0.8),
        x1 = n(r.right() - 0.8),
        x0r = n(r.x + 8.0),
        x1l = n(r.right() - 8.0),
        y0 = n(r.y + 0.8),
        y0r = n(r.y + 8.0),
        y1 = n(r.y + 28.0),
    ));
    let t = title(s);
    svg.text(r.x + 10.0, r.y + 19.0, 12.5, true, p.text, "start", &t);
    let after = r.x + 10.0 + text_width(&t, 12.5, true) + 8.0;
    let badge = shade.badge();
    let badge_w = badge.map_or(0.0, |b| text_width(b, 10.5, true) + 10.0);
    let detail = details(s).join(" · ");
    svg.text(
        after,
        r.y + 19.0,
        12.0,
        false,
        p.text,
        "start",
        &fit(&detail, r.right() - after - 10.0 - badge_w, 12.0, false),
    );
    if let Some(b) = badge {
        svg.text(r.right() - 10.0, r.y + 18.5, 10.5, true, p.stroke, "end", b);
    }
    svg.raw("</g>");
}

/// A thin grey connector, for replication.
fn under_path(svg: &mut Svg, points: &[(f64, f64)]) {
    let mut d = String::new();
    for (i, (x, y)) in points.iter().enumerate() {
        write!(d, "{}{},{} ", if i == 0 { "M" } else { "L" }, n(*x), n(*y)).ok();
    }
    svg.raw(&format!(
        r#"<path d="{}" fill="none" stroke="{MUTED}" stroke-width="1.4" stroke-dasharray="2 3"/>"#,
        d.trim_end()
    ));
}

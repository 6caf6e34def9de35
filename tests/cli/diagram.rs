//! `ekstack diagram`: the SVG is valid XML and renders in headless
//! Chromium without errors; Mermaid goes to stdout; a live or saved plan
//! colours each resource by its action; a saved plan of another stack, or
//! a file that is no plan, is refused.

use std::path::{Path, PathBuf};

use crate::support::*;

/// The headless Chromium `scripts/ensure-chromium.sh` installs.
fn chromium() -> PathBuf {
    let names = [
        "chromium-headless-shell",
        "chromium",
        "chromium-browser",
        "google-chrome",
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "no headless Chromium on PATH ({}): run scripts/ensure-chromium.sh (or `make chromium`)",
        names.join(", ")
    );
}

/// The width and height the SVG's root says.
fn size_of(doc: &roxmltree::Document) -> (u32, u32) {
    let root = doc.root_element();
    let px = |a: &str| -> u32 {
        root.attribute(a)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("the svg has a numeric {a}")) as u32
    };
    (px("width"), px("height"))
}

/// Parses the SVG and checks what every picture must be: SVG in its
/// namespace, with a title, and nothing fetched from elsewhere.
fn check_svg(text: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not XML: {e}\n{text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    assert!(root.children().any(|n| n.has_tag_name("title")));
    assert!(!text.contains("href=\"http") && !text.contains("<script") && !text.contains("@import"));
    doc
}

/// The classes of the boxes standing for ekstack resources, by address.
fn classes(doc: &roxmltree::Document) -> Vec<(String, String)> {
    doc.descendants()
        .filter_map(|n| {
            Some((
                n.attribute("data-address")?.to_string(),
                n.attribute("class")?.to_string(),
            ))
        })
        .collect()
}

fn chromium_renders(svg: &Path, width: u32, height: u32) {
    let dir = svg.parent().unwrap();
    let png = dir.join("diagram.png");
    let url = format!("file://{}", svg.canonicalize().unwrap().display());
    let out = std::process::Command::new(chromium())
        .args(["--no-sandbox", "--disable-gpu", "--headless", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", dir.join("chromium-profile").display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed to render {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert!(
        bytes.len() > 20_000,
        "a picture, not a blank page: {} bytes",
        bytes.len()
    );
    // The PNG's IHDR says the window's size.
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (width, height));

    // Chromium shows an XML error page instead of an SVG it cannot parse.
    let out = std::process::Command::new(chromium())
        .args(["--no-sandbox", "--disable-gpu", "--headless"])
        .arg(format!("--user-data-dir={}", dir.join("chromium-profile").display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<svg"), "{dom}");
    assert!(!dom.contains("parsererror"), "chromium could not parse the SVG:\n{dom}");
    assert!(dom.contains("ap-northeast-1a") && dom.contains("ap-northeast-1c"));
}

#[test]
fn the_prod_svg_is_valid_xml_and_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("learning-prod.svg");
    let mut c = ekstack();
    c.arg("diagram")
        .arg(repo().join("stacks/learning.toml"))
        .args(["--env", "prod", "--format", "svg", "-o"])
        .arg(&file);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.is_empty(), "the file has the picture, stdout nothing: {out}");
    assert!(err.contains("Wrote the diagram to"), "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    let doc = check_svg(&text);
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for t in [
        "ap-northeast-1a",
        "ap-northeast-1c",
        "Multi-AZ standby",
        "Read replica 1",
        "RDS Proxy",
    ] {
        assert!(texts.iter().any(|x| x.contains(t)), "{t}");
    }
    // Without a plan, one colour for every resource.
    let shades: Vec<String> = classes(&doc).into_iter().map(|(_, c)| c).collect();
    assert!(
        !shades.is_empty() && shades.iter().all(|c| c == "act-file"),
        "{shades:?}"
    );
    let (w, h) = size_of(&doc);
    chromium_renders(&file, w, h);
}

#[test]
fn mermaid_is_the_default_and_goes_to_stdout_without_an_aws_call() {
    let mut c = ekstack();
    // Nothing listens here: an AWS call would fail.
    c.arg("diagram")
        .arg(repo().join("stacks/learning.toml"))
        .args(["--env", "mvp"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("%% ekstack diagram: learning (mvp)"), "{out}");
    assert!(out.contains("\nflowchart TB\n"));
    assert!(
        out.contains("ctx_pods -.->|egress| n_nat_gateway_ap_northeast_1a"),
        "{out}"
    );
    assert!(out.contains("classDef act_file"));
}

/// A saved plan by hand, in the format `ops::saved::read` accepts.
fn saved_plan_of(stack: &str, env: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "ekstack_saved_plan": 1,
        "stack": stack,
        "region": "ap-northeast-1",
        "stack_file": "stacks/learning.toml",
        "env": env,
        "env_file": null,
        "files": {},
        "flags": {"allow_data_loss": false, "reboot": false, "finish_migration": false},
        "fingerprint": "0",
        "actions": "0",
        "plan": {"format_version": 1, "stack": stack, "env": env, "region": "ap-northeast-1",
                 "actions": [{"address": "vpc", "kind": "vpc", "action": "create"}]},
    })
}

#[test]
fn a_plan_file_of_another_stack_or_no_plan_at_all_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let draw = |file: &Path, env: &str| {
        let mut c = ekstack();
        c.arg("diagram")
            .arg(repo().join("stacks/learning.toml"))
            .args(["--env", env, "--plan-file"])
            .arg(file);
        run(c)
    };
    let other = dir.path().join("other.json");
    std::fs::write(&other, saved_plan_of("shop", Some("mvp")).to_string()).unwrap();
    let (code, out, err) = draw(&other, "mvp");
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("is a plan of stack \"shop\", not of \"learning\""),
        "{err}"
    );

    // The same stack under another environment.
    let mvp = dir.path().join("mvp.json");
    std::fs::write(&mvp, saved_plan_of("learning", Some("mvp")).to_string()).unwrap();
    let (code, _, err) = draw(&mvp, "prod");
    assert_eq!(code, 1);
    assert!(
        err.contains("with --env mvp, and this diagram is of learning with --env prod"),
        "{err}"
    );
    // The hand-made one of the right stack colours.
    let (code, out, err) = draw(&mvp, "mvp");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("classDef act_create"));
    assert!(out.contains("style n_vpc fill:#dcfce7"), "{out}");

    // A stack file is not a plan.
    let (code, _, err) = draw(&repo().join("stacks/learning.toml"), "mvp");
    assert_eq!(code, 1);
    assert!(err.contains("is not a saved plan"), "{err}");
    let (code, _, err) = draw(&dir.path().join("missing.json"), "mvp");
    assert_eq!(code, 1);
    assert!(err.contains("no such file"), "{err}");

    // --plan and --plan-file do not go together.
    let mut c = ekstack();
    c.arg("diagram")
        .arg(repo().join("stacks/learning.toml"))
        .args(["--plan", "--plan-file"])
        .arg(&mvp);
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "clap refuses: {err}");
}

/// On an empty account every resource is to be made: a live plan and the
/// plan saved from it colour every box as a create.
#[test]
fn a_live_plan_and_a_saved_one_colour_every_resource_of_a_new_stack_as_create() {
    require_emulator();
    let p = Project::from_sample("learning", "dgm");
    let (code, out, err) = p.run(&["diagram", "--env", "mvp", "--plan", "--format", "svg"]);
    assert_eq!(code, 0, "{err}");
    let doc = check_svg(&out);
    let live = classes(&doc);
    for a in [
        "vpc",
        "internet-gateway",
        "nat-gateway.ap-northeast-1a",
        "eks-cluster",
        "db-instance",
    ] {
        assert!(live.iter().any(|(address, _)| address == a), "{a} in {live:?}");
    }
    for (address, class) in &live {
        assert_eq!(class, "act-create", "{address}");
    }
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains(&"Planned action"));

    let file = p.dir.path().join("plan.json");
    let (code, _, err) = p.run(&["plan", "--env", "mvp", "-o", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = p.run(&[
        "diagram",
        "--env",
        "mvp",
        "--plan-file",
        file.to_str().unwrap(),
        "--format",
        "svg",
    ]);
    assert_eq!(code, 0, "{err}");
    let saved = classes(&check_svg(&out));
    assert_eq!(saved, live, "the saved plan colours as the live one");
}

/// The picture in the README is what `ekstack diagram` draws today
/// (`make diagram` rewrites it).
#[test]
fn the_readme_picture_is_current() {
    let mut c = ekstack();
    c.args(["diagram", "stacks/learning.toml", "--env", "prod", "--format", "svg"])
        .current_dir(repo());
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let committed = std::fs::read_to_string(repo().join("docs/learning-prod.svg")).unwrap();
    assert!(
        out.trim() == committed.trim(),
        "docs/learning-prod.svg is stale: run `make diagram`"
    );
}

//! `ekstack ls`: every stack in every region of the account, with its
//! state and cost, found by tags; and the file-less one destroyed by name.
//! The test runs in a moto account of its own, so the stacks it counts are
//! its own.

use crate::support::*;

fn small(region: &str) -> String {
    format!("[stack]\nname = \"x\"\nregion = \"{region}\"\n\n[network]\nazs = 2\nnat = \"single\"\n")
}

/// `ekstack ARGS` with no stack file, through `s`'s proxy, with call stats.
fn fileless(s: &Scenario, args: &[&str]) -> (i32, String, String, serde_json::Value) {
    let stats = s.p.dir.path().join(format!("calls-{}.json", unique_name("c")));
    let mut c = ekstack();
    c.args(args)
        .args(["--endpoint-url", &s.proxy.url()])
        .env("EKSTACK_POLL_SCALE", "0.01")
        .env("EKSTACK_CALL_STATS", &stats);
    let (code, out, err) = run(c);
    let calls = std::fs::read_to_string(&stats)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (code, out, err, calls)
}

/// Three stacks in three regions, one of them without its file: `ls` finds
/// all three with what they cost, in every enabled region by default;
/// `destroy --stack` leaves nothing of the file-less one, and `ls` then
/// finds two.
#[test]
fn ls_finds_every_stack_in_every_region_and_the_fileless_one_is_destroyed() {
    require_emulator();
    let account = format!(
        "19{:010}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros()
            % 10_000_000_000
    );
    let regions = ["ap-northeast-1", "us-east-1", "us-west-2"];
    let stacks: Vec<Scenario> = regions
        .iter()
        .map(|r| Scenario::new(&small(r), "ls").in_account(&account))
        .collect();
    for s in &stacks {
        s.ok(&["apply", "--yes"]);
    }
    std::fs::remove_file(stacks[2].p.path()).unwrap();
    let probe = &stacks[0];

    let started = std::time::Instant::now();
    let (code, out, err, calls) = fileless(probe, &["ls", "--json"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{out}{err}");
    let listing: serde_json::Value = serde_json::from_str(&out).unwrap();
    let regions_read = listing["regions"].as_array().unwrap().len();
    println!(
        "ls over {regions_read} regions: {} calls, {:.1}s",
        calls["calls"],
        took.as_secs_f64()
    );
    assert!(regions_read > 3, "every enabled region by default: {listing}");
    let listed = listing["stacks"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{listing}");
    for (s, region) in stacks.iter().zip(regions) {
        let line = listed
            .iter()
            .find(|l| l["name"] == s.p.name.as_str())
            .unwrap_or_else(|| panic!("{} is listed: {listing}", s.p.name));
        assert_eq!(line["region"], region);
        assert_eq!(line["state"], "awake");
        assert_eq!(line["env"], "none");
        assert_ne!(line["created"], "unknown", "{line}");
        assert!(
            line["monthly_usd"].as_f64().unwrap() > 30.0,
            "a NAT gateway bills: {line}"
        );
    }

    // The stack whose file is gone, destroyed by name.
    let gone = &stacks[2];
    let (code, out, err, _) = fileless(
        probe,
        &["destroy", "--stack", &gone.p.name, "--region", "us-west-2", "--yes"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Destroy complete"), "{err}");
    let left = gone.aws("us-west-2").tagged_leftovers(&gone.p.name);
    assert!(left.is_empty(), "nothing of the file-less stack is left: {left:?}");
    let (code, out, err, _) = fileless(probe, &["ls", "--regions", "ap-northeast-1,us-east-1,us-west-2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(&gone.p.name), "{out}");
    assert!(out.contains("2 stack(s) in 3 region(s)"), "{out}");
    for s in &stacks[..2] {
        s.ok(&["destroy", "--yes"]);
    }
}

/// Credentials that may not call the tagging API: `ls` names the
/// permission instead of saying there is no stack.
#[test]
fn ls_without_tag_get_resources_names_the_permission() {
    require_emulator();
    let s = Scenario::new(&small("us-east-1"), "lsden");
    s.proxy.set_faults(crate::proxy::Faults {
        access_denied: vec!["GetResources".into()],
        ..Default::default()
    });
    let (code, out, err, _) = fileless(&s, &["ls", "--regions", "us-east-1,eu-west-1"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("tag:GetResources"), "{err}");
    assert!(err.contains("no region could be read"), "{err}");
}

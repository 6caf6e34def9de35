//! `explain`: every resource with its purpose and share of the cost, and
//! the changes that save the most, each one the rules accept.

use std::path::Path;

use crate::support::*;

/// The files as a suggestion says to change them, with the same edit
/// `explain` priced (the binary then validates and prices the result).
fn apply_suggestion(s: &serde_json::Value) {
    let key = s["key"].as_str().unwrap();
    let value: Option<toml_edit::Value> = (s["remove"] != true).then(|| s["to"].as_str().unwrap().parse().unwrap());
    for file in s["files"].as_array().unwrap() {
        let path = Path::new(file.as_str().unwrap());
        let text = std::fs::read_to_string(path).unwrap();
        std::fs::write(path, ekstack::ops::explain::edit(&text, key, value.as_ref()).unwrap()).unwrap();
    }
}

fn explain_json(p: &Project, env: &str) -> serde_json::Value {
    let (code, out, err) = p.run(&["explain", "--env", env, "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// Each suggestion, made to a fresh copy of the files, passes `validate`
/// and brings `explain`'s total to what the suggestion says.
#[test]
fn every_suggestion_validates_and_saves_what_it_says() {
    let mut checked = 0;
    for env in ["prod", "mvp"] {
        let p = Project::from_sample("learning", "explain");
        let e = explain_json(&p, env);
        let total = e["monthly_usd"].as_f64().unwrap();
        let suggestions = e["suggestions"].as_array().unwrap().clone();
        assert!(!suggestions.is_empty(), "{env}: no suggestion\n{e:#}");
        if env == "prod" {
            assert_eq!(suggestions.len(), 3, "{e:#}");
            // A single NAT, a smaller or single-AZ database: the big ones.
            let keys: Vec<&str> = suggestions.iter().map(|s| s["key"].as_str().unwrap()).collect();
            assert!(keys.contains(&"database.multi_az"), "{keys:?}");
        }
        let mut last = f64::MAX;
        for s in &suggestions {
            let saves = s["saves_monthly_usd"].as_f64().unwrap();
            assert!(saves > 0.0 && saves <= last, "suggestions are most-saving first: {s}");
            last = saves;
            assert!(!s["gives_up"].as_str().unwrap().is_empty(), "{s}");
            let copy = Project::from_sample("learning", "explain");
            // The paths in the JSON are the first project's: point them here.
            let mut s = s.clone();
            for f in s["files"].as_array_mut().unwrap() {
                let name = Path::new(f.as_str().unwrap()).file_name().unwrap().to_owned();
                let dir = if name == "stack.toml" { "stacks" } else { "environments" };
                *f = serde_json::Value::from(copy.dir.path().join(dir).join(name).display().to_string());
            }
            apply_suggestion(&s);
            let (code, out, err) = copy.run(&["validate", "--env", env]);
            assert_eq!(
                code, 0,
                "{env}: {} = {} does not validate\n{out}{err}",
                s["key"], s["to"]
            );
            let after = explain_json(&copy, env)["monthly_usd"].as_f64().unwrap();
            assert!(
                (after - s["monthly_usd_after"].as_f64().unwrap()).abs() < 0.01 && (total - after - saves).abs() < 0.01,
                "{env}: {} = {}: explain says {after} after, the suggestion {s}",
                s["key"],
                s["to"]
            );
            checked += 1;
        }
        let sleep = &e["night_sleep"];
        assert!(sleep["saves_monthly_usd"].as_f64().unwrap() > 0.0, "{e:#}");
    }
    assert!(checked >= 4, "checked {checked} suggestions");
}

#[test]
fn explain_says_what_each_resource_is_for_in_english_and_japanese_with_no_aws_call() {
    let p = Project::from_sample("learning", "explainja");
    let e = explain_json(&p, "prod");
    let addresses: Vec<&str> = e["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    let shares: f64 = e["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["share"].as_f64())
        .sum();
    assert!((shares - 1.0).abs() < 1e-6, "shares add up to {shares}");

    // explain reads no live state: the call log counts no AWS call.
    let (code, en, err, calls) = p.run_counted(&["explain", "--env", "prod"]);
    assert_eq!(code, 0, "{err}");
    assert!(calls.is_null() || calls["calls"] == 0, "explain called AWS: {calls}");
    for a in &addresses {
        assert!(en.contains(a), "{a} is not explained:\n{en}");
    }
    assert!(en.contains("gives up:") && en.contains("NAT gateway"), "{en}");

    let (code, ja, err) = p.run_env(&["explain", "--env", "prod"], &[("LANG", "ja_JP.UTF-8")]);
    assert_eq!(code, 0, "{err}");
    for a in &addresses {
        assert!(ja.contains(a), "{a} is not explained:\n{ja}");
    }
    for phrase in ["失うもの:", "ノードグループ general", "NAT ゲートウェイ", "月"] {
        assert!(ja.contains(phrase), "no {phrase:?} in\n{ja}");
    }
    assert!(!ja.contains("gives up") && !ja.contains("no charge"), "{ja}");

    // `--lang` wins over the locale, and JSON is never translated.
    let (_, forced, _) = p.run_env(
        &["explain", "--env", "prod", "--lang", "en"],
        &[("LANG", "ja_JP.UTF-8")],
    );
    assert_eq!(forced, en);
    let (_, json, _) = p.run_env(&["explain", "--env", "prod", "--json"], &[("LC_ALL", "ja_JP.UTF-8")]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&json).unwrap(), e);
}

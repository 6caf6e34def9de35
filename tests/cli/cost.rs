//! Cost: what plan says a stack will cost, unknown prices, a user's price
//! file, and sleep/wake cutting the bill and restoring the stack exactly.

use crate::support::*;

fn plan_json(p: &Project, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["plan", "--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = p.run(&args);
    assert_eq!(code, 0, "plan {extra:?} failed\n{out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"))
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn status_json(p: &Project) -> serde_json::Value {
    let (code, out, err) = p.run(&["status", "--env", "mvp", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"))
}

/// The cost line whose description contains `needle`.
fn line<'a>(cost: &'a serde_json::Value, needle: &str) -> &'a serde_json::Value {
    cost["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["description"].as_str().is_some_and(|d| d.contains(needle)))
        .unwrap_or_else(|| panic!("no cost line with {needle:?}: {cost}"))
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

#[test]
fn plan_prices_the_stack_and_prod_costs_more_than_mvp() {
    require_emulator();
    let p = Project::from_sample("learning", "cost");
    let mvp = plan_json(&p, &["--env", "mvp"]);
    let cost = &mvp["cost"];
    let monthly = f(&cost["monthly_usd"]);
    let hourly = f(&cost["hourly_usd"]);
    assert!(monthly > 0.0, "{cost}");
    assert_eq!(f(&cost["current_monthly_usd"]), 0.0, "nothing is live yet: {cost}");
    assert!(
        (100.0..=400.0).contains(&monthly),
        "learning mvp in Tokyo should cost 100-400 USD/month, got {monthly}: {cost}"
    );
    assert!(close(monthly, hourly * 730.0, 0.05), "monthly = 730 × hourly: {cost}");
    assert_eq!(cost["complete"], true, "{cost}");
    // The lines add up to the total, and every known line is priced.
    let lines = cost["lines"].as_array().unwrap();
    let sum: f64 = lines.iter().map(|l| f(&l["monthly_usd"])).sum();
    assert!(close(sum, monthly, 0.05), "lines sum to {sum}, total {monthly}: {cost}");
    for needle in ["EKS control plane", "NAT gateway", "t3.medium", "db.t4g.micro"] {
        assert!(f(&line(cost, needle)["hourly_usd"]) > 0.0, "{needle}: {cost}");
    }

    let prod = plan_json(&p, &["--env", "prod"]);
    let prod_monthly = f(&prod["cost"]["monthly_usd"]);
    assert!(
        prod_monthly >= 1.5 * monthly,
        "prod ({prod_monthly}) should cost at least 1.5 × mvp ({monthly})"
    );

    let (code, text, err) = p.run(&["plan", "--env", "mvp"]);
    assert_eq!(code, 0, "{text}{err}");
    let cost_line = text
        .lines()
        .find(|l| l.starts_with("Cost:"))
        .unwrap_or_else(|| panic!("no Cost: line:\n{text}"));
    assert!(cost_line.contains(&format!("${monthly:.2}/month")), "{cost_line}");

    // Once applied, what is live costs what the plan said.
    p.apply_ok("mvp");
    let after = plan_json(&p, &["--env", "mvp"]);
    assert!(
        close(f(&after["cost"]["current_monthly_usd"]), monthly, 0.01),
        "{}",
        after["cost"]
    );
    assert!(
        close(f(&after["cost"]["delta_monthly_usd"]), 0.0, 0.01),
        "{}",
        after["cost"]
    );
    let status = status_json(&p);
    assert!(
        close(f(&status["cost"]["monthly_usd"]), monthly, 0.01),
        "{}",
        status["cost"]
    );

    assert_eq!(p.destroy("mvp").0, 0);
}

#[test]
fn an_unknown_price_is_reported_never_counted_as_zero() {
    require_emulator();
    let p = Project::from_sample("learning", "unkn");
    let known = plan_json(&p, &["--env", "mvp"]);
    let t3 = f(&line(&known["cost"], "t3.medium")["monthly_usd"]);

    let text = std::fs::read_to_string(p.path()).unwrap().replace(
        "instance_types = [\"t3.medium\"]",
        "instance_types = [\"x2iedn.32xlarge\"]",
    );
    assert!(text.contains("x2iedn.32xlarge"));
    p.write_stack(&text);

    let plan = plan_json(&p, &["--env", "mvp"]);
    let cost = &plan["cost"];
    assert_eq!(cost["complete"], false, "{cost}");
    let unknown: Vec<&str> = cost["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(unknown.iter().any(|u| u.contains("x2iedn.32xlarge")), "{unknown:?}");
    let big = line(cost, "x2iedn.32xlarge");
    assert!(big["hourly_usd"].is_null(), "unknown, not zero: {big}");
    assert!(big["monthly_usd"].is_null(), "unknown, not zero: {big}");
    // The total covers the known lines: the same stack minus the t3.medium.
    let monthly = f(&cost["monthly_usd"]);
    let expected = f(&known["cost"]["monthly_usd"]) - t3;
    assert!(
        close(monthly, expected, 0.02),
        "total {monthly}, expected {expected}: {cost}"
    );

    let (code, text, err) = p.run(&["plan", "--env", "mvp"]);
    assert_eq!(code, 0, "{text}{err}");
    let cost_line = text.lines().find(|l| l.starts_with("Cost:")).unwrap();
    assert!(cost_line.contains("x2iedn.32xlarge"), "{cost_line}");
}

#[test]
fn a_user_price_file_overrides_one_price() {
    require_emulator();
    let p = Project::from_sample("learning", "pric");
    let builtin: toml::Value = std::fs::read_to_string(repo().join("prices").join("aws.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let old = builtin["regions"]["ap-northeast-1"]["eks"]["prices"]["cluster_hour"]
        .as_float()
        .expect("the built-in EKS price in Tokyo");
    let new = old + 0.25;
    let file = p.dir.path().join("my-prices.toml");
    std::fs::write(
        &file,
        format!(
            "[meta]\ncurrency = \"USD\"\n\n\
             [regions.\"ap-northeast-1\".eks]\nsource = \"our contract\"\nretrieved = \"2026-01-01\"\n\
             [regions.\"ap-northeast-1\".eks.prices]\n\"cluster_hour\" = {new}\n"
        ),
    )
    .unwrap();

    let base = plan_json(&p, &["--env", "mvp"]);
    let over = plan_json(&p, &["--env", "mvp", "--prices", file.to_str().unwrap()]);
    let (before, after) = (f(&base["cost"]["monthly_usd"]), f(&over["cost"]["monthly_usd"]));
    let expected = 0.25 * 730.0;
    assert!(
        close(after - before, expected, 0.02),
        "monthly {before} → {after}, expected +{expected}"
    );
    assert!(close(
        f(&line(&over["cost"], "EKS control plane")["hourly_usd"]),
        new,
        1e-9
    ));
    // Nothing else moved.
    let others = |v: &serde_json::Value| -> Vec<(String, f64)> {
        v["cost"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["description"] != "EKS control plane")
            .map(|l| (l["description"].as_str().unwrap().to_string(), f(&l["hourly_usd"])))
            .collect()
    };
    assert_eq!(others(&base), others(&over));

    // A price file with a typo is an error, not a silently unpriced item.
    let bad = p.dir.path().join("bad-prices.toml");
    std::fs::write(
        &bad,
        "[regions.\"ap-northeast-1\".eks.prices]\n\"cluster_hours\" = 0.2\n",
    )
    .unwrap();
    let (code, out, err) = p.run(&["plan", "--env", "mvp", "--prices", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("cluster_hours"), "{err}");
}

#[test]
fn sleep_cuts_the_bill_and_wake_restores_the_stack() {
    require_emulator();
    let p = Project::from_sample("learning", "slp");
    p.apply_ok("mvp");
    let aws = Independent::new("ap-northeast-1");
    let name = p.name.clone();
    let db_id = format!("{name}-db");

    let awake = status_json(&p);
    assert_eq!(awake["sleeping"], false);
    let h1 = f(&awake["cost"]["hourly_usd"]);
    assert!(h1 > 0.0, "{}", awake["cost"]);

    let (code, out, err) = p.run(&["sleep", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 0, "{out}{err}");

    // What AWS says.
    let ng = aws.nodegroup(&name, "general").unwrap();
    let scaling = ng.scaling_config().unwrap();
    assert_eq!((scaling.desired_size(), scaling.min_size()), (Some(0), Some(0)));
    assert_eq!(aws.db_instance(&db_id).unwrap().db_instance_status(), Some("stopped"));
    assert!(aws.nat_gateways(&name).is_empty(), "{:?}", aws.nat_gateways(&name));
    assert!(aws.addresses(&name).is_empty(), "{:?}", aws.addresses(&name));
    // The rest stays: the cluster, the network, the data.
    assert_eq!(aws.vpcs(&name).len(), 1);
    assert!(cluster_exists(&aws, &name));

    let asleep = status_json(&p);
    assert_eq!(asleep["sleeping"], true, "{asleep}");
    let h2 = f(&asleep["cost"]["hourly_usd"]);
    assert!(h2 > 0.0, "the control plane and storage still bill: {}", asleep["cost"]);
    assert!(h2 < 0.6 * h1, "asleep {h2}/h is not much less than awake {h1}/h");
    // Sleep said what it costs before and after.
    assert!(
        err.contains(&format!("${h1:.3} → ${h2:.3}")),
        "sleep should print the hourly cost before and after (${h1:.3} → ${h2:.3}):\n{err}"
    );

    let (code, text, err) = p.run(&["plan", "--env", "mvp"]);
    assert_eq!(code, 0, "{text}{err}");
    assert!(text.contains("asleep"), "plan says the stack is asleep:\n{text}");

    // Sleeping again changes nothing.
    let (code, out, err) = p.run(&["sleep", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Already asleep"), "{out}{err}");

    let (code, out, err) = p.run(&["wake", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 0, "{out}{err}");

    let (code, text, err) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{text}{err}");
    assert!(text.contains("No changes."), "{text}");
    assert!(!text.contains("asleep"), "{text}");
    assert_eq!(aws.db_instance(&db_id).unwrap().db_instance_status(), Some("available"));
    let ng = aws.nodegroup(&name, "general").unwrap();
    let scaling = ng.scaling_config().unwrap();
    assert_eq!(
        (scaling.min_size(), scaling.desired_size(), scaling.max_size()),
        (Some(1), Some(1), Some(2))
    );
    let nats = aws.nat_gateways(&name);
    assert_eq!(nats.len(), 1, "{nats:?}");
    assert_eq!(nats[0].state().map(|s| s.as_str()), Some("available"));
    assert_eq!(aws.addresses(&name).len(), 1);
    let woken = status_json(&p);
    assert_eq!(woken["sleeping"], false, "{woken}");
    assert!(close(f(&woken["cost"]["hourly_usd"]), h1, 1e-6), "{}", woken["cost"]);

    assert_eq!(p.destroy("mvp").0, 0);
}

fn cluster_exists(aws: &Independent, name: &str) -> bool {
    aws.block_on(aws.eks.describe_cluster().name(name).send())
        .ok()
        .and_then(|o| o.cluster)
        .is_some_and(|c| c.status().map(|s| s.as_str()) == Some("ACTIVE"))
}

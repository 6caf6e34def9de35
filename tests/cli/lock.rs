//! The per-stack lock: two commands racing through a slow network, a
//! killed holder whose lock expires or is removed by `unlock`, and `plan`
//! taking none. The lock's TTL is scaled down (EKSTACK_LOCK_TTL_SECONDS).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::proxy::{FaultProxy, Faults};
use crate::support::*;

const TTL: &str = "3";

fn stack() -> String {
    "[stack]\nname = \"lk\"\nregion = \"ap-northeast-1\"\n\n[network]\nazs = 2\n".to_string()
}

/// `ekstack ARGS STACK` through `proxy`, with its output kept.
fn spawn(p: &Project, proxy: &FaultProxy, args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("ekstack"))
        .arg(args[0])
        .arg(p.path())
        .args(&args[1..])
        .args(["--yes", "--endpoint-url", &proxy.url()])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("EKSTACK_MODEL_SCALE", model_scale())
        .env("EKSTACK_POLL_SCALE", "0.01")
        .env("EKSTACK_LOCK_TTL_SECONDS", TTL)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn lock_items(aws: &Independent, stack: &str) -> usize {
    let key = format!("{stack}/ap-northeast-1");
    aws.block_on(
        aws.dynamodb
            .get_item()
            .table_name("ekstack-locks")
            .key("lock", aws_sdk_dynamodb::types::AttributeValue::S(key))
            .consistent_read(true)
            .send(),
    )
    .ok()
    .and_then(|o| o.item)
    .map_or(0, |_| 1)
}

/// Two applies at once through a proxy that slows every call: exactly
/// one runs, the other refuses at once naming the holder; a third that
/// waits (`--lock-timeout`) runs once the first is done; nothing is made
/// twice, and the lock is gone after.
#[test]
fn two_applies_at_once_one_runs_the_other_is_refused_naming_the_holder() {
    require_emulator();
    let p = Project::with_text(&stack(), "lkrc");
    let proxy = FaultProxy::start_blocking(
        &moto(),
        Faults {
            delay: Duration::from_millis(40),
            ..Default::default()
        },
    )
    .unwrap();
    let a = spawn(&p, &proxy, &["apply"]);
    let b = spawn(&p, &proxy, &["apply"]);
    let (code_a, out_a) = finish(a);
    let (code_b, out_b) = finish(b);
    let (won, lost) = match (code_a, code_b) {
        (0, 1) => (out_a, out_b),
        (1, 0) => (out_b, out_a),
        _ => panic!("exactly one runs:\n--- a ({code_a})\n{out_a}\n--- b ({code_b})\n{out_b}"),
    };
    assert!(won.contains("Apply complete"), "{won}");
    assert!(
        lost.contains(&format!("stack {} in ap-northeast-1 is locked by arn:aws:", p.name))
            && lost.contains("running `ekstack apply"),
        "{lost}"
    );
    let aws = Independent::new("ap-northeast-1");
    assert_eq!(aws.vpcs(&p.name).len(), 1, "nothing made twice");
    assert_eq!(lock_items(&aws, &p.name), 0, "released");

    // One holding it, one waiting: both run, one after the other.
    let first = spawn(&p, &proxy, &["destroy"]);
    let started = Instant::now();
    while lock_items(&aws, &p.name) == 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let waiting = spawn(&p, &proxy, &["apply", "--lock-timeout", "60s"]);
    let (code, out) = finish(first);
    assert_eq!(code, 0, "{out}");
    let (code, out) = finish(waiting);
    assert_eq!(code, 0, "the waiting apply runs after the destroy: {out}");
    assert!(out.contains("Apply complete"), "{out}");
    assert_eq!(aws.vpcs(&p.name).len(), 1);
    assert_eq!(p.destroy("mvp").0, 0);
}

/// A holder killed with SIGKILL leaves its lock: the next apply refuses
/// until it expires, then takes it over; `unlock` removes one at once,
/// after showing the holder, and refuses when none is held.
#[test]
fn a_killed_holders_lock_expires_or_is_unlocked() {
    require_emulator();
    let p = Project::with_text(&stack(), "lkkl");
    let proxy = FaultProxy::start_blocking(&moto(), Faults::default()).unwrap();
    let aws = Independent::new("ap-northeast-1");
    for way_out in ["expiry", "unlock"] {
        let mut holder = spawn(&p, &proxy, &["apply"]);
        let started = Instant::now();
        while lock_items(&aws, &p.name) == 0 && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = holder.kill(); // no chance to release
        let _ = holder.wait();
        assert_eq!(
            lock_items(&aws, &p.name),
            1,
            "{way_out}: the killed holder's lock stays"
        );
        let (code, out) = finish(spawn(&p, &proxy, &["apply"]));
        assert_eq!(code, 1, "{way_out}: {out}");
        assert!(out.contains("is locked by"), "{out}");
        // plan takes none, and says who holds it.
        let (code, out, err) = p.run(&["plan", "--endpoint-url", &proxy.url()]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            err.contains("the stack is locked by arn:aws:") || out.contains("the stack is locked by arn:aws:"),
            "{out}{err}"
        );
        match way_out {
            "expiry" => std::thread::sleep(Duration::from_secs(4)),
            _ => {
                // By name and region, without the file.
                let (code, out) = finish(
                    Command::new(assert_cmd::cargo::cargo_bin("ekstack"))
                        .args(["unlock", "--stack", &p.name, "--region", "ap-northeast-1", "--yes"])
                        .args(["--endpoint-url", &proxy.url()])
                        .env("AWS_ACCESS_KEY_ID", "testing")
                        .env("AWS_SECRET_ACCESS_KEY", "testing")
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap(),
                );
                assert_eq!(code, 0, "{out}");
                assert!(
                    out.contains("Removed the lock") && out.contains("running `ekstack apply"),
                    "{out}"
                );
                let (code, out) = finish(spawn(&p, &proxy, &["unlock"]));
                assert_eq!(code, 1);
                assert!(out.contains("no lock is held"), "{out}");
            }
        }
        let (code, out) = finish(spawn(&p, &proxy, &["apply"]));
        assert_eq!(code, 0, "{way_out}: taken over: {out}");
        assert_eq!(lock_items(&aws, &p.name), 0);
    }
    assert_eq!(aws.vpcs(&p.name).len(), 1, "nothing made twice");
    assert_eq!(p.destroy("mvp").0, 0);
}

/// Ctrl-C while the command is still planning gives the lock back before
/// the process ends: the next apply runs at once.
#[test]
fn ctrl_c_before_any_step_gives_the_lock_back() {
    require_emulator();
    let p = Project::with_text(&stack(), "lkcc");
    // Slow calls keep the command planning for a while.
    let proxy = FaultProxy::start_blocking(
        &moto(),
        Faults {
            delay: Duration::from_millis(150),
            ..Default::default()
        },
    )
    .unwrap();
    let aws = Independent::new("ap-northeast-1");
    let child = spawn(&p, &proxy, &["apply"]);
    let started = Instant::now();
    while lock_items(&aws, &p.name) == 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let (code, out) = finish(child);
    assert_eq!(code, 130, "{out}");
    assert_eq!(lock_items(&aws, &p.name), 0, "given back on Ctrl-C");
    assert!(aws.vpcs(&p.name).is_empty(), "nothing was made: {out}");
    let (code, out) = finish(spawn(&p, &proxy, &["apply"]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.destroy("mvp").0, 0);
}

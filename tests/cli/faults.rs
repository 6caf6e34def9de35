//! What moto cannot show, through a fault-injecting proxy in front of it:
//! throttling, lost responses (AWS acted, the answer never arrived), and
//! apply killed at any point.

use crate::proxy::{FaultProxy, Faults};
use crate::support::*;

/// One of each, and nothing more: the inventory after convergence.
fn assert_exactly_one_of_each(aws: &Independent, name: &str) {
    assert_eq!(aws.vpcs(name).len(), 1, "one VPC");
    assert_eq!(aws.subnets(name).len(), 4, "four subnets");
    assert_eq!(aws.nat_gateways(name).len(), 1, "one NAT gateway");
    assert_eq!(aws.addresses(name).len(), 1, "one EIP");
    assert_eq!(aws.route_tables(name).len(), 3, "three route tables");
    let igws = aws
        .block_on(
            aws.ec2
                .describe_internet_gateways()
                .filters(Independent::stack_filter(name))
                .send(),
        )
        .unwrap();
    assert_eq!(igws.internet_gateways().len(), 1, "one internet gateway");
    let sgs = aws
        .block_on(
            aws.ec2
                .describe_security_groups()
                .filters(Independent::stack_filter(name))
                .send(),
        )
        .unwrap();
    assert_eq!(sgs.security_groups().len(), 1, "one security group");
    let groups = aws
        .block_on(aws.eks.list_nodegroups().cluster_name(name).send())
        .unwrap();
    assert_eq!(groups.nodegroups(), ["general"]);
    assert!(aws.db_instance(&format!("{name}-db")).is_some());
}

fn through(p: &Project, proxy: &FaultProxy, args: &[&str]) -> (i32, String, String) {
    let mut c = p.cmd(args);
    c.env("AWS_ENDPOINT_URL", proxy.url());
    run(c)
}

/// Applies until it reports success (at most `tries` times).
fn converge(p: &Project) {
    for _ in 0..3 {
        if p.apply("mvp").0 == 0 {
            break;
        }
    }
    let (code, out, err) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "not converged:\n{out}{err}");
}

#[test]
fn apply_succeeds_with_a_fifth_of_all_calls_throttled() {
    require_emulator();
    let p = Project::from_sample("learning", "thr");
    let proxy = FaultProxy::start_blocking(
        &moto(),
        Faults {
            throttle_rate: 0.2,
            seed: 7,
            ..Default::default()
        },
    )
    .unwrap();
    let (code, out, err) = through(&p, &proxy, &["apply", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 0, "{out}{err}");
    let stats = proxy.stats();
    assert!(
        stats.throttled >= stats.requests / 10,
        "the proxy really throttled: {stats:?}"
    );
    assert_exactly_one_of_each(&Independent::new("ap-northeast-1"), &p.name);
    let (code, out, _) = through(&p, &proxy, &["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    proxy.set_faults(Faults::default());
    assert_eq!(p.destroy("mvp").0, 0);
}

#[test]
fn lost_responses_never_leave_duplicates_or_leftovers() {
    require_emulator();
    let p = Project::from_sample("learning", "lost");
    let faults = Faults {
        lose_response_rate: 0.3,
        only_actions: vec![],
        seed: 31,
        ..Default::default()
    };
    let proxy = FaultProxy::start_blocking(&moto(), faults.clone()).unwrap();
    let (code, out, err) = through(&p, &proxy, &["apply", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert!(proxy.stats().lost > 0, "responses were lost: {:?}", proxy.stats());
    drop(proxy);
    // A create whose answer is lost is looked up by its tags before it is
    // sent again, so even the first run leaves one of each.
    assert_eq!(code, 0, "{out}{err}");
    let aws = Independent::new("ap-northeast-1");
    assert_exactly_one_of_each(&aws, &p.name);
    converge(&p);
    // Deletions whose answers are lost are retried and find the thing gone.
    let proxy = FaultProxy::start_blocking(&moto(), faults).unwrap();
    let (code, out, err) = through(
        &p,
        &proxy,
        &["destroy", "--env", "mvp", "--yes", "--poll-scale", "0.01"],
    );
    assert!(proxy.stats().lost > 0);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(aws.tagged_leftovers(&p.name), Vec::<String>::new());
}

#[test]
fn apply_killed_at_any_point_converges_with_no_duplicates() {
    require_emulator();
    for kill_after in [2usize, 9, 16] {
        let p = Project::from_sample("learning", "kill");
        let proxy = FaultProxy::start_blocking(&moto(), Faults::default()).unwrap();
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ekstack"))
            .args(["apply"])
            .arg(p.path())
            .args(["--env", "mvp", "--yes", "--parallelism", "2", "--poll-scale", "0.01"])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", proxy.url())
            .env("EKSTACK_MODEL_SCALE", model_scale())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        loop {
            let creates = proxy
                .actions()
                .iter()
                .filter(|a| a.starts_with("Create") || a.starts_with("Allocate") || a.starts_with("POST"))
                .count();
            if creates >= kill_after || started.elapsed() > std::time::Duration::from_secs(60) {
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _ = child.kill(); // SIGKILL: no cleanup, no chance to finish a step
        let _ = child.wait();
        // Its lock stays until it expires: remove it, as a user would.
        let _ = p.run(&["unlock", "--yes"]);
        converge(&p);
        assert_exactly_one_of_each(&Independent::new("ap-northeast-1"), &p.name);
        assert_eq!(p.destroy("mvp").0, 0);
    }
}

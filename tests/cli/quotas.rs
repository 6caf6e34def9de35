//! Quota preflight: a plan whose creates would go past the account's VPC or
//! Elastic IP quota says so, with the way out, and apply refuses to start.
//! The proxy here plays an account with AWS's default quotas (5 VPCs per
//! Region, 5 Elastic IPs) and refuses creates past them as EC2 does.

use crate::support::*;

/// A region no other test uses, so its counts are this test's alone.
const REGION: &str = "eu-north-1";

#[test]
fn a_plan_past_the_vpc_and_address_quotas_is_refused_before_apply() {
    require_emulator();
    let settings = crate::rules::Settings {
        quotas: crate::rules::quotas::DEFAULTS,
        ..Default::default()
    };
    let proxy = crate::proxy::FaultProxy::start_blocking_with(&moto(), Default::default(), Some(settings), 0).unwrap();
    let url = proxy.url();
    let text = std::fs::read_to_string(repo().join("stacks/learning.toml"))
        .unwrap()
        .replace("region = \"ap-northeast-1\"", &format!("region = \"{REGION}\""));
    let p = Project::with_text(&text, "quota");
    let with_proxy = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--endpoint-url", url.as_str()]);
        p.run_counted(&args)
    };

    // Fill the region to its quotas, as other work in the account would.
    let aws = Independent::new(REGION);
    let in_use = aws.block_on(aws.ec2.describe_vpcs().send()).unwrap().vpcs().len();
    let mut made_vpcs = Vec::new();
    for i in in_use..5 {
        let vpc = aws
            .block_on(aws.ec2.create_vpc().cidr_block(format!("10.{}.0.0/16", 100 + i)).send())
            .unwrap();
        made_vpcs.push(vpc.vpc.unwrap().vpc_id.unwrap());
    }
    let addresses = aws
        .block_on(aws.ec2.describe_addresses().send())
        .unwrap()
        .addresses()
        .len();
    let mut made_addresses = Vec::new();
    for _ in addresses..5 {
        let a = aws
            .block_on(
                aws.ec2
                    .allocate_address()
                    .domain(aws_sdk_ec2::types::DomainType::Vpc)
                    .send(),
            )
            .unwrap();
        made_addresses.push(a.allocation_id.unwrap());
    }

    let (code, out, err, calls) = with_proxy(&["plan", "--env", "mvp"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "VPCs per Region in eu-north-1: 5 allowed, {} in use, the plan adds 1",
            in_use.max(5)
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "--service-code vpc --quota-code L-F678F1CE --desired-value {}",
            in_use.max(5) + 1
        )),
        "the way out: {out}"
    );
    assert!(
        out.contains(&format!(
            "Elastic IP addresses in eu-north-1: 5 allowed, {} in use, the plan adds 1",
            addresses.max(5)
        )),
        "{out}"
    );
    assert!(err.contains("quotas"), "{err}");
    assert_eq!(calls["mutating"], 0, "{calls}");

    let (code, out, err, calls) = with_proxy(&["apply", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("Nothing was changed"), "{err}");
    assert_eq!(calls["mutating"], 0, "apply refuses before any change: {calls}");

    // EC2 itself refuses a create past the quota, with its code.
    let through = Independent::through(&url, REGION);
    let refused = through
        .block_on(through.ec2.create_vpc().cidr_block("10.99.0.0/16").send())
        .unwrap_err();
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&refused),
        Some("VpcLimitExceeded"),
        "{refused:?}"
    );

    // With room made, the plan goes through.
    aws.block_on(aws.ec2.delete_vpc().vpc_id(&made_vpcs[0]).send()).unwrap();
    aws.block_on(aws.ec2.release_address().allocation_id(&made_addresses[0]).send())
        .unwrap();
    let (code, out, err, _) = with_proxy(&["plan", "--env", "mvp"]);
    for vpc in &made_vpcs[1..] {
        aws.block_on(aws.ec2.delete_vpc().vpc_id(vpc).send()).unwrap();
    }
    for a in &made_addresses[1..] {
        aws.block_on(aws.ec2.release_address().allocation_id(a).send()).unwrap();
    }
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("quotas allow"), "{out}");
}

//! A VPC the team was given (`network.vpc_id`): made beforehand by another
//! client, checked by plan (DNS, subnets in it, egress, load balancer
//! tags), used by an apply that makes none of the network, and left by a
//! destroy exactly as it was, but for what the stack's cluster left in it.

use crate::support::*;

/// The network team's VPC in us-east-1: public and private subnets in two
/// AZs, an internet gateway, a NAT gateway; DNS hostnames off (the moto and
/// AWS default) until the test turns them on.
struct GivenVpc {
    vpc: String,
    public: [String; 2],
    private: [String; 2],
    private_table: String,
    nat: String,
}

fn make_vpc(aws: &Independent, cidr: &str) -> GivenVpc {
    aws.block_on(async {
        let ec2 = &aws.ec2;
        let vpc = ec2.create_vpc().cidr_block(cidr).send().await.unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let base = cidr.trim_end_matches(".0.0/16");
        let mut subnets = Vec::new();
        for (i, az) in ["us-east-1a", "us-east-1b", "us-east-1a", "us-east-1b"]
            .iter()
            .enumerate()
        {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(format!("{base}.{i}.0/24"))
                .availability_zone(*az)
                .send()
                .await
                .unwrap();
            subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        // Only the first public subnet is tagged for load balancers.
        ec2.create_tags()
            .resources(&subnets[0])
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("kubernetes.io/role/elb")
                    .value("1")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let igw = ec2.create_internet_gateway().send().await.unwrap();
        let igw = igw
            .internet_gateway()
            .unwrap()
            .internet_gateway_id()
            .unwrap()
            .to_string();
        ec2.attach_internet_gateway()
            .vpc_id(&vpc)
            .internet_gateway_id(&igw)
            .send()
            .await
            .unwrap();
        let eip = ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap();
        let nat = ec2
            .create_nat_gateway()
            .subnet_id(&subnets[0])
            .allocation_id(eip.allocation_id().unwrap())
            .send()
            .await
            .unwrap();
        let nat = nat.nat_gateway().unwrap().nat_gateway_id().unwrap().to_string();
        let table = ec2.create_route_table().vpc_id(&vpc).send().await.unwrap();
        let table = table.route_table().unwrap().route_table_id().unwrap().to_string();
        for s in &subnets[2..] {
            ec2.associate_route_table()
                .route_table_id(&table)
                .subnet_id(s)
                .send()
                .await
                .unwrap();
        }
        GivenVpc {
            vpc,
            public: [subnets[0].clone(), subnets[1].clone()],
            private: [subnets[2].clone(), subnets[3].clone()],
            private_table: table,
            nat,
        }
    })
}

/// Everything of the VPC a destroy must leave as it was, written out:
/// the VPC, its DNS attributes, subnets, route tables, gateways and tags.
fn snapshot(aws: &Independent, vpc: &str) -> String {
    let f = |name: &str, value: &str| aws_sdk_ec2::types::Filter::builder().name(name).values(value).build();
    let tags = |t: &[aws_sdk_ec2::types::Tag]| {
        let mut t: Vec<String> = t
            .iter()
            .map(|t| format!("{}={}", t.key().unwrap_or_default(), t.value().unwrap_or_default()))
            .collect();
        t.sort();
        t.join(",")
    };
    aws.block_on(async {
        let ec2 = &aws.ec2;
        let mut out = Vec::new();
        let v = ec2.describe_vpcs().vpc_ids(vpc).send().await.unwrap();
        for v in v.vpcs() {
            out.push(format!(
                "vpc {} {} [{}]",
                v.vpc_id().unwrap(),
                v.cidr_block().unwrap(),
                tags(v.tags())
            ));
        }
        for attribute in [
            aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
            aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
        ] {
            let a = ec2
                .describe_vpc_attribute()
                .vpc_id(vpc)
                .attribute(attribute.clone())
                .send()
                .await
                .unwrap();
            out.push(format!(
                "{attribute:?} {:?} {:?}",
                a.enable_dns_support(),
                a.enable_dns_hostnames()
            ));
        }
        let s = ec2.describe_subnets().filters(f("vpc-id", vpc)).send().await.unwrap();
        let mut subnets: Vec<String> = s
            .subnets()
            .iter()
            .map(|s| {
                format!(
                    "subnet {} {} {} public-ip={:?} [{}]",
                    s.subnet_id().unwrap(),
                    s.cidr_block().unwrap(),
                    s.availability_zone().unwrap(),
                    s.map_public_ip_on_launch(),
                    tags(s.tags())
                )
            })
            .collect();
        subnets.sort();
        out.extend(subnets);
        let t = ec2
            .describe_route_tables()
            .filters(f("vpc-id", vpc))
            .send()
            .await
            .unwrap();
        let mut tables: Vec<String> = t
            .route_tables()
            .iter()
            .map(|t| {
                let mut routes: Vec<String> = t
                    .routes()
                    .iter()
                    .map(|r| {
                        format!(
                            "{}->{}",
                            r.destination_cidr_block().unwrap_or_default(),
                            r.gateway_id().or(r.nat_gateway_id()).unwrap_or_default()
                        )
                    })
                    .collect();
                routes.sort();
                let mut assoc: Vec<String> = t
                    .associations()
                    .iter()
                    .map(|a| {
                        format!(
                            "{}{}",
                            a.subnet_id().unwrap_or_default(),
                            if a.main() == Some(true) { "main" } else { "" }
                        )
                    })
                    .collect();
                assoc.sort();
                format!(
                    "table {} {routes:?} {assoc:?} [{}]",
                    t.route_table_id().unwrap(),
                    tags(t.tags())
                )
            })
            .collect();
        tables.sort();
        out.extend(tables);
        let n = ec2
            .describe_nat_gateways()
            .filter(f("vpc-id", vpc))
            .send()
            .await
            .unwrap();
        for n in n.nat_gateways() {
            out.push(format!(
                "nat {} {:?} [{}]",
                n.nat_gateway_id().unwrap(),
                n.state(),
                tags(n.tags())
            ));
        }
        let g = ec2
            .describe_internet_gateways()
            .filters(f("attachment.vpc-id", vpc))
            .send()
            .await
            .unwrap();
        for g in g.internet_gateways() {
            out.push(format!("igw {} [{}]", g.internet_gateway_id().unwrap(), tags(g.tags())));
        }
        out.join("\n")
    })
}

fn stack(v: &GivenVpc) -> String {
    format!(
        r#"[stack]
name = "x"
region = "us-east-1"

[network]
vpc_id = "{}"
public_subnet_ids = ["{}", "{}"]
private_subnet_ids = ["{}", "{}"]

[eks]
version = "1.35"

[eks.nodegroups.general]
min = 1
desired = 1
max = 2

[database]
engine = "postgres"
version = "16"
"#,
        v.vpc, v.public[0], v.public[1], v.private[0], v.private[1]
    )
}

fn security_group(aws: &Independent, vpc: &str, name: &str, tag: Option<(&str, &str)>) -> String {
    aws.block_on(async {
        let mut call = aws
            .ec2
            .create_security_group()
            .vpc_id(vpc)
            .group_name(name)
            .description(name);
        if let Some((k, v)) = tag {
            call = call.tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                    .tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                    .build(),
            );
        }
        call.send().await.unwrap().group_id().unwrap().to_string()
    })
}

fn group_exists(aws: &Independent, id: &str) -> bool {
    aws.block_on(aws.ec2.describe_security_groups().group_ids(id).send())
        .is_ok_and(|o| !o.security_groups().is_empty())
}

/// Plan refuses a VPC without DNS hostnames, a subnet of another VPC and
/// private subnets without egress, each by name; then an apply makes the
/// stack in the given VPC without touching its network, sleep marks the
/// stack's own security group, and a destroy removes what the stack made
/// and what its cluster left (a load balancer controller's security
/// group), and leaves the VPC, its subnets, routes, gateways, tags and a
/// security group someone else made exactly as they were.
#[test]
fn a_stack_in_a_given_vpc_leaves_it_as_it_was() {
    require_emulator();
    let aws = Independent::new("us-east-1");
    let v = make_vpc(&aws, "10.61.0.0/16");
    let s = Scenario::new(&stack(&v), "givn");
    let name = s.p.name.clone();

    // A VPC that is not there.
    s.p.write_stack(&stack(&v).replace(&v.vpc, "vpc-0badbadbadbadbad0"));
    let (code, _, err) = s.run(&["plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("network.vpc_id: VPC vpc-0badbadbadbadbad0 does not exist in us-east-1"),
        "{err}"
    );
    s.p.write_stack(&stack(&v));

    let (code, _, err) = s.run(&["plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("VPC {} has DNS hostnames off", v.vpc)), "{err}");
    aws.block_on(
        aws.ec2
            .modify_vpc_attribute()
            .vpc_id(&v.vpc)
            .enable_dns_hostnames(aws_sdk_ec2::types::AttributeBooleanValue::builder().value(true).build())
            .send(),
    )
    .unwrap();

    // A subnet of another VPC.
    let other = make_vpc(&aws, "10.62.0.0/16");
    s.p.write_stack(&stack(&v).replace(&v.private[1], &other.private[1]));
    let (code, _, err) = s.run(&["plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "network.private_subnet_ids[1]: subnet {} is in {}, not in the given VPC {}",
            other.private[1], other.vpc, v.vpc
        )),
        "{err}"
    );
    s.p.write_stack(&stack(&v));

    // Private subnets without a NAT route (and without the endpoints).
    let (code, _, err) = s.run(&["plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no route to a NAT gateway"), "{err}");
    aws.block_on(
        aws.ec2
            .create_route()
            .route_table_id(&v.private_table)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&v.nat)
            .send(),
    )
    .unwrap();

    let before = snapshot(&aws, &v.vpc);
    let out = s.ok(&["plan"]);
    for untagged in [&v.public[1], &v.private[0], &v.private[1]] {
        assert!(
            out.contains(&format!("given subnet {untagged} lacks the load balancer tag")),
            "{out}"
        );
    }
    assert!(!out.contains(&format!("given subnet {} lacks", v.public[0])), "{out}");
    assert!(!out.contains("will be created\n  + vpc"), "{out}");
    let out = s.ok(&["plan", "--tag-subnets"]);
    assert!(out.contains("kubernetes.io/role/internal-elb=1"), "{out}");
    assert!(out.contains("ec2:CreateTags"), "{out}");

    s.ok(&["apply", "--yes"]);
    s.converged_plain();
    assert_eq!(
        snapshot(&aws, &v.vpc),
        before,
        "apply changed nothing of the given network"
    );
    let cluster = aws.cluster(&name);
    let mut subnets: Vec<&str> = cluster
        .resources_vpc_config()
        .unwrap()
        .subnet_ids()
        .iter()
        .map(String::as_str)
        .collect();
    subnets.sort();
    let mut private = v.private.iter().map(String::as_str).collect::<Vec<_>>();
    private.sort();
    assert_eq!(subnets, private, "the cluster is in the given private subnets");
    let db = aws.db_instance(&format!("{name}-db")).unwrap();
    assert_eq!(db.db_subnet_group().unwrap().vpc_id(), Some(v.vpc.as_str()));
    let tagged = aws.tagged_leftovers(&name);
    assert!(
        tagged.iter().all(|t| t.starts_with("security group")),
        "of the network, the stack made only security groups: {tagged:?}"
    );

    // Sleep marks a resource the stack owns, never the given VPC.
    s.ok(&["sleep", "--yes"]);
    let (_, out, _) = s.run(&["status"]);
    assert!(out.to_lowercase().contains("asleep"), "{out}");
    assert_eq!(snapshot(&aws, &v.vpc), before, "sleep left the given VPC untagged");
    s.ok(&["wake", "--yes"]);

    // What the cluster left, and what someone else keeps there.
    let left = security_group(
        &aws,
        &v.vpc,
        &format!("k8s-{name}-lb"),
        Some(("elbv2.k8s.aws/cluster", &name)),
    );
    let theirs = security_group(&aws, &v.vpc, "someone-elses", None);

    let out = s.ok(&["destroy", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert!(!group_exists(&aws, &left), "the cluster's leftover went");
    assert!(group_exists(&aws, &theirs), "someone else's group stays");
    assert_eq!(
        snapshot(&aws, &v.vpc),
        before,
        "destroy left the given network exactly as it was"
    );
    assert!(aws.tagged_leftovers(&name).is_empty());

    // --tag-subnets adds the missing load balancer tags, and only them;
    // a destroy leaves them. (Without the database: moto refuses a new
    // instance's automated snapshot while the old one's, of the same name
    // and minute, remains.)
    s.p.write_stack(&stack(&v).replace("[database]\nengine = \"postgres\"\nversion = \"16\"\n", ""));
    s.ok(&["apply", "--yes", "--tag-subnets"]);
    let tagged = snapshot(&aws, &v.vpc);
    for (id, tag) in [
        (&v.public[1], "kubernetes.io/role/elb=1"),
        (&v.private[0], "kubernetes.io/role/internal-elb=1"),
        (&v.private[1], "kubernetes.io/role/internal-elb=1"),
    ] {
        let line = tagged
            .lines()
            .find(|l| l.starts_with(&format!("subnet {id} ")))
            .unwrap();
        assert!(line.ends_with(&format!("[{tag}]")), "{line}");
    }
    let others: Vec<&str> = tagged.lines().filter(|l| !l.starts_with("subnet ")).collect();
    let was: Vec<&str> = before.lines().filter(|l| !l.starts_with("subnet ")).collect();
    assert_eq!(others, was, "nothing else changed");
    s.ok(&["destroy", "--yes"]);
    assert_eq!(snapshot(&aws, &v.vpc), tagged, "destroy never untags a given subnet");
}

/// What a given VPC's stack file may not say, before any AWS call.
#[test]
fn given_vpc_input_is_refused_before_any_call() {
    let cases = [
        (
            "[network]\nvpc_id = \"vpc-0a1b2c3d\"\ncidr = \"10.0.0.0/16\"\nprivate_subnet_ids = [\"subnet-0a1b2c3d\", \"subnet-1a1b2c3d\"]\n",
            "network.cidr",
            "is not given with `vpc_id`",
        ),
        (
            "[network]\nvpc_id = \"vpc-0a1b2c3d\"\nprivate_subnet_ids = [\"subnet-0a1b2c3d\"]\n\n[database]\nengine = \"postgres\"\n",
            "network.private_subnet_ids",
            "at least two availability zones",
        ),
        (
            "[network]\nvpc_id = \"vpc-12\"\nprivate_subnet_ids = [\"subnet-0a1b2c3d\", \"subnet-1a1b2c3d\"]\n",
            "network.vpc_id",
            "is not a VPC id",
        ),
        (
            "[network]\nvpc_id = \"vpc-0a1b2c3d\"\nprivate_subnet_ids = [\"subnet-0a1b2c3d\", \"subnet-0a1b2c3d\"]\n",
            "network.private_subnet_ids[1]",
            "listed twice",
        ),
        (
            "[network]\nprivate_subnet_ids = [\"subnet-0a1b2c3d\", \"subnet-1a1b2c3d\"]\n",
            "network.private_subnet_ids",
            "give `vpc_id` too",
        ),
    ];
    for (tables, key, rule) in cases {
        let text = format!("[stack]\nname = \"bad\"\nregion = \"us-east-1\"\n\n{tables}");
        let p = Project::with_text(&text, "gvbad");
        let mut c = p.cmd(&["plan"]);
        c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        let (code, _, err) = run(c);
        assert_ne!(code, 0, "{tables}");
        assert!(err.contains(key), "{key} named for {tables}:\n{err}");
        assert!(err.contains(rule), "\"{rule}\" for {tables}:\n{err}");
        assert!(err.contains("stack.toml:"), "file and line:\n{err}");
    }
    // The prod overlay's NAT and AZs do not apply to a given VPC.
    let p = Project::with_text(
        "[stack]\nname = \"ovl\"\nregion = \"us-east-1\"\n\n[network]\nvpc_id = \"vpc-0a1b2c3d\"\nprivate_subnet_ids = [\"subnet-0a1b2c3d\", \"subnet-1a1b2c3d\"]\n",
        "gvovl",
    );
    p.write_env("wide", "[network]\nnat = \"per-az\"\nazs = 3\n");
    let (code, out, err) = p.run(&["validate", "--env", "wide"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("network.nat") && err.contains("not applied"), "{err}");
}

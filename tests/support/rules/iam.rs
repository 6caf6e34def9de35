//! IAM as EKS sees it: a role just made, or just given a policy, is not
//! usable by EKS for a few seconds. IAM "uses a distributed computing model
//! called eventual consistency" ("Changes that I make are not always
//! immediately visible",
//! https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use hyper::StatusCode;

use super::{Req, Settings};

#[derive(Default)]
pub struct State {
    /// Role name → until when EKS cannot use it.
    fresh: HashMap<String, Instant>,
}

impl State {
    /// Whether the role an ARN names is still propagating.
    pub fn propagating(&self, arn: &str, now: Instant) -> bool {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        self.fresh.get(name).is_some_and(|until| *until > now)
    }
}

pub fn after(settings: &Settings, st: &mut State, req: &Req, status: StatusCode, _body: &mut Bytes, now: Instant) {
    if status != StatusCode::OK || !settings.consistency {
        return;
    }
    if matches!(
        req.action(),
        "CreateRole" | "AttachRolePolicy" | "UpdateAssumeRolePolicy"
    ) {
        if let Some(name) = req.param("RoleName") {
            st.fresh.insert(name.to_string(), now + settings.iam_propagation);
        }
    }
}

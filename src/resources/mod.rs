//! One module per AWS resource kind, each owning everything about its kind:
//! its typed spec and observed value, its attribute table, discovery,
//! create, update, delete, readiness, timeouts and what it bills. The kinds
//! are listed once, in [`registry`]; [`kind`] is the contract they fulfil.
//! This file holds what every step shares: the run context.

pub mod kind;
pub mod registry;
pub mod tags;

mod ec2;
mod eks;
pub mod rds;

pub mod budget;
pub mod ci_permissions;
pub mod db_cluster;
pub mod db_cluster_instance;
pub mod db_instance;
pub mod db_parameter_group;
pub mod db_proxy;
pub mod db_replica;
pub mod db_subnet_group;
pub mod discover;
pub mod ecr_repository;
pub mod eip;
pub mod eks_access_entry;
pub mod eks_addon;
pub mod eks_cluster;
pub mod eks_fargate_profile;
pub mod eks_nodegroup;
pub mod eks_pod_identity;
pub mod github_oidc_provider;
pub mod iam_oidc_provider;
pub mod iam_role;
pub mod internet_gateway;
pub mod nat_gateway;
pub mod route_table;
pub mod security_group;
pub mod security_group_rule;
pub mod sleep_mark;
pub mod subnet;
pub mod vpc;

use std::sync::{Arc, Mutex};

pub use kind::{
    existing, gone_ok, minutes, ours, poll, poll_usual, retry_when, retry_while, Attribute, Blocker, Changes, Compare,
    Desired, Discovery, Expected, Found, Guard, Inputs, Leftovers, New, OnChange, Policy, Polled, Ref, Remains,
    Resolve, ResourceKind, Verb,
};
pub use registry::{Kind, KindOps};
pub use tags::{TAG_ADDRESS, TAG_STACK};

use crate::aws::Aws;

/// Options that change what steps do, from the command line.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// A database deleted gets a final snapshot first.
    pub final_snapshot: bool,
    /// Poll intervals are multiplied by this (tests shorten them).
    pub poll_scale: f64,
    /// Destroy: delete EBS volumes left by Kubernetes persistent volumes
    /// (otherwise they are listed and kept).
    pub delete_volumes: bool,
    /// Delete ECR repositories that hold images, with their images
    /// (otherwise they are kept and listed).
    pub delete_images: bool,
    /// `sleep --deep --snapshot`: the database is deleted after a snapshot
    /// of this name, which the wake restores.
    pub sleep_snapshot: Option<String>,
    /// Real time per modelled second of the latency model, for the waits
    /// that follow a step's usual duration: 1 against AWS; an emulator
    /// that runs its minutes faster says how much faster (0 turns the
    /// usual-duration schedule off).
    pub model_scale: f64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            final_snapshot: true,
            poll_scale: 1.0,
            delete_volumes: false,
            delete_images: false,
            sleep_snapshot: None,
            model_scale: 1.0,
        }
    }
}

impl RunOptions {
    /// The factor applied to every wait between polls (1 unless tests set it).
    pub fn scale(&self) -> f64 {
        if self.poll_scale > 0.0 {
            self.poll_scale
        } else {
            1.0
        }
    }
}

/// Receives a short live status for a running step ("CREATING").
pub type StatusSink = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// What every step can reach: AWS, the options, a way to report status and
/// to leave notes. Ids of other resources come only through a step's inputs.
pub struct Ctx {
    pub aws: Aws,
    /// The stack's name: what discovery filters on.
    pub stack: String,
    pub options: RunOptions,
    status: StatusSink,
    notes: Mutex<Vec<Note>>,
}

/// Something a step made or left that the user must hear about at the end.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Note {
    /// A final snapshot was taken (it bills for storage until deleted).
    Snapshot { name: String, gib: i64, of: String },
    /// Anything else worth saying.
    Info { text: String },
}

impl Ctx {
    pub fn new(aws: Aws, stack: impl Into<String>, options: RunOptions, status: StatusSink) -> Self {
        Ctx {
            aws,
            stack: stack.into(),
            options,
            status,
            notes: Mutex::new(Vec::new()),
        }
    }

    pub fn note(&self, note: Note) {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).push(note);
    }

    pub fn notes(&self) -> Vec<Note> {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// One running step: the context plus the node it reports status for.
#[derive(Clone, Copy)]
pub struct Step<'a> {
    pub ctx: &'a Ctx,
    pub node: &'a str,
    /// How long the step usually takes, if modelled: its main wait polls
    /// by it ([`kind::poll_usual`]).
    pub expected: Option<&'a Expected>,
    /// When the step started (tokio's clock, which the benchmark pauses).
    pub started: tokio::time::Instant,
}

impl Step<'_> {
    pub fn status(&self, text: &str) {
        (self.ctx.status)(self.node, text);
    }

    pub fn aws(&self) -> &Aws {
        &self.ctx.aws
    }
}

/// Deletes never reach what the stack was given (a VPC and its subnets);
/// this is the last guard should one ever be asked to.
pub fn refuse_given<O>(live: &crate::live::Record<O>) -> anyhow::Result<()> {
    if live.origin == crate::live::Origin::Given {
        anyhow::bail!(
            "refusing to delete {} {}: ekstack did not create it (network.vpc_id), so it is never deleted",
            live.kind,
            live.id
        );
    }
    Ok(())
}

/// Who the credentials are, `(account, ARN)`: STS GetCallerIdentity, asked
/// once per command however many steps and lookups need it.
pub async fn caller(aws: &Aws) -> anyhow::Result<(String, String)> {
    use crate::aws::errors::AwsResultExt;
    let found = aws
        .caller
        .get_or_try_init(|| async {
            let out = aws
                .sts
                .get_caller_identity()
                .send()
                .await
                .aws("sts:GetCallerIdentity")?;
            match out.account {
                Some(account) if !account.is_empty() => Ok((account, out.arn.unwrap_or_default())),
                _ => anyhow::bail!("sts:GetCallerIdentity returned no account"),
            }
        })
        .await?;
    Ok(found.clone())
}

//! ekstack provisions the EKS + RDS stack a team needs to run a containerised
//! web service on AWS from one declarative TOML file, with no state file:
//! live state is found by tags and deterministic names.
//!
//! The pipeline: `config` (stack file + overlay → resolved stack) → `graph`
//! (desired resources and their dependencies) → `discover` (live state) →
//! `plan` (one action per address) → `exec` (a dependency-ordered concurrent
//! run of the plan) with `render` as the only code that prints.

pub mod aws;
pub mod cli;
pub mod config;
pub mod cost;
pub mod diagram;
pub mod exec;
pub mod graph;
pub mod i18n;
pub mod kube;
pub mod live;
pub mod ops;
pub mod plan;
pub mod quota;
pub mod render;
pub mod resources;

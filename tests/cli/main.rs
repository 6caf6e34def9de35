//! End-to-end tests of the ekstack binary. Everything that talks to AWS runs
//! against the moto emulator (`make test` starts it); each test uses its own
//! stack name, so they share one server.

#[path = "../support/proxy.rs"]
mod proxy;
#[path = "../support/rules/mod.rs"]
mod rules;
mod support;

mod apply;
mod auto_mode;
mod budget;
mod ci;
mod cost;
mod deep_sleep;
mod destroy;
mod diagram;
mod explain;
mod faults;
mod fileless;
mod given_vpc;
mod i18n;
mod identities;
mod kube;
mod lock;
mod ls;
mod migration;
mod parameter_groups;
mod plan;
mod promotion;
mod quotas;
mod rds_proxy;
mod replicas;
mod saved_plan;
mod scenarios;
mod structure;
mod teams;
mod upgrade;
mod validate;
mod workflows;

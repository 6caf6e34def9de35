//! The registry: every resource kind, listed once. The engine reaches a
//! kind's behaviour through [`Kind::ops`], an object-safe face of its
//! [`ResourceKind`] implementation, and never matches on a kind itself.

use std::marker::PhantomData;
use std::time::Duration;

use anyhow::{anyhow, Result};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::kind::{Blocker, Changes, Desired, Discovery, Inputs, Leftovers, Policy, Remains, Resolve, ResourceKind};
use super::Step;
use crate::config::Stack;
use crate::cost::Billable;
use crate::graph::{Graph, Resource};
use crate::live::{Live, LiveState};
use crate::plan::diff::Comparison;
use crate::plan::ReplaceOrder;
use crate::quota::Quota;

/// Lists the kinds: each line names the `Kind` variant (its JSON name is
/// the variant in snake_case) and the type implementing [`ResourceKind`].
macro_rules! registry {
    ($($variant:ident => $kind:ty),* $(,)?) => {
        /// The resource kinds; also the `kind` values of JSON output.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, strum::IntoStaticStr, strum::EnumIter,
        )]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        pub enum Kind {
            $($variant),*
        }

        impl Kind {
            /// What the engine may ask of this kind.
            pub fn ops(self) -> &'static dyn KindOps {
                match self {
                    $(Kind::$variant => &Erased::<$kind>(PhantomData)),*
                }
            }
        }
    };
}

registry! {
    Vpc => super::vpc::Vpc,
    InternetGateway => super::internet_gateway::InternetGateway,
    Subnet => super::subnet::Subnet,
    Eip => super::eip::Eip,
    NatGateway => super::nat_gateway::NatGateway,
    RouteTable => super::route_table::RouteTable,
    SecurityGroup => super::security_group::SecurityGroup,
    SecurityGroupRule => super::security_group_rule::SecurityGroupRule,
    IamRole => super::iam_role::IamRole,
    IamOidcProvider => super::iam_oidc_provider::IamOidcProvider,
    GithubOidcProvider => super::github_oidc_provider::GithubOidcProvider,
    EksCluster => super::eks_cluster::EksCluster,
    EksNodegroup => super::eks_nodegroup::EksNodegroup,
    EksFargateProfile => super::eks_fargate_profile::EksFargateProfile,
    EksAddon => super::eks_addon::EksAddon,
    EksAccessEntry => super::eks_access_entry::EksAccessEntry,
    EksPodIdentity => super::eks_pod_identity::EksPodIdentity,
    DbSubnetGroup => super::db_subnet_group::DbSubnetGroup,
    DbParameterGroup => super::db_parameter_group::DbParameterGroup,
    DbInstance => super::db_instance::DbInstance,
    DbReplica => super::db_replica::DbReplica,
    DbProxy => super::db_proxy::DbProxy,
    DbCluster => super::db_cluster::DbCluster,
    DbClusterInstance => super::db_cluster_instance::DbClusterInstance,
    EcrRepository => super::ecr_repository::EcrRepository,
    Budget => super::budget::Budget,
}

impl Kind {
    pub fn all() -> impl Iterator<Item = Kind> {
        <Kind as strum::IntoEnumIterator>::iter()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind's behaviour, object-safe: what the graph builder, the diff, cost,
/// discovery and the step runner call. Implemented once, for every
/// [`ResourceKind`], by [`Erased`].
pub trait KindOps: Send + Sync {
    fn kind(&self) -> Kind;
    fn parent(&self) -> Option<Kind>;
    fn ready_timeout(&self) -> Duration;
    fn replace_order(&self) -> ReplaceOrder;
    fn leftovers(&self) -> Leftovers;
    fn delete_after(&self) -> &'static [Kind];
    fn outlived_by_pointers_from(&self) -> &'static [Kind];
    fn update_after_deleting(&self) -> &'static [Kind];
    fn concurrency_group(&self) -> Option<&'static str>;
    /// How long a change of `verb` usually takes (`resource`: the desired
    /// one, for creates and updates).
    fn usual(&self, verb: super::kind::Verb, resource: Option<&Resource>) -> Option<super::kind::Expected>;

    /// Every attribute the kind names, whether or not a resource has it.
    fn attribute_names(&self) -> Vec<&'static str>;
    fn desired(&self, stack: &Stack) -> Vec<Resource>;
    /// Desired against live (`None`: nothing live yet).
    fn compare(&self, r: &Resource, live: Option<&Live>, refs: &dyn Resolve) -> Result<Comparison>;
    fn points_at(&self, live: &Live) -> Vec<String>;
    fn data_loss(&self, name: &str, live: Option<&Live>, policy: &Policy) -> Option<crate::i18n::Msg>;
    fn deletion_blocker(&self, live: &Live) -> Option<Blocker>;
    fn deletion_reason(&self, live: &Live, graph: &Graph, policy: &Policy) -> Option<String>;
    fn kept(&self, live: &Live, graph: &Graph, all: &LiveState, policy: &Policy) -> Option<String>;
    fn advice(&self, r: &Resource) -> Vec<String>;
    fn purpose(&self, r: &Resource) -> crate::i18n::Msg;
    fn billables(&self, r: &Resource) -> Vec<Billable>;
    fn quotas(&self, r: &Resource) -> Vec<Quota>;
    fn live_billables(&self, live: &Live, all: &LiveState) -> Vec<Billable>;
    /// The typed observed value, written out: what a saved plan's
    /// fingerprint covers.
    fn observed_text(&self, live: &Live) -> String;
    fn replacement_name(&self, r: &Resource, current: &Live) -> Result<String>;

    fn discover<'a>(&'a self, cx: &'a Discovery<'a>, parent: Option<&'a Live>) -> BoxFuture<'a, Result<Vec<Live>>>;
    fn remains<'a>(&'a self, cx: &'a Discovery<'a>) -> BoxFuture<'a, Result<Vec<Remains>>>;
    /// Creates `r` under the AWS name `name` (its own, or a replacement's).
    fn create<'a>(
        &'a self,
        step: &'a Step<'a>,
        r: &'a Resource,
        name: &'a str,
        inputs: &'a Inputs,
    ) -> BoxFuture<'a, Result<Live>>;
    fn update<'a>(
        &'a self,
        step: &'a Step<'a>,
        r: &'a Resource,
        current: &'a Live,
        changes: &'a [&'a str],
        inputs: &'a Inputs,
    ) -> BoxFuture<'a, Result<Live>>;
    fn delete<'a>(&'a self, step: &'a Step<'a>, live: &'a Live) -> BoxFuture<'a, Result<()>>;
    fn wait_ready<'a>(&'a self, step: &'a Step<'a>, live: &'a Live) -> BoxFuture<'a, Result<Live>>;
}

/// [`KindOps`] for a [`ResourceKind`].
pub struct Erased<K>(PhantomData<fn() -> K>);

fn desired<'a, K: ResourceKind>(r: &'a Resource) -> Result<Desired<'a, K>> {
    let spec = r
        .spec::<K>()
        .ok_or_else(|| anyhow!("internal error: {} is not a {}", r.address, K::KIND))?;
    Ok(Desired {
        address: &r.address,
        name: &r.name,
        tags: &r.tags,
        spec,
    })
}

impl<K: ResourceKind> KindOps for Erased<K> {
    fn kind(&self) -> Kind {
        K::KIND
    }

    fn parent(&self) -> Option<Kind> {
        K::PARENT
    }

    fn ready_timeout(&self) -> Duration {
        K::READY_TIMEOUT
    }

    fn replace_order(&self) -> ReplaceOrder {
        K::REPLACE_ORDER
    }

    fn leftovers(&self) -> Leftovers {
        K::LEFTOVERS
    }

    fn delete_after(&self) -> &'static [Kind] {
        K::delete_after()
    }

    fn outlived_by_pointers_from(&self) -> &'static [Kind] {
        K::outlived_by_pointers_from()
    }

    fn update_after_deleting(&self) -> &'static [Kind] {
        K::update_after_deleting()
    }

    fn concurrency_group(&self) -> Option<&'static str> {
        K::concurrency_group()
    }

    fn usual(&self, verb: super::kind::Verb, resource: Option<&Resource>) -> Option<super::kind::Expected> {
        K::usual(verb, resource.and_then(|r| r.spec::<K>()))
    }

    fn attribute_names(&self) -> Vec<&'static str> {
        <K::Attr as strum::IntoEnumIterator>::iter().map(Into::into).collect()
    }

    fn desired(&self, stack: &Stack) -> Vec<Resource> {
        K::desired(stack).into_iter().map(Resource::new::<K>).collect()
    }

    fn compare(&self, r: &Resource, live: Option<&Live>, refs: &dyn Resolve) -> Result<Comparison> {
        let d = desired::<K>(r)?;
        let live = live.map(|l| l.typed::<K>()).transpose()?;
        crate::plan::diff::compare::<K>(&d, live.as_ref(), refs)
    }

    fn points_at(&self, live: &Live) -> Vec<String> {
        live.observed::<K>().map(K::points_at).unwrap_or_default()
    }

    fn data_loss(&self, name: &str, live: Option<&Live>, policy: &Policy) -> Option<crate::i18n::Msg> {
        let live = live.and_then(|l| l.typed::<K>().ok());
        K::data_loss(name, live.as_ref(), policy)
    }

    fn deletion_blocker(&self, live: &Live) -> Option<Blocker> {
        live.typed::<K>().ok().and_then(|l| K::deletion_blocker(&l))
    }

    fn deletion_reason(&self, live: &Live, graph: &Graph, policy: &Policy) -> Option<String> {
        live.typed::<K>()
            .ok()
            .and_then(|l| K::deletion_reason(&l, graph, policy))
    }

    fn kept(&self, live: &Live, graph: &Graph, all: &LiveState, policy: &Policy) -> Option<String> {
        live.typed::<K>().ok().and_then(|l| K::kept(&l, graph, all, policy))
    }

    fn advice(&self, r: &Resource) -> Vec<String> {
        desired::<K>(r).map(|d| K::advice(&d)).unwrap_or_default()
    }

    fn purpose(&self, r: &Resource) -> crate::i18n::Msg {
        desired::<K>(r)
            .map(|d| K::purpose(&d))
            .unwrap_or_else(|_| crate::i18n::Msg::keyed(format!("purpose.{}", K::KIND)).arg("name", &r.name))
    }

    fn billables(&self, r: &Resource) -> Vec<Billable> {
        desired::<K>(r).map(|d| K::billables(&d)).unwrap_or_default()
    }

    fn quotas(&self, r: &Resource) -> Vec<Quota> {
        desired::<K>(r).map(|d| K::quotas(&d)).unwrap_or_default()
    }

    fn observed_text(&self, live: &Live) -> String {
        live.observed::<K>().map(|o| format!("{o:?}")).unwrap_or_default()
    }

    fn live_billables(&self, live: &Live, all: &LiveState) -> Vec<Billable> {
        live.typed::<K>()
            .map(|l| K::live_billables(&l, all))
            .unwrap_or_default()
    }

    fn replacement_name(&self, r: &Resource, current: &Live) -> Result<String> {
        Ok(K::replacement_name(&desired::<K>(r)?, &current.typed::<K>()?))
    }

    fn discover<'a>(&'a self, cx: &'a Discovery<'a>, parent: Option<&'a Live>) -> BoxFuture<'a, Result<Vec<Live>>> {
        async move {
            let found = K::discover(cx, parent).await?;
            Ok(found.into_iter().map(|f| f.erase()).collect())
        }
        .boxed()
    }

    fn remains<'a>(&'a self, cx: &'a Discovery<'a>) -> BoxFuture<'a, Result<Vec<Remains>>> {
        K::remains(cx).boxed()
    }

    fn create<'a>(
        &'a self,
        step: &'a Step<'a>,
        r: &'a Resource,
        name: &'a str,
        inputs: &'a Inputs,
    ) -> BoxFuture<'a, Result<Live>> {
        async move {
            let mut d = desired::<K>(r)?;
            d.name = name;
            Ok(K::create(step, &d, inputs).await?.erase())
        }
        .boxed()
    }

    fn update<'a>(
        &'a self,
        step: &'a Step<'a>,
        r: &'a Resource,
        current: &'a Live,
        changes: &'a [&'a str],
        inputs: &'a Inputs,
    ) -> BoxFuture<'a, Result<Live>> {
        async move {
            let d = desired::<K>(r)?;
            let current = current.typed::<K>()?;
            let changes = Changes::<K>::parse(changes.iter().copied())?;
            Ok(K::update(step, &d, &current, &changes, inputs).await?.erase())
        }
        .boxed()
    }

    fn delete<'a>(&'a self, step: &'a Step<'a>, live: &'a Live) -> BoxFuture<'a, Result<()>> {
        async move { K::delete(step, &live.typed::<K>()?).await }.boxed()
    }

    fn wait_ready<'a>(&'a self, step: &'a Step<'a>, live: &'a Live) -> BoxFuture<'a, Result<Live>> {
        async move { Ok(K::wait_ready(step, &live.typed::<K>()?).await?.erase()) }.boxed()
    }
}

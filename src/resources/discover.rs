//! Finding a stack's live resources with no state file: EC2 resources by the
//! `ekstack:stack` tag (one Describe call per kind), EKS, RDS and IAM by their
//! deterministic names, their tags checked. All reads run concurrently.

use anyhow::Result;

use super::*;
use crate::live::{Live, LiveState};

/// Reads everything of one stack. Makes no mutating call.
pub async fn discover(aws: &Aws, stack: &str, region: &str) -> Result<LiveState> {
    let network = async {
        let (vpcs, igws, subnets, eips, nats, tables, groups) = tokio::try_join!(
            vpc::discover(aws, stack),
            internet_gateway::discover(aws, stack),
            subnet::discover(aws, stack),
            eip::discover(aws, stack),
            nat_gateway::discover(aws, stack),
            route_table::discover(aws, stack),
            security_group::discover(aws, stack),
        )?;
        Ok::<_, anyhow::Error>([vpcs, igws, subnets, eips, nats, tables, groups].concat())
    };
    let roles = iam_role::discover(aws, stack, region);
    let eks = async {
        let Some(cluster) = eks_cluster::describe(aws, stack).await? else {
            return Ok::<_, anyhow::Error>(vec![]);
        };
        let Some(live) = eks_cluster::to_live(&cluster, stack) else {
            return Ok(vec![]);
        };
        if live.details.contains_key("foreign") {
            return Ok(vec![live]);
        }
        let (groups, profiles) = tokio::try_join!(
            eks_nodegroup::discover(aws, stack, stack),
            eks_fargate_profile::discover(aws, stack, stack)
        )?;
        Ok([vec![live], groups, profiles].concat())
    };
    let database = async {
        let (groups, instances, clusters) = tokio::try_join!(
            db_subnet_group::discover(aws, stack),
            db_instance::discover(aws, stack),
            db_cluster::discover(aws, stack)
        )?;
        Ok::<_, anyhow::Error>([groups, instances, clusters].concat())
    };
    let (network, roles, eks, database) = tokio::try_join!(network, roles, eks, database)?;

    let mut state = LiveState::default();
    for live in [network, roles, eks, database].concat() {
        if live.details.contains_key("foreign") {
            state.foreign.push(live);
        } else {
            state.resources.push(live);
        }
    }
    Ok(state)
}

/// A one-line description of a resource that shares a name with the stack
/// but was not made by ekstack for it.
pub fn describe_foreign(l: &Live) -> String {
    format!(
        "{} {} exists but carries no ekstack:stack tag for this stack",
        l.kind, l.id
    )
}

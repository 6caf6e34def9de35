//! Kubernetes version upgrades through the AWS-rules proxy, which serves
//! UpdateClusterVersion, UpdateNodegroupVersion and DescribeUpdate as EKS
//! does: one minor version per control-plane update, refused while node
//! groups lag a minor behind, each update tracked until Successful.

use crate::support::*;

/// The version actions a proxy saw, in order: `cluster 1.34`,
/// `kube-proxy v1.34.3-eksbuild.2`, `general 1.34`…
fn version_updates(proxy: &crate::proxy::FaultProxy, cluster: &str) -> Vec<String> {
    let cluster_update = format!("POST /clusters/{cluster}/updates");
    let group_update = format!("POST /clusters/{cluster}/node-groups/");
    let addon_update = format!("POST /clusters/{cluster}/addons/");
    proxy
        .requests()
        .iter()
        .filter_map(|(action, body)| {
            let body = serde_json::from_slice::<serde_json::Value>(body).ok()?;
            if action.starts_with(&addon_update) && action.ends_with("/update") {
                let addon = action.trim_start_matches(&addon_update).trim_end_matches("/update");
                return Some(format!("{addon} {}", body["addonVersion"].as_str()?));
            }
            let version = body["version"].as_str()?.to_string();
            if *action == cluster_update {
                Some(format!("cluster {version}"))
            } else if action.starts_with(&group_update) && action.ends_with("/update-version") {
                let group = action
                    .trim_start_matches(&group_update)
                    .trim_end_matches("/update-version");
                Some(format!("{group} {version}"))
            } else {
                None
            }
        })
        .collect()
}

/// Two minors in one apply: each control-plane hop is followed by the
/// add-ons, at what EKS offers for that version, then by the node groups,
/// so the second hop is not refused, and the run converges.
#[test]
fn a_two_minor_upgrade_moves_addons_then_node_groups_after_each_hop_and_converges() {
    require_emulator();
    let text = std::fs::read_to_string(repo().join("stacks/learning.toml"))
        .unwrap()
        .replace("version = \"1.35\"", "version = \"1.33\"");
    let p = Project::with_text(&text, "hop");
    let proxy = crate::proxy::FaultProxy::start_blocking(&moto(), Default::default()).unwrap();
    let url = proxy.url();
    let with_proxy = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--endpoint-url", url.as_str()]);
        p.run(&args)
    };

    // 1.33 is in extended support on the injected date: plan warns and
    // prices the control plane at the extended rate.
    let (code, out, err) = with_proxy(&["plan", "--env", "mvp"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("extended support"),
        "the plan warns about extended support:\n{out}{err}"
    );
    let (code, out, err) = with_proxy(&["apply", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 0, "{out}{err}");

    p.write_stack(&text.replace("version = \"1.33\"", "version = \"1.35\""));
    let (code, out, err) = with_proxy(&["plan", "--env", "mvp", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let cluster = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["address"] == "eks-cluster")
        .cloned()
        .unwrap_or_default();
    assert_eq!(cluster["action"], "update", "{out}");
    let hops = cluster["notes"].to_string();
    assert!(
        hops.contains("upgrade in 2 hops: 1.33 → 1.34 (~16 min), 1.34 → 1.35 (~16 min); each is control plane ~9 min, then 4 add-ons ~1.5 min, then 1 node group ~5 min each; ~31 min in all"),
        "the plan lists the hops with their expected time: {hops}"
    );
    // Add-ons at "default" move to the target's default.
    let kube_proxy = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["address"] == "eks-addon.kube-proxy")
        .cloned()
        .unwrap_or_default();
    assert_eq!(kube_proxy["changes"][0]["before"], "v1.33.3-eksbuild.2", "{kube_proxy}");
    assert_eq!(kube_proxy["changes"][0]["after"], "v1.35.3-eksbuild.2", "{kube_proxy}");

    let (code, out, err) = with_proxy(&["apply", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 0, "one run converges:\n{out}{err}");
    let updates = version_updates(&proxy, &p.name);
    // Within a hop the add-ons move concurrently: compare them as a set.
    let hop = |from: usize, to: usize| -> Vec<String> {
        let mut v = updates[from..to].to_vec();
        v.sort();
        v
    };
    assert_eq!(updates.len(), 7, "{updates:?}");
    assert_eq!(updates[0], "cluster 1.34", "{updates:?}");
    assert_eq!(
        hop(1, 3),
        ["coredns v1.12.1-eksbuild.2", "kube-proxy v1.34.3-eksbuild.2"],
        "the add-ons follow the control plane to 1.34's defaults: {updates:?}"
    );
    assert_eq!(updates[3], "general 1.34", "then the node group: {updates:?}");
    assert_eq!(updates[4], "cluster 1.35", "{updates:?}");
    assert_eq!(hop(5, 6), ["kube-proxy v1.35.3-eksbuild.2"], "{updates:?}");
    assert_eq!(updates[6], "general 1.35", "{updates:?}");
    let tracked = proxy
        .actions()
        .iter()
        .filter(|a| a.starts_with(&format!("GET /clusters/{}/updates/", p.name)))
        .count();
    assert!(
        tracked >= 4,
        "each update is followed with DescribeUpdate ({tracked} calls)"
    );

    let (code, out, err) = with_proxy(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged at 1.35:\n{out}{err}");
    let (code, out, err) = with_proxy(&["destroy", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 0, "{out}{err}");
}

/// A downgrade is impossible: the plan says so and what to do instead, and
/// apply leaves the cluster as it is (as for storage that cannot shrink).
#[test]
fn a_downgrade_is_refused_in_the_plan() {
    require_emulator();
    let p = Project::from_sample("learning", "down");
    p.apply_ok("mvp");
    let text = std::fs::read_to_string(p.path())
        .unwrap()
        .replace("version = \"1.35\"", "version = \"1.34\"");
    p.write_stack(&text);
    let (code, out, err) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "nothing EKS can do:\n{out}{err}");
    assert!(out.contains("EKS cannot downgrade Kubernetes"), "{out}");
    assert!(
        out.contains("keep eks.version = \"1.35\""),
        "the way out is named:\n{out}"
    );
    let (code, out, err) = p.run(&["apply", "--env", "mvp", "--yes", "--poll-scale", "0.01", "-v"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !err.contains("eks:UpdateClusterVersion"),
        "no version call is made:\n{err}"
    );
    assert_eq!(p.destroy("mvp").0, 0);
}

//! Status, outputs, kubeconfig and tokens: what a user needs to reach the
//! stack, checked against an independent client's view of it.

use std::collections::BTreeSet;

use base64::Engine as _;

use crate::support::*;

/// The EKS cluster as an independent client sees it.
fn cluster(aws: &Independent, name: &str) -> aws_sdk_eks::types::Cluster {
    aws.block_on(aws.eks.describe_cluster().name(name).send())
        .unwrap()
        .cluster
        .unwrap()
}

/// The query parameters of a URL, percent-decoded.
fn query(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {params:?}"))
}

/// Checks an ExecCredential printed by `ekstack token`; returns the presigned URL.
fn check_exec_credential(stdout: &str) -> String {
    let cred: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
    assert_eq!(cred["kind"], "ExecCredential", "{cred}");
    assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1beta1", "{cred}");
    let token = cred["status"]["token"].as_str().expect("status.token");
    let encoded = token
        .strip_prefix("k8s-aws-v1.")
        .unwrap_or_else(|| panic!("token without the k8s-aws-v1. prefix: {token}"));
    let url = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .expect("base64url without padding"),
    )
    .unwrap();
    assert!(
        url.starts_with("https://sts.ap-northeast-1.amazonaws.com/?"),
        "presigned URL to the regional STS endpoint: {url}"
    );
    let params = query(&url);
    assert_eq!(param(&params, "Action"), "GetCallerIdentity");
    assert_eq!(param(&params, "X-Amz-Expires"), "60");
    assert!(
        param(&params, "X-Amz-SignedHeaders")
            .split(';')
            .any(|h| h == "x-k8s-aws-id"),
        "the cluster id header is signed: {url}"
    );
    assert!(param(&params, "X-Amz-Credential").starts_with("testing/"), "{url}");
    assert!(
        param(&params, "X-Amz-Credential").contains("/ap-northeast-1/sts/aws4_request"),
        "{url}"
    );
    assert!(!param(&params, "X-Amz-Signature").is_empty());

    let expires = cred["status"]["expirationTimestamp"]
        .as_str()
        .expect("status.expirationTimestamp");
    let expires = time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("expirationTimestamp {expires} is not RFC 3339: {e}"));
    let now = time::OffsetDateTime::now_utc();
    assert!(expires > now, "token already expired: {expires} <= {now}");
    assert!(
        expires <= now + time::Duration::minutes(15),
        "EKS honours a token for 15 minutes at most; expires {expires}"
    );
    url
}

/// Every command a user runs, verbose, with AWS credentials and a database
/// password that exist only in this test: none may print any of them. The
/// outputs are also checked against an independent client's view.
#[test]
fn output_matches_what_aws_reports_and_no_command_prints_a_secret() {
    require_emulator();
    let p = Project::from_sample("learning", "out");
    let secrets = Sentinels::new();
    let env = secrets.env();
    let run = |what: &str, args: &[&str]| -> (i32, String, String) {
        let mut args = args.to_vec();
        args.push("-v");
        let (code, out, err) = p.run_env(&args, &env);
        secrets.assert_absent(what, &format!("{out}{err}"));
        (code, out, err)
    };
    let name = &p.name;

    let (code, out, err) = run("plan", &["plan", "--env", "mvp"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("aws ec2:DescribeVpcs"), "-v logs each call:\n{err}");
    let (code, out, err) = run("apply", &["apply", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 0, "apply failed\nstdout:\n{out}\nstderr:\n{err}");

    // The password RDS manages becomes ours, so a command that read the
    // secret (and printed it) would show it.
    let aws = Independent::new("ap-northeast-1");
    let db = aws.db_instance(&format!("{name}-db")).expect("the database exists");
    let secret = db
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .expect("RDS-managed secret");
    let secret_string = serde_json::json!({ "username": "app", "password": secrets.db_password }).to_string();
    aws.put_secret_string(secret, &secret_string);
    assert_eq!(
        aws.secret_string(secret),
        secret_string,
        "the sentinel password is in place"
    );

    let (code, out, err) = run("plan after apply", &["plan", "--env", "mvp"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run("status", &["status", "--env", "mvp"]);
    assert_eq!(code, 0, "{out}{err}");

    let (code, out, err) = run("output --json", &["output", "--env", "mvp", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let o: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"));

    let vpcs = aws.vpcs(name);
    assert_eq!(vpcs.len(), 1);
    assert_eq!(o["vpc_id"], vpcs[0].vpc_id().unwrap());

    let c = cluster(&aws, name);
    assert_eq!(o["cluster_name"], c.name().unwrap());
    assert_eq!(o["cluster_name"], name.as_str());
    let endpoint = c.endpoint().expect("moto gives the cluster an endpoint");
    assert_eq!(o["cluster_endpoint"], endpoint);

    let db_host = db.endpoint().and_then(|e| e.address()).expect("endpoint address");
    let db_port = db.endpoint().and_then(|e| e.port()).expect("endpoint port");
    assert_eq!(o["db_endpoint"], db_host);
    assert_eq!(o["db_port"].as_i64(), Some(db_port as i64));
    assert_eq!(o["db_secret_arn"], secret);
    assert_eq!(o["db_name"], "app");
    assert_eq!(o["kubeconfig_context"], format!("{name}.ap-northeast-1.ekstack"));

    // Text: a psql line that reads the password from Secrets Manager.
    let (code, text, err) = run("output", &["output", "--env", "mvp"]);
    assert_eq!(code, 0, "{text}{err}");
    for value in [vpcs[0].vpc_id().unwrap(), endpoint, db_host, secret] {
        assert!(text.contains(value), "text output lacks {value}:\n{text}");
    }
    let psql = text
        .lines()
        .find(|l| l.contains("psql \"host="))
        .unwrap_or_else(|| panic!("no psql command:\n{text}"));
    assert!(psql.contains("aws secretsmanager get-secret-value"), "{psql}");
    assert!(psql.contains(secret), "{psql}");
    assert!(psql.contains(&format!("host={db_host}")), "{psql}");
    assert!(psql.contains(&format!("port={db_port}")), "{psql}");
    assert!(psql.contains("dbname=app"), "{psql}");

    // --k8s: the app's manifests, among them its ConfigMap.
    let (code, yaml, err) = run("output --k8s", &["output", "--env", "mvp", "--k8s"]);
    assert_eq!(code, 0, "{yaml}{err}");
    let docs = manifests(&yaml);
    let cm = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("ConfigMap"))
        .unwrap_or_else(|| panic!("no ConfigMap:\n{yaml}"))
        .clone();
    assert_eq!(cm["apiVersion"].as_str(), Some("v1"), "{yaml}");
    assert_eq!(cm["kind"].as_str(), Some("ConfigMap"), "{yaml}");
    assert_eq!(cm["data"]["DB_HOST"].as_str(), Some(db_host), "{yaml}");
    assert_eq!(
        cm["data"]["DB_PORT"].as_str(),
        Some(db_port.to_string().as_str()),
        "{yaml}"
    );
    assert_eq!(cm["data"]["DB_NAME"].as_str(), Some("app"), "{yaml}");
    assert_eq!(cm["data"]["DB_SECRET_ARN"].as_str(), Some(secret), "{yaml}");
    let data_keys: Vec<String> = cm["data"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert!(
        !data_keys.iter().any(|k| k.contains("password")),
        "no password in the ConfigMap: {data_keys:?}"
    );

    // The kubeconfig holds an exec user, never a credential.
    let file = p.dir.path().join("kubeconfig");
    let (code, out, err) = run(
        "kubeconfig",
        &["kubeconfig", "--env", "mvp", "--kubeconfig", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    secrets.assert_absent("the kubeconfig file", &std::fs::read_to_string(&file).unwrap());

    // The token is a presigned URL: it must carry the session token (STS
    // needs it, as in `aws eks get-token`), but only base64-encoded inside the
    // token, and never the secret key, which only signs.
    let mut c = ekstack();
    c.args(["token", "--cluster", name, "--region", "ap-northeast-1", "-v"])
        .envs(env);
    let (code, out, err) = crate::support::run(c);
    secrets.assert_absent("token", &format!("{out}{err}"));
    assert_eq!(code, 0, "{out}{err}");
    let url = check_exec_credential(&out);
    assert_eq!(param(&query(&url), "X-Amz-Security-Token"), secrets.session_token);
    assert!(!url.contains(&secrets.secret_access_key), "{url}");

    // A failing command: an endpoint that is not AWS (a mistyped
    // --endpoint-url, a corporate proxy) answers EKS with an HTML page. The
    // error is one line that says so, with no dump of the SDK's response (and
    // so no headers, which carry the signature).
    let not_aws = crate::proxy::FaultProxy::start_blocking_with(
        &moto(),
        crate::proxy::Faults {
            not_aws: vec!["GET /clusters".into()],
            ..Default::default()
        },
        None,
        0,
    )
    .unwrap();
    let mut args = vec!["plan", "--env", "mvp", "-v"];
    let url = not_aws.url();
    args.extend(["--endpoint-url", url.as_str()]);
    let (code, out, err) = p.run_env(&args, &env);
    secrets.assert_absent("a failed plan", &format!("{out}{err}"));
    assert_eq!(code, 1, "{out}{err}");
    let line = err
        .lines()
        .find(|l| l.contains("eks:") && l.contains("failed"))
        .unwrap_or_else(|| panic!("no eks: error:\n{err}"));
    assert!(
        line.contains("the answer did not come from the EKS API (HTTP 404, text/html); check --endpoint-url"),
        "{line}"
    );
    for dump in ["ServiceError", "Unhandled", "headers", "Authorization", "<html"] {
        assert!(!err.contains(dump), "no SDK dump ({dump}):\n{err}");
    }

    let (code, out, err) = run("destroy", &["destroy", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn kubeconfig_merges_a_context_and_keeps_the_others() {
    require_emulator();
    let p = Project::from_sample("learning", "kcfg");
    p.apply_ok("mvp");
    let aws = Independent::new("ap-northeast-1");
    let name = p.name.clone();
    let context = format!("{name}.ap-northeast-1.ekstack");

    let file = p.dir.path().join("kubeconfig");
    std::fs::write(
        &file,
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: other\n  cluster:\n    server: https://other.example.com\n\
         contexts:\n\
         - name: other\n  context:\n    cluster: other\n    user: other\n\
         current-context: other\n\
         users:\n\
         - name: other\n  user:\n    token: other-token\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let (code, out, err) = p.run(&["kubeconfig", "--env", "mvp", "--kubeconfig", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");

    let text = std::fs::read_to_string(&file).unwrap();
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let named = |list: &str, n: &str| -> yaml_serde::Value {
        doc[list]
            .as_sequence()
            .unwrap_or_else(|| panic!("no {list}:\n{text}"))
            .iter()
            .find(|e| e["name"].as_str() == Some(n))
            .unwrap_or_else(|| panic!("no {list} entry {n}:\n{text}"))
            .clone()
    };
    // The other cluster, user and context are untouched.
    assert_eq!(
        named("clusters", "other")["cluster"]["server"].as_str(),
        Some("https://other.example.com")
    );
    assert_eq!(named("users", "other")["user"]["token"].as_str(), Some("other-token"));
    assert_eq!(named("contexts", "other")["context"]["cluster"].as_str(), Some("other"));
    for list in ["clusters", "users", "contexts"] {
        assert_eq!(doc[list].as_sequence().unwrap().len(), 2, "{list}:\n{text}");
    }
    assert_eq!(doc["current-context"].as_str(), Some(context.as_str()), "{text}");

    // The stack's entries, checked against describe_cluster.
    let c = cluster(&aws, &name);
    let ours = named("clusters", &context);
    assert_eq!(ours["cluster"]["server"].as_str(), c.endpoint(), "{text}");
    let ca = c.certificate_authority().and_then(|a| a.data()).expect("cluster CA");
    assert_eq!(
        ours["cluster"]["certificate-authority-data"].as_str(),
        Some(ca),
        "{text}"
    );
    let ctx = named("contexts", &context);
    assert_eq!(ctx["context"]["cluster"].as_str(), Some(context.as_str()));
    assert_eq!(ctx["context"]["user"].as_str(), Some(context.as_str()));
    let user = named("users", &context);
    let exec = &user["user"]["exec"];
    assert_eq!(
        exec["apiVersion"].as_str(),
        Some("client.authentication.k8s.io/v1beta1"),
        "{text}"
    );
    let command = exec["command"].as_str().expect("exec command");
    assert!(command == "ekstack" || command.ends_with("/ekstack"), "{command}");
    let args: Vec<&str> = exec["args"]
        .as_sequence()
        .expect("exec args")
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        ["token", "--cluster", name.as_str(), "--region", "ap-northeast-1"]
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "kubeconfig mode {mode:o}");
    }

    // What kubectl runs for this user produces a valid credential.
    // (A bare "ekstack" would mean one on PATH, which may not be this build.)
    if command.ends_with("/ekstack") {
        let o = std::process::Command::new(command)
            .args(&args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
        check_exec_credential(&out);
    }

    // kubectl itself reads the merged file. A missing kubectl fails the test
    // rather than skipping the check: `make test` installs it.
    let o = match std::process::Command::new("kubectl")
        .args(["config", "view", "--kubeconfig"])
        .arg(&file)
        .args(["-o", "json"])
        .env_remove("KUBECONFIG")
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("kubectl is not on PATH; `make test` installs it (scripts/ensure-kubectl.sh)")
        }
        Err(e) => panic!("running kubectl: {e}"),
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let view: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let contexts: BTreeSet<&str> = view["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(contexts, BTreeSet::from(["other", context.as_str()]), "{view}");
    assert_eq!(view["current-context"], context.as_str());

    // Merging again replaces our entries instead of adding copies.
    let (code, out, err) = p.run(&["kubeconfig", "--env", "mvp", "--kubeconfig", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let again: yaml_serde::Value = yaml_serde::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for list in ["clusters", "users", "contexts"] {
        assert_eq!(
            again[list].as_sequence().unwrap().len(),
            2,
            "{list} after a second merge"
        );
    }

    assert_eq!(p.destroy("mvp").0, 0);
}

#[test]
fn token_is_a_presigned_sts_url_in_an_exec_credential() {
    require_emulator();
    // `token` signs locally and calls no AWS API, so no stack is needed: any
    // cluster name gives a token (EKS checks it when kubectl presents it).
    let cluster = unique_name("tok");
    let mut c = ekstack();
    c.args(["token", "--cluster", &cluster, "--region", "ap-northeast-1"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    check_exec_credential(&out);

    // Without a region it says so instead of guessing.
    let mut c = ekstack();
    c.args(["token", "--cluster", &cluster]);
    let (code, out, err) = run(c);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("--region"), "{err}");
}

#[test]
fn status_lists_every_live_resource_and_flags_drift() {
    require_emulator();
    let p = Project::from_sample("learning", "stat");
    let (code, out, err) = p.run(&["plan", "--env", "mvp", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let planned: BTreeSet<String> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(planned.len(), 27, "{planned:?}");

    p.apply_ok("mvp");
    let status = |p: &Project| -> serde_json::Value {
        let (code, out, err) = p.run(&["status", "--env", "mvp", "--json"]);
        assert_eq!(code, 0, "{out}{err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"))
    };
    let s = status(&p);
    assert_eq!(s["stack"], p.name.as_str());
    assert_eq!(s["env"], "mvp");
    assert_eq!(s["region"], "ap-northeast-1");
    assert_eq!(s["sleeping"], false);
    assert_eq!(s["missing"].as_array().map(Vec::len), Some(0), "{s}");
    let resources = s["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 27, "{s}");
    let live: BTreeSet<String> = resources
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(live, planned, "one status entry per planned address");
    for r in resources {
        for key in ["kind", "id", "state"] {
            assert!(r[key].as_str().is_some_and(|v| !v.is_empty()), "{key} missing in {r}");
        }
        assert_eq!(r["drift"], false, "no drift right after apply: {r}");
    }

    // Ids and states are AWS's.
    let aws = Independent::new("ap-northeast-1");
    let entry = |s: &serde_json::Value, address: &str| -> serde_json::Value {
        s["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == address)
            .unwrap_or_else(|| panic!("no {address} in {s}"))
            .clone()
    };
    let vpc = entry(&s, "vpc");
    assert_eq!(vpc["kind"], "vpc");
    assert_eq!(vpc["id"], aws.vpcs(&p.name)[0].vpc_id().unwrap());
    let db = entry(&s, "db-instance");
    assert_eq!(db["kind"], "db_instance");
    let live_db = aws.db_instance(&format!("{}-db", p.name)).unwrap();
    assert_eq!(db["id"], live_db.db_instance_identifier().unwrap());
    assert_eq!(db["state"], live_db.db_instance_status().unwrap());
    let nat = entry(&s, "nat-gateway.ap-northeast-1a");
    assert_eq!(nat["id"], aws.nat_gateways(&p.name)[0].nat_gateway_id().unwrap());
    assert_eq!(entry(&s, "eks-nodegroup.general")["kind"], "eks_nodegroup");

    // Someone scales the node group by hand: exactly that entry drifts.
    aws.block_on(
        aws.eks
            .update_nodegroup_config()
            .cluster_name(&p.name)
            .nodegroup_name("general")
            .scaling_config(
                aws_sdk_eks::types::NodegroupScalingConfig::builder()
                    .min_size(1)
                    .desired_size(2)
                    .max_size(2)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let s = status(&p);
    let drifted: Vec<&str> = s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["drift"] == true)
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(drifted, ["eks-nodegroup.general"], "{s}");

    // The table mentions every address and marks the drift.
    let (code, table, err) = p.run(&["status", "--env", "mvp"]);
    assert_eq!(code, 0, "{table}{err}");
    // The inventory is the block under the ADDRESS/KIND header (a cost table follows it).
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !(l.contains("ADDRESS") && l.contains("KIND")))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(rows.len(), 27, "{table}");
    for address in &planned {
        assert!(
            rows.iter()
                .any(|l| l.split_whitespace().next() == Some(address.as_str())),
            "{address} missing from the table:\n{table}"
        );
    }
    let drifted_rows: Vec<&str> = rows
        .iter()
        .filter(|l| l.contains("differs from the file"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(drifted_rows, ["eks-nodegroup.general"], "{table}");
    assert!(table.contains("Cost now:"), "{table}");

    assert_eq!(p.destroy("mvp").0, 0);
}

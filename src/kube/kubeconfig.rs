//! Merging the stack's cluster into the user's kubeconfig, the way
//! `aws eks update-kubeconfig` does but with `ekstack token` as the exec
//! credential plugin.
//!
//! A kubeconfig is shared with every other tool and cluster the user has, so the
//! merge treats the file as an opaque YAML document: it touches only the three
//! entries that carry our name and `current-context`, and everything else —
//! other clusters, users, contexts, preferences, extensions, fields kubectl may
//! add in future — round-trips untouched. The write is atomic and private
//! because the file holds credentials of those other clusters.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use yaml_serde::{Mapping, Value};

/// The API version of the ExecCredential that `ekstack token` prints; kubectl
/// refuses an exec plugin whose declared version differs from its output.
const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

/// What a kubeconfig needs to reach and authenticate to one EKS cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEntry {
    /// Name of the cluster, user and context entries (one name for all three,
    /// so a re-merge finds and replaces exactly what an earlier one wrote).
    pub context_name: String,
    /// The EKS cluster name passed to `token --cluster`.
    pub cluster_name: String,
    pub region: String,
    /// The API server URL, `https://…eks.amazonaws.com`.
    pub endpoint: String,
    /// Base64 PEM of the cluster CA, as EKS's DescribeCluster returns it.
    pub certificate_authority_data: String,
    /// Path to the ekstack binary, usually "ekstack".
    pub exec_command: String,
    /// The AWS profile the token is made with, when not the default chain's.
    pub profile: Option<String>,
}

/// Where to write: first path in $KUBECONFIG (split on ':'), else ~/.kube/config.
///
/// The first file is the one whose `current-context` kubectl honours when
/// $KUBECONFIG lists several, so switching context there actually takes effect.
pub fn default_path() -> Result<PathBuf> {
    path_from(std::env::var_os("KUBECONFIG"), home_dir())
}

fn home_dir() -> Option<OsString> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(var).filter(|h| !h.is_empty())
}

fn path_from(kubeconfig: Option<OsString>, home: Option<OsString>) -> Result<PathBuf> {
    if let Some(list) = kubeconfig {
        // kubectl ignores empty elements (`KUBECONFIG=:/x` or a trailing `:`).
        if let Some(first) = std::env::split_paths(&list).find(|p| !p.as_os_str().is_empty()) {
            return Ok(first);
        }
    }
    let home = home.ok_or_else(|| anyhow!("cannot find the kubeconfig: neither KUBECONFIG nor HOME is set"))?;
    Ok(PathBuf::from(home).join(".kube").join("config"))
}

/// Merges the entry (cluster, user, context with the same name; exec user runs
/// `<exec_command> token --cluster NAME --region R`, apiVersion
/// client.authentication.k8s.io/v1beta1, interactiveMode Never), replacing
/// existing entries of that name, keeping every other entry untouched, sets
/// current-context and writes atomically with mode 0600, creating the
/// directory (0700) if needed. Returns the previous current-context.
pub fn merge(path: &Path, entry: &ClusterEntry) -> Result<Option<String>> {
    let target = resolve_symlink(path);
    let dir = parent_dir(&target);
    create_private_dir(dir).with_context(|| format!("creating the kubeconfig directory {}", dir.display()))?;

    // Same lock file as client-go, so a concurrent `kubectl config ...` and this
    // merge cannot both read the old file and one silently lose the other's change.
    let _lock = LockFile::acquire(&target)?;

    let mut doc = match fs::read_to_string(&target) {
        Ok(text) => {
            parse(&text).with_context(|| format!("{} is not a valid kubeconfig; not touching it", target.display()))?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => empty_config(),
        Err(e) => return Err(e).with_context(|| format!("reading the kubeconfig {}", target.display())),
    };

    let previous =
        merge_into(&mut doc, entry).with_context(|| format!("merging into the kubeconfig {}", target.display()))?;
    let text = yaml_serde::to_string(&Value::Mapping(doc)).context("serialising the kubeconfig")?;
    write_atomic(&target, text.as_bytes()).with_context(|| format!("writing the kubeconfig {}", target.display()))?;
    Ok(previous)
}

/// A symlinked kubeconfig (dotfile managers do this) must stay a symlink: the
/// rename would otherwise replace the link with a regular file.
fn resolve_symlink(path: &Path) -> PathBuf {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(real) => real,
            // Dangling link: write where it points so the link starts working.
            Err(_) => match fs::read_link(path) {
                Ok(dest) => parent_dir(path).join(dest),
                Err(_) => path.to_path_buf(),
            },
        },
        _ => path.to_path_buf(),
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn parse(text: &str) -> Result<Mapping> {
    match yaml_serde::from_str::<Value>(text)? {
        // An empty file is what `touch ~/.kube/config` leaves; kubectl treats it
        // as an empty config and so do we.
        Value::Null => Ok(empty_config()),
        Value::Mapping(m) => Ok(m),
        _ => bail!("the top level is not a mapping"),
    }
}

/// Key order as kubectl writes a fresh file, so ours looks familiar.
fn empty_config() -> Mapping {
    let mut m = Mapping::new();
    m.insert("apiVersion".into(), "v1".into());
    m.insert("clusters".into(), Value::Sequence(vec![]));
    m.insert("contexts".into(), Value::Sequence(vec![]));
    m.insert("current-context".into(), "".into());
    m.insert("kind".into(), "Config".into());
    m.insert("preferences".into(), Value::Mapping(Mapping::new()));
    m.insert("users".into(), Value::Sequence(vec![]));
    m
}

fn merge_into(doc: &mut Mapping, entry: &ClusterEntry) -> Result<Option<String>> {
    for (key, value) in [("apiVersion", "v1"), ("kind", "Config")] {
        if !doc.contains_key(key) {
            doc.insert(key.into(), value.into());
        }
    }

    let name = &entry.context_name;
    let cluster = yaml_map([
        ("server", entry.endpoint.as_str().into()),
        (
            "certificate-authority-data",
            entry.certificate_authority_data.as_str().into(),
        ),
    ]);
    let mut args: Vec<Value> = ["token", "--cluster", &entry.cluster_name, "--region", &entry.region]
        .into_iter()
        .map(Value::from)
        .collect();
    if let Some(profile) = &entry.profile {
        args.extend([Value::from("--profile"), Value::from(profile.as_str())]);
    }
    let user = yaml_map([(
        "exec",
        yaml_map([
            ("apiVersion", EXEC_API_VERSION.into()),
            ("command", entry.exec_command.as_str().into()),
            ("args", Value::Sequence(args)),
            // The token is made without prompting, and "Never" keeps kubectl
            // from handing the plugin a terminal it might block on in CI.
            ("interactiveMode", "Never".into()),
        ]),
    )]);
    let context = yaml_map([("cluster", name.as_str().into()), ("user", name.as_str().into())]);

    upsert_named(doc, "clusters", "cluster", name, cluster)?;
    upsert_named(doc, "users", "user", name, user)?;
    upsert_named(doc, "contexts", "context", name, context)?;

    let previous = match doc.get("current-context") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    doc.insert("current-context".into(), name.as_str().into());
    Ok(previous)
}

fn yaml_map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Mapping(pairs.into_iter().map(|(k, v)| (Value::from(k), v)).collect())
}

/// Replaces the list item called `name` in place (so the file's order is kept
/// and a diff of it stays small) or appends it; any further items of that name,
/// which kubectl would silently ignore, are dropped so one name means one entry.
fn upsert_named(doc: &mut Mapping, list: &str, field: &str, name: &str, body: Value) -> Result<()> {
    let slot = doc.entry(list.into()).or_insert_with(|| Value::Sequence(vec![]));
    if slot.is_null() {
        // kubectl writes `users: null` when a list is empty.
        *slot = Value::Sequence(vec![]);
    }
    let items = slot
        .as_sequence_mut()
        .ok_or_else(|| anyhow!("`{list}` is not a list"))?;

    let item = yaml_map([("name", name.into()), (field, body)]);
    let is_ours = |v: &Value| v.get("name").and_then(Value::as_str) == Some(name);
    match items.iter().position(is_ours) {
        Some(i) => {
            items[i] = item;
            let mut index = 0;
            items.retain(|v| {
                let keep = index <= i || !is_ours(v);
                index += 1;
                keep
            });
        }
        None => items.push(item),
    }
    Ok(())
}

/// Writes through a temporary file in the same directory and a rename, so a
/// crash or a full disk leaves the old kubeconfig intact rather than truncated.
fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    let base = path
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", path.display()))?
        .to_string_lossy()
        .into_owned();

    // Created 0600 and removed again if anything below fails (the
    // `NamedTempFile` deletes itself when dropped unpersisted). The prefix
    // names the file it stands for, should a killed process ever leave one.
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{base}.ekstack-"))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    // Explicitly, so the mode never depends on how the file was created: a file
    // full of credentials must never be group or world readable.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file().set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    // Persist the rename itself; best effort, as some filesystems refuse to
    // sync a directory and the file is already complete either way.
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// client-go's `<kubeconfig>.lock` protocol: exclusive create, removed when done.
struct LockFile(PathBuf);

impl LockFile {
    fn acquire(target: &Path) -> Result<Self> {
        let mut lock = target.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        match fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(_) => Ok(LockFile(lock)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => bail!(
                "{} exists: another kubectl or ekstack is writing the kubeconfig; \
                 retry, or delete the lock file if no such process is running",
                lock.display()
            ),
            Err(e) => Err(e).with_context(|| format!("creating the lock file {}", lock.display())),
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ClusterEntry {
        ClusterEntry {
            context_name: "ekstack-shop".into(),
            cluster_name: "shop".into(),
            region: "ap-northeast-1".into(),
            endpoint: "https://ABCDEF.gr7.ap-northeast-1.eks.amazonaws.com".into(),
            certificate_authority_data: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==".into(),
            exec_command: "ekstack".into(),
            profile: None,
        }
    }

    /// Shaped like a kubeconfig kubectl and kind leave behind, with fields we
    /// know nothing about at every level.
    const EXISTING: &str = r#"apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- name: kind-dev
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Zm9v
    extensions:
    - name: client.authentication.k8s.io/exec
      extension:
        audience: foo
users:
- name: kind-dev
  user:
    client-certificate-data: YmFy
    client-key-data: YmF6
contexts:
- name: kind-dev
  context:
    cluster: kind-dev
    user: kind-dev
    namespace: web
current-context: kind-dev
extensions:
- name: some-tool
  extension:
    last-update: "2025-01-01"
"#;

    fn read(path: &Path) -> Value {
        yaml_serde::from_str(&fs::read_to_string(path).unwrap()).unwrap()
    }

    fn names(doc: &Value, list: &str) -> Vec<String> {
        doc[list]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn named<'a>(doc: &'a Value, list: &str, name: &str) -> &'a Value {
        doc[list]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn merge_keeps_other_entries_and_switches_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, EXISTING).unwrap();
        let before: Value = yaml_serde::from_str(EXISTING).unwrap();

        let previous = merge(&path, &entry()).unwrap();
        assert_eq!(previous.as_deref(), Some("kind-dev"));

        let doc = read(&path);
        assert_eq!(doc["current-context"], "ekstack-shop");
        assert_eq!(doc["preferences"], before["preferences"]);
        assert_eq!(doc["extensions"], before["extensions"]);
        for list in ["clusters", "users", "contexts"] {
            assert_eq!(names(&doc, list), ["kind-dev", "ekstack-shop"], "{list}");
            assert_eq!(named(&doc, list, "kind-dev"), named(&before, list, "kind-dev"));
        }

        let cluster = &named(&doc, "clusters", "ekstack-shop")["cluster"];
        assert_eq!(cluster["server"], entry().endpoint.as_str());
        assert_eq!(
            cluster["certificate-authority-data"],
            entry().certificate_authority_data.as_str()
        );
        let context = &named(&doc, "contexts", "ekstack-shop")["context"];
        assert_eq!(context["cluster"], "ekstack-shop");
        assert_eq!(context["user"], "ekstack-shop");
        let exec = &named(&doc, "users", "ekstack-shop")["user"]["exec"];
        assert_eq!(exec["apiVersion"], EXEC_API_VERSION);
        assert_eq!(exec["command"], "ekstack");
        assert_eq!(exec["interactiveMode"], "Never");
        let args: Vec<&str> = exec["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(args, ["token", "--cluster", "shop", "--region", "ap-northeast-1"]);

        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "config")
            .collect();
        assert!(leftovers.is_empty(), "temp or lock files left: {leftovers:?}");
    }

    #[test]
    fn re_merge_is_idempotent_and_replaces_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, EXISTING).unwrap();

        merge(&path, &entry()).unwrap();
        let first = fs::read_to_string(&path).unwrap();
        let previous = merge(&path, &entry()).unwrap();
        assert_eq!(previous.as_deref(), Some("ekstack-shop"));
        assert_eq!(fs::read_to_string(&path).unwrap(), first);

        // A changed endpoint (cluster recreated) replaces, never duplicates.
        let mut moved = entry();
        moved.endpoint = "https://NEW.gr7.ap-northeast-1.eks.amazonaws.com".into();
        merge(&path, &moved).unwrap();
        let doc = read(&path);
        for list in ["clusters", "users", "contexts"] {
            assert_eq!(names(&doc, list), ["kind-dev", "ekstack-shop"], "{list}");
        }
        assert_eq!(
            named(&doc, "clusters", "ekstack-shop")["cluster"]["server"],
            moved.endpoint.as_str()
        );
    }

    #[test]
    fn duplicate_entries_of_our_name_collapse_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(
            &path,
            "clusters:\n- name: ekstack-shop\n  cluster: {server: a}\n- name: other\n  cluster: {server: b}\n- name: ekstack-shop\n  cluster: {server: c}\nusers: null\n",
        )
        .unwrap();
        assert_eq!(merge(&path, &entry()).unwrap(), None);
        let doc = read(&path);
        assert_eq!(names(&doc, "clusters"), ["ekstack-shop", "other"]);
        assert_eq!(names(&doc, "users"), ["ekstack-shop"]);
        assert_eq!(doc["apiVersion"], "v1");
        assert_eq!(doc["kind"], "Config");
    }

    #[test]
    fn missing_file_and_directory_are_created_privately() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(".kube").join("config");
        assert_eq!(merge(&path, &entry()).unwrap(), None);
        let doc = read(&path);
        assert_eq!(doc["current-context"], "ekstack-shop");
        assert_eq!(doc["kind"], "Config");
        for list in ["clusters", "users", "contexts"] {
            assert_eq!(names(&doc, list), ["ekstack-shop"], "{list}");
        }
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
    }

    #[test]
    fn empty_file_is_an_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, "").unwrap();
        assert_eq!(merge(&path, &entry()).unwrap(), None);
        assert_eq!(read(&path)["current-context"], "ekstack-shop");
    }

    #[cfg(unix)]
    #[test]
    fn loose_permissions_are_tightened() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, EXISTING).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        merge(&path, &entry()).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn invalid_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        for bad in ["clusters: [unclosed\n", "- a list\n", "clusters: 3\n"] {
            fs::write(&path, bad).unwrap();
            assert!(merge(&path, &entry()).is_err(), "{bad:?}");
            assert_eq!(fs::read_to_string(&path).unwrap(), bad);
        }
    }

    #[test]
    fn held_lock_refuses_rather_than_racing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, EXISTING).unwrap();
        fs::write(dir.path().join("config.lock"), "").unwrap();
        let err = merge(&path, &entry()).unwrap_err();
        assert!(format!("{err:#}").contains("config.lock"), "{err:#}");
        assert_eq!(fs::read_to_string(&path).unwrap(), EXISTING);
        // The lock belongs to someone else: it must survive our failure.
        assert!(dir.path().join("config.lock").exists());
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_kubeconfig_stays_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real-config");
        fs::write(&real, EXISTING).unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        merge(&link, &entry()).unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(read(&real)["current-context"], "ekstack-shop");
    }

    #[test]
    fn default_path_prefers_first_kubeconfig_entry() {
        let sep = if cfg!(windows) { ";" } else { ":" };
        let list = OsString::from(format!("{sep}/a/one{sep}/b/two"));
        assert_eq!(
            path_from(Some(list), Some("/home/u".into())).unwrap(),
            PathBuf::from("/a/one")
        );
        assert_eq!(
            path_from(None, Some("/home/u".into())).unwrap(),
            Path::new("/home/u").join(".kube").join("config")
        );
        assert_eq!(
            path_from(Some("".into()), Some("/home/u".into())).unwrap(),
            Path::new("/home/u").join(".kube").join("config")
        );
        assert!(path_from(None, None).is_err());
    }

    /// The minor version of the kubectl on PATH; panics when there is none,
    /// because a check that skips itself proves nothing (`make test` installs it).
    fn kubectl_minor() -> u32 {
        let out = match std::process::Command::new("kubectl")
            .args(["version", "--client", "-o", "json"])
            .output()
        {
            Ok(out) => out,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                panic!("kubectl is not on PATH; `make test` installs it (scripts/ensure-kubectl.sh)")
            }
            Err(e) => panic!("running kubectl: {e}"),
        };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let minor = v["clientVersion"]["minor"].as_str().unwrap_or_default();
        // "32", or "32+" on some vendor builds.
        minor
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or_else(|_| panic!("unexpected kubectl version: {v}"))
    }

    /// The issue's acceptance check: kubectl itself reads the merged file and
    /// sees both contexts and ours as current.
    #[test]
    fn kubectl_reads_the_merged_file() {
        let minor = kubectl_minor();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, EXISTING).unwrap();
        merge(&path, &entry()).unwrap();

        let out = std::process::Command::new("kubectl")
            .args(["config", "view", "-o", "json", "--kubeconfig"])
            .arg(&path)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl config view failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(view["current-context"], "ekstack-shop");
        let contexts: Vec<&str> = view["contexts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(contexts, ["ekstack-shop", "kind-dev"]);
        let user = view["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == "ekstack-shop")
            .unwrap();
        assert_eq!(user["user"]["exec"]["command"], "ekstack");
        assert_eq!(user["user"]["exec"]["apiVersion"], EXEC_API_VERSION);
        // kubectl before 1.22 (Debian 12 ships 1.20) predates interactiveMode:
        // it reads the file and drops the field; later ones must show it.
        if minor >= 22 {
            assert_eq!(user["user"]["exec"]["interactiveMode"], "Never");
        } else {
            assert!(user["user"]["exec"].get("interactiveMode").is_none(), "{user}");
        }
    }
}

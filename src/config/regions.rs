//! What ekstack knows about AWS without asking it: regions and their
//! availability zones, supported Kubernetes and engine versions. Validation
//! needs these before any AWS call, so they are a static table.

/// Regions ekstack supports, with the AZ letters of a typical account.
/// (Zone letters map to physical zones per account; these are the names the
/// EC2 API accepts.)
pub const REGIONS: &[(&str, &[&str])] = &[
    ("us-east-1", &["a", "b", "c", "d", "e", "f"]),
    ("us-east-2", &["a", "b", "c"]),
    ("us-west-1", &["a", "b"]),
    ("us-west-2", &["a", "b", "c", "d"]),
    ("ca-central-1", &["a", "b", "d"]),
    ("eu-west-1", &["a", "b", "c"]),
    ("eu-west-2", &["a", "b", "c"]),
    ("eu-west-3", &["a", "b", "c"]),
    ("eu-central-1", &["a", "b", "c"]),
    ("eu-north-1", &["a", "b", "c"]),
    ("ap-northeast-1", &["a", "c", "d"]),
    ("ap-northeast-2", &["a", "b", "c", "d"]),
    ("ap-northeast-3", &["a", "b", "c"]),
    ("ap-southeast-1", &["a", "b", "c"]),
    ("ap-southeast-2", &["a", "b", "c"]),
    ("ap-south-1", &["a", "b", "c"]),
    ("sa-east-1", &["a", "b", "c"]),
];

pub fn region_names() -> impl Iterator<Item = &'static str> {
    REGIONS.iter().map(|(r, _)| *r)
}

/// AZ names of a region, in order, or `None` for an unknown region.
pub fn availability_zones(region: &str) -> Option<Vec<String>> {
    REGIONS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(r, letters)| letters.iter().map(|l| format!("{r}{l}")).collect())
}

/// One Kubernetes minor version on EKS and its support calendar ("Understand
/// the Kubernetes version lifecycle on EKS",
/// https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html):
/// 14 months of standard support, then 12 of extended support, billed at
/// the extended-support rate for the control plane.
#[derive(Debug, Clone, Copy)]
pub struct KubernetesVersion {
    pub version: &'static str,
    pub end_of_standard: time::Date,
    pub end_of_extended: time::Date,
}

/// The calendar, oldest first. 1.35's dates come from endoflife.date until
/// AWS's page lists them.
pub const KUBERNETES_CALENDAR: &[KubernetesVersion] = &[
    k(
        "1.29",
        time::macros::date!(2025 - 03 - 23),
        time::macros::date!(2026 - 03 - 23),
    ),
    k(
        "1.30",
        time::macros::date!(2025 - 07 - 23),
        time::macros::date!(2026 - 07 - 23),
    ),
    k(
        "1.31",
        time::macros::date!(2025 - 11 - 26),
        time::macros::date!(2026 - 11 - 26),
    ),
    k(
        "1.32",
        time::macros::date!(2026 - 03 - 23),
        time::macros::date!(2027 - 03 - 23),
    ),
    k(
        "1.33",
        time::macros::date!(2026 - 07 - 29),
        time::macros::date!(2027 - 07 - 29),
    ),
    k(
        "1.34",
        time::macros::date!(2026 - 12 - 02),
        time::macros::date!(2027 - 12 - 02),
    ),
    k(
        "1.35",
        time::macros::date!(2027 - 03 - 27),
        time::macros::date!(2028 - 03 - 27),
    ),
];

const fn k(version: &'static str, end_of_standard: time::Date, end_of_extended: time::Date) -> KubernetesVersion {
    KubernetesVersion {
        version,
        end_of_standard,
        end_of_extended,
    }
}

/// Today (UTC), or the date `EKSTACK_TODAY` gives (YYYY-MM-DD), so tests and
/// snapshots do not change with the calendar.
pub fn today() -> time::Date {
    std::env::var("EKSTACK_TODAY")
        .ok()
        .and_then(|d| time::Date::parse(&d, time::macros::format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().date())
}

/// How EKS supports a version on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Standard,
    /// Extended support, until the date: the control plane bills more.
    Extended(time::Date),
    /// Past extended support: EKS no longer runs it.
    Ended(time::Date),
}

/// How EKS supports `version` on `day`; `None` for a version not in the calendar.
pub fn support(version: &str, day: time::Date) -> Option<Support> {
    let v = KUBERNETES_CALENDAR.iter().find(|v| v.version == version)?;
    Some(if day <= v.end_of_standard {
        Support::Standard
    } else if day <= v.end_of_extended {
        Support::Extended(v.end_of_extended)
    } else {
        Support::Ended(v.end_of_extended)
    })
}

/// The versions EKS runs on `day`, oldest first.
pub fn kubernetes_versions(day: time::Date) -> Vec<&'static str> {
    KUBERNETES_CALENDAR
        .iter()
        .filter(|v| day <= v.end_of_extended)
        .map(|v| v.version)
        .collect()
}

/// The newest version in standard support on `day`: the default.
pub fn default_kubernetes_version(day: time::Date) -> &'static str {
    KUBERNETES_CALENDAR
        .iter()
        .rev()
        .find(|v| day <= v.end_of_standard)
        .or(KUBERNETES_CALENDAR.last())
        .map(|v| v.version)
        .unwrap_or("1.35")
}

/// Major versions RDS offers per engine; a full version must start with one.
pub fn engine_majors(engine: super::model::Engine) -> &'static [&'static str] {
    use super::model::Engine;
    match engine {
        Engine::Postgres | Engine::AuroraPostgresql => &["13", "14", "15", "16", "17"],
        Engine::Mysql => &["8.0", "8.4"],
        Engine::AuroraMysql => &["8.0"],
    }
}

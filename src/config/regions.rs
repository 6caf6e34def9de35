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

/// Kubernetes versions EKS offers (standard and extended support).
pub const KUBERNETES_VERSIONS: &[&str] = &["1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35"];

/// Major versions RDS offers per engine; a full version must start with one.
pub fn engine_majors(engine: super::model::Engine) -> &'static [&'static str] {
    use super::model::Engine;
    match engine {
        Engine::Postgres | Engine::AuroraPostgresql => &["13", "14", "15", "16", "17"],
        Engine::Mysql => &["8.0", "8.4"],
        Engine::AuroraMysql => &["8.0"],
    }
}

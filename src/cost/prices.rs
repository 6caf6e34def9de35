//! The price table: AWS on-demand list prices per region, read from
//! `prices/aws.toml` (compiled in) and optionally overridden by a user's file.
//!
//! Prices live in a data file rather than in code so that they can be checked
//! against their recorded source, refreshed without touching logic, and
//! overridden by users whose prices differ (private pricing, other regions).
//! Every figure carries where it came from, so an estimate can say when a
//! number is itself an estimate.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// The built-in table. Kept beside the code in the repository so reviews see
/// price changes as plain diffs.
const BUILTIN: &str = include_str!("../../prices/aws.toml");

/// A group of prices in one region. The TOML tables of a region are named by
/// [`Section::as_str`]; keeping the set closed lets a user's file be checked
/// for typos instead of silently pricing nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Eks,
    Vpc,
    Ebs,
    Fargate,
    Ec2,
    RdsPostgres,
    RdsPostgresMultiAz,
    RdsMysql,
    RdsMysqlMultiAz,
    RdsStorage,
    AuroraPostgresql,
    AuroraMysql,
    Aurora,
    /// EKS Auto Mode's management fee, per instance-hour, by instance type.
    EksAutoMode,
    RdsProxy,
    /// ECR image storage.
    Ecr,
}

impl Section {
    pub const ALL: [Section; 16] = [
        Section::Eks,
        Section::Vpc,
        Section::Ebs,
        Section::Fargate,
        Section::Ec2,
        Section::RdsPostgres,
        Section::RdsPostgresMultiAz,
        Section::RdsMysql,
        Section::RdsMysqlMultiAz,
        Section::RdsStorage,
        Section::AuroraPostgresql,
        Section::AuroraMysql,
        Section::Aurora,
        Section::EksAutoMode,
        Section::RdsProxy,
        Section::Ecr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Section::Eks => "eks",
            Section::Vpc => "vpc",
            Section::Ebs => "ebs",
            Section::Fargate => "fargate",
            Section::Ec2 => "ec2",
            Section::RdsPostgres => "rds_postgres",
            Section::RdsPostgresMultiAz => "rds_postgres_multi_az",
            Section::RdsMysql => "rds_mysql",
            Section::RdsMysqlMultiAz => "rds_mysql_multi_az",
            Section::RdsStorage => "rds_storage",
            Section::AuroraPostgresql => "aurora_postgresql",
            Section::AuroraMysql => "aurora_mysql",
            Section::Aurora => "aurora",
            Section::EksAutoMode => "eks_auto_mode",
            Section::RdsProxy => "rds_proxy",
            Section::Ecr => "ecr",
        }
    }

    /// The item names a section with fixed items accepts; `None` for the
    /// sections keyed by instance type or class, which are open-ended.
    pub fn fixed_items(self) -> Option<&'static [&'static str]> {
        match self {
            Section::Eks => Some(&[item::EKS_CLUSTER_HOUR, item::EKS_EXTENDED_CLUSTER_HOUR]),
            Section::Vpc => Some(&[item::NAT_GATEWAY_HOUR, item::NAT_GATEWAY_GB, item::PUBLIC_IPV4_HOUR]),
            Section::Ebs => Some(&[item::GP3_GB_MONTH, item::SNAPSHOT_GB_MONTH]),
            Section::Fargate => Some(&[item::FARGATE_VCPU_HOUR, item::FARGATE_GB_HOUR]),
            Section::RdsProxy => Some(&[item::PROXY_VCPU_HOUR, item::PROXY_ACU_HOUR]),
            Section::Ecr => Some(&[item::STORAGE_GB_MONTH]),
            Section::RdsStorage => Some(&[
                item::GP2_GB_MONTH,
                item::GP3_GB_MONTH,
                item::GP2_MULTI_AZ_GB_MONTH,
                item::GP3_MULTI_AZ_GB_MONTH,
                item::BACKUP_GB_MONTH,
            ]),
            Section::Aurora => Some(&[
                item::ACU_HOUR,
                item::STORAGE_GB_MONTH,
                item::IO_PER_MILLION,
                item::BACKUP_GB_MONTH,
            ]),
            Section::Ec2
            | Section::RdsPostgres
            | Section::RdsPostgresMultiAz
            | Section::RdsMysql
            | Section::RdsMysqlMultiAz
            | Section::AuroraPostgresql
            | Section::AuroraMysql
            | Section::EksAutoMode => None,
        }
    }
}

/// Item names of the fixed sections, shared by the estimator and validation.
pub mod item {
    pub const EKS_CLUSTER_HOUR: &str = "cluster_hour";
    /// A control plane on a Kubernetes version in extended support.
    pub const EKS_EXTENDED_CLUSTER_HOUR: &str = "extended_support_cluster_hour";
    pub const NAT_GATEWAY_HOUR: &str = "nat_gateway_hour";
    pub const NAT_GATEWAY_GB: &str = "nat_gateway_gb";
    pub const PUBLIC_IPV4_HOUR: &str = "public_ipv4_hour";
    pub const GP3_GB_MONTH: &str = "gp3_gb_month";
    pub const GP2_GB_MONTH: &str = "gp2_gb_month";
    pub const GP3_MULTI_AZ_GB_MONTH: &str = "gp3_multi_az_gb_month";
    pub const GP2_MULTI_AZ_GB_MONTH: &str = "gp2_multi_az_gb_month";
    pub const SNAPSHOT_GB_MONTH: &str = "snapshot_gb_month";
    pub const BACKUP_GB_MONTH: &str = "backup_gb_month";
    pub const FARGATE_VCPU_HOUR: &str = "vcpu_hour";
    pub const FARGATE_GB_HOUR: &str = "gb_hour";
    pub const ACU_HOUR: &str = "serverless_v2_acu_hour";
    pub const STORAGE_GB_MONTH: &str = "storage_gb_month";
    pub const IO_PER_MILLION: &str = "io_per_million";
    pub const PROXY_VCPU_HOUR: &str = "vcpu_hour";
    pub const PROXY_ACU_HOUR: &str = "acu_hour";
}

/// One price with its provenance, after files are merged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceEntry {
    pub usd: f64,
    /// Derived rather than read from the source (a ratio, a factor, 2x).
    pub estimated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrieved: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Which file the figure came from: `builtin` or the user's path.
    pub origin: String,
}

/// The prices of one region, by section and item.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionPrices {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub sections: BTreeMap<Section, BTreeMap<String, PriceEntry>>,
}

/// All known prices. Built from the compiled-in table, optionally merged with
/// a user's file; lookups answer `None` for anything unknown so callers can
/// never mistake a missing price for a free resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PriceTable {
    pub regions: BTreeMap<String, RegionPrices>,
}

impl PriceTable {
    /// The table shipped in the binary.
    pub fn builtin() -> PriceTable {
        // The file is part of the source tree and covered by tests, so a parse
        // failure here is a build defect, not a user error.
        PriceTable::from_toml_str(BUILTIN, "builtin").expect("prices/aws.toml is a valid price table")
    }

    /// The built-in table with a user's file laid over it, entry by entry.
    pub fn load(path: &Path) -> anyhow::Result<PriceTable> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading price file {}", path.display()))?;
        let user = PriceTable::from_toml_str(&text, &path.display().to_string())
            .with_context(|| format!("in price file {}", path.display()))?;
        let mut table = PriceTable::builtin();
        table.merge(user);
        Ok(table)
    }

    /// Parses a table in the `prices/aws.toml` format. `origin` names the file
    /// in each entry so an estimate can tell the user which file a figure came from.
    pub fn from_toml_str(text: &str, origin: &str) -> anyhow::Result<PriceTable> {
        let file: PriceFile = toml::from_str(text)?;
        if let Some(meta) = &file.meta {
            if let Some(currency) = &meta.currency {
                if currency != "USD" {
                    bail!("currency is {currency:?}; ekstack prices are in USD only");
                }
            }
        }
        let mut table = PriceTable::default();
        for (code, region) in file.regions {
            let mut prices = RegionPrices {
                name: region.name.clone(),
                sections: BTreeMap::new(),
            };
            for (section, body) in region.sections() {
                let Some(body) = body else { continue };
                let entries = body
                    .into_entries(section, origin)
                    .with_context(|| format!("regions.\"{code}\".{}", section.as_str()))?;
                prices.sections.insert(section, entries);
            }
            table.regions.insert(code, prices);
        }
        Ok(table)
    }

    /// Lays `other` over `self`: each of its entries replaces the one with the
    /// same region, section and item; everything else is kept.
    pub fn merge(&mut self, other: PriceTable) {
        for (code, region) in other.regions {
            let mine = self.regions.entry(code).or_default();
            if region.name.is_some() {
                mine.name = region.name;
            }
            for (section, entries) in region.sections {
                mine.sections.entry(section).or_default().extend(entries);
            }
        }
    }

    /// One price, or `None` when the region, section or item is unknown.
    pub fn get(&self, region: &str, section: Section, item: &str) -> Option<&PriceEntry> {
        self.regions.get(region)?.sections.get(&section)?.get(item)
    }

    pub fn region_codes(&self) -> impl Iterator<Item = &str> {
        self.regions.keys().map(String::as_str)
    }
}

// ---- file format -----------------------------------------------------------
// Separate from the merged model because the file groups provenance per
// section while lookups want it per entry.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    #[serde(default)]
    meta: Option<FileMeta>,
    #[serde(default)]
    regions: BTreeMap<String, FileRegion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read for validation and documentation only
struct FileMeta {
    currency: Option<String>,
    hours_per_month: Option<f64>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRegion {
    name: Option<String>,
    eks: Option<FileSection>,
    vpc: Option<FileSection>,
    ebs: Option<FileSection>,
    fargate: Option<FileSection>,
    ec2: Option<FileSection>,
    rds_postgres: Option<FileSection>,
    rds_postgres_multi_az: Option<FileSection>,
    rds_mysql: Option<FileSection>,
    rds_mysql_multi_az: Option<FileSection>,
    rds_storage: Option<FileSection>,
    aurora_postgresql: Option<FileSection>,
    aurora_mysql: Option<FileSection>,
    aurora: Option<FileSection>,
    eks_auto_mode: Option<FileSection>,
    rds_proxy: Option<FileSection>,
    ecr: Option<FileSection>,
}

impl FileRegion {
    fn sections(self) -> [(Section, Option<FileSection>); 16] {
        [
            (Section::Eks, self.eks),
            (Section::Vpc, self.vpc),
            (Section::Ebs, self.ebs),
            (Section::Fargate, self.fargate),
            (Section::Ec2, self.ec2),
            (Section::RdsPostgres, self.rds_postgres),
            (Section::RdsPostgresMultiAz, self.rds_postgres_multi_az),
            (Section::RdsMysql, self.rds_mysql),
            (Section::RdsMysqlMultiAz, self.rds_mysql_multi_az),
            (Section::RdsStorage, self.rds_storage),
            (Section::AuroraPostgresql, self.aurora_postgresql),
            (Section::AuroraMysql, self.aurora_mysql),
            (Section::Aurora, self.aurora),
            (Section::EksAutoMode, self.eks_auto_mode),
            (Section::RdsProxy, self.rds_proxy),
            (Section::Ecr, self.ecr),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSection {
    source: Option<String>,
    retrieved: Option<String>,
    #[serde(default)]
    estimated: bool,
    #[serde(default)]
    estimated_items: Vec<String>,
    note: Option<String>,
    #[serde(default)]
    prices: BTreeMap<String, f64>,
}

impl FileSection {
    fn into_entries(self, section: Section, origin: &str) -> anyhow::Result<BTreeMap<String, PriceEntry>> {
        if let Some(allowed) = section.fixed_items() {
            for name in self.prices.keys() {
                if !allowed.contains(&name.as_str()) {
                    bail!("unknown price {name:?}; this section takes {}", allowed.join(", "));
                }
            }
        }
        for name in &self.estimated_items {
            if !self.prices.contains_key(name) {
                bail!("estimated_items names {name:?}, which has no price in this section");
            }
        }
        let mut entries = BTreeMap::new();
        for (name, usd) in self.prices {
            // A negative or NaN price would silently corrupt every total.
            if !usd.is_finite() || usd < 0.0 {
                bail!("price {name:?} = {usd} is not a non-negative number");
            }
            let estimated = self.estimated || self.estimated_items.contains(&name);
            entries.insert(
                name,
                PriceEntry {
                    usd,
                    estimated,
                    source: self.source.clone(),
                    retrieved: self.retrieved.clone(),
                    note: self.note.clone(),
                    origin: origin.to_string(),
                },
            );
        }
        Ok(entries)
    }
}

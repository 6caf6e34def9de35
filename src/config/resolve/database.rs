//! The `[database]` table: one RDS instance (single-AZ or Multi-AZ) or an
//! Aurora cluster, with `[database.serverless]` for Aurora Serverless v2.
//! The engine decides which keys apply, so it is resolved first and the rest
//! is checked against it.

use std::collections::BTreeMap;

use super::checks::{check_db_word, is_db_class, version_has_prefix};
use super::{loc, All, Reported, Resolver};
use crate::config::db_parameters::{is_parameter_name, known, misfit};
use crate::config::model::{Database, Engine, Parameter, Serverless};
use crate::config::raw::{RawDatabase, RawServerless};
use crate::config::regions;
use crate::config::source::Located;

const RESERVED_DB_USERNAMES: &[&str] = &[
    "rdsadmin",
    "rdsrepladmin",
    "rds_superuser",
    "rds_replication",
    "rds_password",
];
const RESERVED_DB_NAMES: &[&str] = &[
    "postgres",
    "template0",
    "template1",
    "rdsadmin",
    "mysql",
    "sys",
    "information_schema",
    "performance_schema",
];

impl Resolver {
    pub(super) fn database(&mut self, d: &RawDatabase) -> Result<Database, Reported> {
        // Every other rule depends on the engine: nothing more is checked without one.
        let engine = match &d.engine {
            None => Engine::Postgres,
            Some(e) => self.variant("database.engine", e)?,
        };
        let aurora = engine.is_aurora();

        let version = match &d.version {
            None => Ok(match engine {
                Engine::Postgres | Engine::AuroraPostgresql => "16".to_string(),
                Engine::Mysql | Engine::AuroraMysql => "8.0".to_string(),
            }),
            Some(v) => {
                let majors = regions::engine_majors(engine);
                if majors.iter().any(|m| version_has_prefix(&v.value, m)) {
                    Ok(v.value.clone())
                } else {
                    Err(self.error(
                        "database.version",
                        format!(
                            "\"{}\" is not a {} version RDS offers (majors: {})",
                            v.value,
                            engine.as_str(),
                            majors.join(", ")
                        ),
                        loc(v),
                    ))
                }
            }
        };

        // The class as written: the serverless rule below reads it even when
        // it breaks a rule of its own.
        let serverless_section = d.serverless.as_ref();
        let (class, class_fits) = match &d.class {
            None if serverless_section.is_some() => ("db.serverless".to_string(), Ok(())),
            None if aurora => ("db.t4g.medium".to_string(), Ok(())),
            None => ("db.t4g.micro".to_string(), Ok(())),
            Some(c) => (c.value.clone(), self.class(c, aurora)),
        };

        let serverless = match serverless_section {
            Some(_) if class != "db.serverless" => Err(self.error(
                "database.serverless",
                format!("applies only with class = \"db.serverless\" (class is \"{class}\")"),
                self.table("database.serverless"),
            )),
            Some(s) => self.serverless(s).map(Some),
            None if class == "db.serverless" => Ok(Some(Serverless {
                min_acu: 0.5,
                max_acu: 4.0,
            })),
            None => Ok(None),
        };

        let storage_gib = match (&d.storage_gib, aurora) {
            (Some(s), true) => Err(self.error(
                "database.storage_gib",
                "does not apply to Aurora, whose storage grows by itself",
                loc(s),
            )),
            (None, true) => Ok(None),
            (None, false) => Ok(Some(20)),
            (Some(s), false) => self.int_in("database.storage_gib", s, 20, 65536).map(Some),
        };
        let multi_az = match (&d.multi_az, aurora) {
            (Some(m), true) => Err(self.error("database.multi_az", "does not apply to Aurora; its storage is always replicated across AZs, and `instances = 2` or more adds a standby reader", loc(m))),
            (Some(m), false) => Ok(m.value),
            (None, _) => Ok(false),
        };
        let instances = match (&d.instances, aurora) {
            (Some(i), false) => Err(self.error(
                "database.instances",
                format!(
                    "applies only to Aurora; for {} use multi_az = true for a standby",
                    engine.as_str()
                ),
                loc(i),
            )),
            (Some(i), true) => self.int_in("database.instances", i, 1, 16),
            (None, _) => Ok(1),
        };
        let backup_retention_days = match &d.backup_retention_days {
            None => Ok(7),
            Some(b) => {
                let min = if aurora { 1 } else { 0 };
                self.int_in("database.backup_retention_days", b, min, 35)
            }
        };
        let username = match &d.username {
            None => Ok("app".to_string()),
            Some(u) => {
                let max = if engine.is_postgres() { 63 } else { 16 };
                self.db_word("database.username", u, max, RESERVED_DB_USERNAMES, "RDS")
            }
        };
        let db_name = match &d.db_name {
            None => Ok("app".to_string()),
            Some(n) => {
                let max = if engine.is_postgres() { 63 } else { 64 };
                self.db_word("database.db_name", n, max, RESERVED_DB_NAMES, "the database engine")
            }
        };
        // Performance Insights is not offered on the smallest MySQL classes
        // ("Amazon RDS DB engine, Region, and instance class support for
        // Performance Insights", and its Aurora counterpart).
        let insights = match &d.performance_insights {
            Some(p) if p.value && !performance_insights_offered(engine, &class) => Err(self.error_help(
                "database.performance_insights",
                format!("Performance Insights is not offered for {} on {class}", engine.as_str()),
                loc(p),
                Some("turn it off, or use a larger class (for example db.t4g.medium or an m class)".into()),
            )),
            _ => Ok(()),
        };
        // Scaling to 0 ACUs (auto-pause) needs an engine version that has it
        // ("Scaling to Zero ACUs with automatic pause and resume for Aurora
        // Serverless v2").
        let pause = match (&serverless, &version) {
            (Ok(Some(sv)), Ok(v)) if sv.min_acu == 0.0 && !auto_pause_offered(engine, v) => Err(self.error_help(
                "database.serverless.min_acu",
                format!("0 ACUs (auto-pause) needs Aurora PostgreSQL 13.15, 14.12, 15.7, 16.3 or later, or Aurora MySQL 3.08.0 or later; {} {v} has not got it", engine.as_str()),
                self.table("database.serverless"),
                Some("set min_acu = 0.5, or a newer database.version".into()),
            )),
            _ => Ok(()),
        };
        let replicas = match (&d.replicas, aurora) {
            (Some(r), true) if r.value > 0 => Err(self.error_help(
                "database.replicas",
                "does not apply to Aurora, whose readers share the cluster's storage",
                loc(r),
                Some(format!(
                    "set database.instances = {} (a writer and {} readers)",
                    r.value + 1,
                    r.value
                )),
            )),
            (Some(r), false) => self
                .int_in("database.replicas", r, 0, crate::config::model::MAX_READ_REPLICAS)
                .map(|n| n as u32),
            _ => Ok(0),
        };
        // RDS makes a replica from the source's automated backups
        // ("Working with DB instance read replicas": backups must be on).
        let replicas = match (replicas, &backup_retention_days) {
            (Ok(n), Ok(0)) if n > 0 => Err(self.error_help(
                "database.replicas",
                "read replicas need automated backups on the primary, but backup_retention_days = 0",
                d.replicas.as_ref().and_then(loc),
                Some("set database.backup_retention_days = 1 or more".into()),
            )),
            (r, _) => r,
        };
        let replica_class = match (&d.replica_class, aurora) {
            (Some(c), true) => Err(self.error(
                "database.replica_class",
                "does not apply to Aurora; its readers take database.class",
                loc(c),
            )),
            (Some(c), false) => self
                .instance_class("database.replica_class", c, false)
                .map(|()| Some(c.value.clone())),
            (None, _) => Ok(None),
        };
        let proxy = match &d.proxy {
            None => Ok(None),
            Some(p) => self.proxy(p, engine, &version).map(Some),
        };
        let parameters = self.parameters("database.parameters", d.parameters.as_ref(), engine);
        let instance_parameters = match (&d.instance_parameters, aurora) {
            (Some(_), false) => Err(self.error_help(
                "database.instance_parameters",
                "applies only to Aurora, whose instances have a parameter group of their own",
                self.table("database.instance_parameters"),
                Some("put these entries in [database.parameters]".into()),
            )),
            (p, _) => self.parameters("database.instance_parameters", p.as_ref(), engine),
        };
        let offered = (insights, pause).all().map(|((), ())| ());
        let (replicas, replica_class, proxy) = (replicas, replica_class, proxy).all()?;
        let (parameters, instance_parameters) = (parameters, instance_parameters).all()?;
        let (version, (), (), serverless, storage_gib, multi_az, instances, backup_retention_days, username, db_name) =
            (
                version,
                class_fits,
                offered,
                serverless,
                storage_gib,
                multi_az,
                instances,
                backup_retention_days,
                username,
                db_name,
            )
                .all()?;
        Ok(Database {
            engine,
            version,
            class,
            storage_gib,
            multi_az,
            instances,
            backup_retention_days,
            deletion_protection: d.deletion_protection.as_ref().map(|v| v.value).unwrap_or(false),
            final_snapshot: d.final_snapshot.as_ref().map(|v| v.value).unwrap_or(true),
            performance_insights: d.performance_insights.as_ref().map(|v| v.value).unwrap_or(false),
            username,
            db_name,
            serverless,
            replicas,
            replica_class,
            proxy,
            parameters,
            instance_parameters,
        })
    }

    /// `[database.parameters]` or `[database.instance_parameters]`: each
    /// value a string, number or boolean, as RDS stores it (a string;
    /// booleans are 1 and 0), of the type the table of well-known
    /// parameters gives.
    fn parameters(
        &mut self,
        table: &str,
        raw: Option<&BTreeMap<String, Located<toml::Value>>>,
        engine: Engine,
    ) -> Result<BTreeMap<String, Parameter>, Reported> {
        let checked: Vec<Result<(String, Parameter), Reported>> = raw
            .into_iter()
            .flatten()
            .map(|(name, v)| {
                let key = parameter_key(table, name);
                if !is_parameter_name(name) {
                    return Err(self.error(
                        key,
                        "is not a parameter name: letters, digits, `_`, `.`, `-` and `:`, starting with a letter",
                        loc(v),
                    ));
                }
                let value = match &v.value {
                    toml::Value::String(s) if s.is_empty() => Err("is empty; leave the parameter out to keep the engine's default".to_string()),
                    toml::Value::String(s) => Ok(s.clone()),
                    toml::Value::Integer(n) => Ok(n.to_string()),
                    toml::Value::Float(f) => Ok(f.to_string()),
                    toml::Value::Boolean(b) => Ok(if *b { "1" } else { "0" }.to_string()),
                    other => Err(format!(
                        "is {}; a parameter's value is a string, a number or a boolean (a list parameter is one comma-separated string: \"pg_stat_statements,auto_explain\")",
                        toml_type(other)
                    )),
                };
                let value = value.and_then(|value| match known(engine, name).and_then(|t| misfit(t, &value)) {
                    Some(why) => Err(why),
                    None => Ok(value),
                });
                match value {
                    Ok(value) => Ok((name.clone(), Parameter { value, apply: None })),
                    Err(why) => Err(self.error(key, why, loc(v))),
                }
            })
            .collect();
        super::collect_all(checked)
    }

    /// `[database.proxy]`: its limits ("CreateDBProxy" and
    /// "ModifyDBProxyTargetGroup", RDS API reference) and the engines RDS
    /// Proxy serves ("Supported Regions and DB engines for Amazon RDS Proxy").
    fn proxy(
        &mut self,
        p: &crate::config::raw::RawProxy,
        engine: Engine,
        version: &Result<String, Reported>,
    ) -> Result<crate::config::model::Proxy, Reported> {
        let idle = match &p.idle_client_timeout_s {
            None => Ok(1800),
            Some(v) => self.int_in("database.proxy.idle_client_timeout_s", v, 1, 28800),
        };
        let max = match &p.max_connections_percent {
            None => Ok(90),
            Some(v) => self.int_in("database.proxy.max_connections_percent", v, 1, 100),
        };
        let served = match version {
            Ok(v) => match proxy_refuses(engine, v) {
                Some(why) => Err(self.error_help(
                    "database.proxy",
                    why,
                    self.table("database.proxy"),
                    Some("use a version RDS Proxy serves, or remove [database.proxy]".into()),
                )),
                None => Ok(()),
            },
            Err(_) => Ok(()),
        };
        let (idle, max, ()) = (idle, max, served).all()?;
        Ok(crate::config::model::Proxy {
            idle_client_timeout_s: idle,
            max_connections_percent: max,
        })
    }

    /// An instance class the engine offers.
    fn class(&mut self, c: &Located<String>, aurora: bool) -> Result<(), Reported> {
        self.instance_class("database.class", c, aurora)
    }

    /// An instance class the engine offers, under `key`.
    fn instance_class(&mut self, key: &str, c: &Located<String>, aurora: bool) -> Result<(), Reported> {
        if c.value == "db.serverless" {
            self.require(
                aurora,
                key,
                "\"db.serverless\" is Aurora Serverless v2; it needs engine \"aurora-postgresql\" or \"aurora-mysql\"",
                loc(c),
            )
        } else if !is_db_class(&c.value) {
            Err(self.error(
                key,
                format!("\"{}\" is not an RDS instance class like \"db.t4g.micro\"", c.value),
                loc(c),
            ))
        } else if aurora && (c.value.ends_with(".micro") || c.value.ends_with(".small")) {
            Err(self.error(key, format!("Aurora does not offer \"{}\"; the smallest classes are db.t3.medium and db.t4g.medium, or use \"db.serverless\"", c.value), loc(c)))
        } else {
            Ok(())
        }
    }

    /// A user or database name: a word of the engine's, not one it reserves.
    fn db_word(
        &mut self,
        key: &str,
        word: &Located<String>,
        max: usize,
        reserved: &[&str],
        reserved_by: &str,
    ) -> Result<String, Reported> {
        if let Err(rule) = check_db_word(&word.value, max) {
            Err(self.error(key, rule, loc(word)))
        } else if reserved.contains(&word.value.to_ascii_lowercase().as_str()) {
            Err(self.error(
                key,
                format!("\"{}\" is reserved by {reserved_by}", word.value),
                loc(word),
            ))
        } else {
            Ok(word.value.clone())
        }
    }

    fn serverless(&mut self, s: &RawServerless) -> Result<Serverless, Reported> {
        let table_at = self.table("database.serverless");
        let min_acu = self.acu("database.serverless.min_acu", s.min_acu.as_ref(), 0.5, 0.0);
        let max_acu = self.acu("database.serverless.max_acu", s.max_acu.as_ref(), 4.0, 1.0);
        let (min_acu, max_acu) = (min_acu, max_acu).all()?;
        let ordered = self.require(
            min_acu <= max_acu,
            "database.serverless.min_acu",
            format!("min_acu ({min_acu}) must not exceed max_acu ({max_acu})"),
            s.min_acu.as_ref().map(|l| l.at()).or(table_at),
        );
        ordered.map(|()| Serverless { min_acu, max_acu })
    }

    /// Aurora capacity units: `min` to 256 in steps of 0.5.
    fn acu(&mut self, key: &str, value: Option<&Located<f64>>, default: f64, min: f64) -> Result<f64, Reported> {
        let Some(v) = value else {
            return Ok(default);
        };
        if !(min..=256.0).contains(&v.value) || (v.value * 2.0).fract() != 0.0 {
            Err(self.error(
                key,
                format!("must be between {min} and 256 in steps of 0.5, not {}", v.value),
                loc(v),
            ))
        } else {
            Ok(v.value)
        }
    }
}

/// Why RDS Proxy does not serve `engine` at `version`, if it does not
/// ("Supported Regions and DB engines for Amazon RDS Proxy" and its Aurora
/// counterpart): RDS for PostgreSQL from 11, RDS for MySQL 5.7 and later,
/// Aurora PostgreSQL from 11.9 (12 from 12.4), Aurora MySQL 2.07 or 2.11
/// and later and 3.01.0 and later.
pub fn proxy_refuses(engine: Engine, version: &str) -> Option<String> {
    let parts: Vec<u32> = version.split(['.', '_']).filter_map(|p| p.parse().ok()).collect();
    let refused = match engine {
        Engine::Postgres => parts.first().is_some_and(|m| *m < 11),
        Engine::AuroraPostgresql => match (parts.first(), parts.get(1)) {
            (Some(11), Some(minor)) => *minor < 9,
            (Some(12), Some(minor)) => *minor < 4,
            (Some(m), _) => *m < 11,
            _ => false,
        },
        Engine::Mysql => false,
        // "8.0.mysql_aurora.3.01.0": the Aurora version follows the MySQL one.
        Engine::AuroraMysql => {
            let aurora: Vec<u32> = version
                .split("mysql_aurora.")
                .nth(1)
                .map(|v| v.split('.').filter_map(|p| p.parse().ok()).collect())
                .unwrap_or_default();
            match (aurora.first(), aurora.get(1)) {
                (Some(3), Some(minor)) => *minor < 1,
                (Some(2), Some(minor)) => *minor < 7 || (8..=10).contains(minor),
                _ => false,
            }
        }
    };
    refused.then(|| format!("RDS Proxy does not serve {} {version}", engine.as_str()))
}

/// Whether Performance Insights is offered for `engine` on `class`: not for
/// RDS for MySQL on db.t2/t3/t4g micro and small, nor for Aurora MySQL on
/// db.t2, db.t3, or db.t4g micro and small.
pub fn performance_insights_offered(engine: Engine, class: &str) -> bool {
    let small = class.ends_with(".micro") || class.ends_with(".small");
    let family = class.trim_start_matches("db.").split('.').next().unwrap_or("");
    match engine {
        Engine::Mysql => !(small && matches!(family, "t2" | "t3" | "t4g")),
        Engine::AuroraMysql => !(matches!(family, "t2" | "t3") || (family == "t4g" && small)),
        _ => true,
    }
}

/// Whether an Aurora engine version can scale to 0 ACUs. A major only
/// (`16`) gets AWS's current minor, which can.
pub fn auto_pause_offered(engine: Engine, version: &str) -> bool {
    let numbers = |v: &str| -> Vec<u32> { v.split('.').filter_map(|p| p.parse().ok()).collect() };
    match engine {
        Engine::AuroraPostgresql => {
            let v = numbers(version);
            match v.as_slice() {
                [_] => true,
                [major, minor, ..] => match major {
                    13 => *minor >= 15,
                    14 => *minor >= 12,
                    15 => *minor >= 7,
                    16 => *minor >= 3,
                    m => *m > 16,
                },
                _ => false,
            }
        }
        // Aurora MySQL versions read `8.0.mysql_aurora.3.08.0`.
        Engine::AuroraMysql => match version.split_once("mysql_aurora.") {
            None => true,
            Some((_, aurora)) => numbers(aurora) >= vec![3, 8, 0],
        },
        _ => false,
    }
}

/// How an error names a parameter: `database.parameters."rds.force_ssl"`.
pub fn parameter_key(table: &str, name: &str) -> String {
    if name.contains('.') || name.contains(':') {
        format!("{table}.\"{name}\"")
    } else {
        format!("{table}.{name}")
    }
}

fn toml_type(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
        toml::Value::Datetime(_) => "a date",
        _ => "a value",
    }
}

#[cfg(test)]
mod proxy_tests {
    use super::*;

    /// The versions RDS Proxy serves, from its support tables.
    #[test]
    fn proxy_serves_the_documented_versions() {
        assert!(proxy_refuses(Engine::Postgres, "16").is_none());
        assert!(proxy_refuses(Engine::Postgres, "10.21").is_some());
        assert!(proxy_refuses(Engine::AuroraPostgresql, "11.8").is_some());
        assert!(proxy_refuses(Engine::AuroraPostgresql, "11.9").is_none());
        assert!(proxy_refuses(Engine::AuroraPostgresql, "12.3").is_some());
        assert!(proxy_refuses(Engine::AuroraMysql, "8.0.mysql_aurora.3.05.2").is_none());
        assert!(proxy_refuses(Engine::AuroraMysql, "5.7.mysql_aurora.2.09.1").is_some());
        assert!(proxy_refuses(Engine::AuroraMysql, "5.7.mysql_aurora.2.11.2").is_none());
        assert!(proxy_refuses(Engine::Mysql, "8.4").is_none());
    }
}

//! Engine parameter values as RDS types them ("Parameter", RDS API
//! Reference: `DataType` and `AllowedValues`), and the types of the
//! parameters people set most, so that `validate` catches a wrong value
//! before any AWS call. Plan checks every name and value again against
//! what DescribeEngineDefaultParameters says of the engine's family.

use super::model::Engine;

/// A parameter's type and allowed values as DescribeEngineDefaultParameters
/// reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typed<'a> {
    /// `boolean`, `integer`, `float` (PostgreSQL says `real`), `string` or `list`.
    pub data_type: &'a str,
    /// `0-1`, `-1-2147483647`, `none,ddl,mod,all`; empty when anything goes.
    pub allowed: &'a str,
}

/// Parameters most stacks set, by engine family, with their types as the
/// default parameter groups of current versions report them. A name not
/// here is still checked at plan time.
const KNOWN_POSTGRES: &[(&str, Typed<'static>)] = &[
    ("rds.force_ssl", t("boolean", "0-1")),
    ("rds.logical_replication", t("boolean", "0-1")),
    ("max_connections", t("integer", "6-8388607")),
    ("shared_buffers", t("integer", "16-1073741823")),
    ("work_mem", t("integer", "64-2147483647")),
    ("maintenance_work_mem", t("integer", "1024-2147483647")),
    ("log_min_duration_statement", t("integer", "-1-2147483647")),
    ("statement_timeout", t("integer", "0-2147483647")),
    ("idle_in_transaction_session_timeout", t("integer", "0-2147483647")),
    ("log_statement", t("string", "none,ddl,mod,all")),
    ("log_connections", t("boolean", "0,1")),
    ("log_disconnections", t("boolean", "0,1")),
    ("track_io_timing", t("boolean", "0,1")),
    ("random_page_cost", t("real", "0-2147483647")),
    ("shared_preload_libraries", t("list", "")),
    ("pg_stat_statements.track", t("string", "none,top,all")),
    ("timezone", t("string", "")),
];

const KNOWN_MYSQL: &[(&str, Typed<'static>)] = &[
    ("require_secure_transport", t("boolean", "0,1")),
    ("max_connections", t("integer", "1-100000")),
    ("slow_query_log", t("boolean", "0,1")),
    ("general_log", t("boolean", "0,1")),
    ("long_query_time", t("float", "0-31536000")),
    ("innodb_buffer_pool_size", t("integer", "5242880-18446744073709551615")),
    ("wait_timeout", t("integer", "1-31536000")),
    ("max_allowed_packet", t("integer", "1024-1073741824")),
    ("binlog_format", t("string", "ROW,STATEMENT,MIXED")),
    ("character_set_server", t("string", "")),
    ("time_zone", t("string", "")),
];

const fn t(data_type: &'static str, allowed: &'static str) -> Typed<'static> {
    Typed { data_type, allowed }
}

/// The type of a parameter this table knows for `engine`.
pub fn known(engine: Engine, name: &str) -> Option<Typed<'static>> {
    let table = if engine.is_postgres() {
        KNOWN_POSTGRES
    } else {
        KNOWN_MYSQL
    };
    table.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Why `value` does not fit the type, or `None` when it does. Values in
/// braces are RDS formulas (`{DBInstanceClassMemory/9531392}`), evaluated
/// by RDS, and are not checked here.
pub fn misfit(typed: Typed<'_>, value: &str) -> Option<String> {
    if value.starts_with('{') && value.ends_with('}') {
        return None;
    }
    let numeric = match typed.data_type {
        "boolean" => {
            if value != "0" && value != "1" {
                return Some(format!(
                    "is a boolean, written 1 or 0 (or true or false), not \"{value}\""
                ));
            }
            value.parse::<f64>().ok()
        }
        "integer" => match value.parse::<i128>() {
            Ok(n) => Some(n as f64),
            Err(_) => return Some(format!("is an integer, not \"{value}\"")),
        },
        "float" | "real" => match value.parse::<f64>() {
            Ok(n) => Some(n),
            Err(_) => return Some(format!("is a number, not \"{value}\"")),
        },
        _ => None,
    };
    if typed.allowed.is_empty() {
        return None;
    }
    if let (Some(n), Some((min, max))) = (numeric, range(typed.allowed)) {
        return (n < min || n > max).then(|| format!("must be within {}, not {value}", typed.allowed));
    }
    if range(typed.allowed).is_some() {
        return None;
    }
    let choices: Vec<&str> = typed.allowed.split(',').map(str::trim).collect();
    let items: Vec<&str> = if typed.data_type == "list" {
        value.split(',').map(str::trim).collect()
    } else {
        vec![value]
    };
    let wrong: Vec<&str> = items
        .into_iter()
        .filter(|i| !choices.iter().any(|c| c.eq_ignore_ascii_case(i)))
        .collect();
    (!wrong.is_empty()).then(|| format!("must be one of {}, not \"{}\"", typed.allowed, wrong.join(",")))
}

/// `min-max` of a numeric range such as `-1-2147483647` or `0-1`.
fn range(allowed: &str) -> Option<(f64, f64)> {
    let body = allowed.strip_prefix('-').unwrap_or(allowed);
    let (a, b) = body.split_once('-')?;
    let min: f64 = a.parse().ok()?;
    let max: f64 = b.parse().ok()?;
    Some((if allowed.starts_with('-') { -min } else { min }, max))
}

/// Whether a name can be an RDS parameter's: letters, digits, `_`, `.`,
/// `-` and `:`, starting with a letter or `_`.
pub fn is_parameter_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_against_type_and_range() {
        let b = t("boolean", "0-1");
        assert_eq!(misfit(b, "1"), None);
        assert!(misfit(b, "yes").is_some());
        let i = t("integer", "-1-2147483647");
        assert_eq!(misfit(i, "-1"), None);
        assert_eq!(misfit(i, "500"), None);
        assert!(misfit(i, "-2").unwrap().contains("within"));
        assert!(misfit(i, "5s").unwrap().contains("integer"));
        assert_eq!(misfit(i, "{DBInstanceClassMemory/9531392}"), None);
        let e = t("string", "none,ddl,mod,all");
        assert_eq!(misfit(e, "ddl"), None);
        assert!(misfit(e, "some").unwrap().contains("one of"));
        let l = t("list", "pg_stat_statements,pg_cron,auto_explain");
        assert_eq!(misfit(l, "pg_stat_statements,pg_cron"), None);
        assert!(misfit(l, "pg_stat_statements,timescaledb")
            .unwrap()
            .contains("timescaledb"));
        assert_eq!(misfit(t("real", "0-2147483647"), "1.1"), None);
    }

    #[test]
    fn names() {
        assert!(is_parameter_name("rds.force_ssl"));
        assert!(is_parameter_name("pg_stat_statements.track"));
        assert!(!is_parameter_name("9lives"));
        assert!(!is_parameter_name("a b"));
    }
}

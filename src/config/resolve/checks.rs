//! Format checks shared by the sections: names that become AWS or Kubernetes
//! names (stacks, node groups, namespaces, labels, database words), EC2 and
//! RDS instance types, and version prefixes. Plain functions over strings, so
//! each section phrases its own error around them.

pub fn check_stack_name(name: &str) -> Result<(), String> {
    let valid_chars = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_chars || name.len() > 20 {
        return Err(format!("\"{name}\" must match [a-z][a-z0-9-]{{0,19}}: a lowercase letter, then up to 19 lowercase letters, digits or '-'"));
    }
    // The database identifier is `<name>-db`, and RDS forbids "--" anywhere.
    if name.ends_with('-') || name.contains("--") {
        return Err(format!(
            "\"{name}\" must not end with '-' or contain \"--\" (RDS identifiers derived from it forbid both)"
        ));
    }
    Ok(())
}

/// Node group and Fargate profile names become AWS names as they are.
pub(super) fn check_aws_child_name(name: &str) -> Result<(), String> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 50;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name \"{name}\" must start with a letter or digit and use at most 50 letters, digits, '-' or '_'"
        ))
    }
}

pub(super) fn check_db_word(word: &str, max: usize) -> Result<(), String> {
    let ok = word.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && word.len() <= max;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{word}\" must start with a letter and use at most {max} letters, digits or '_'"
        ))
    }
}

pub(super) fn is_instance_type(t: &str) -> bool {
    let mut parts = t.split('.');
    let (Some(family), Some(size), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    family.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && family.chars().any(|c| c.is_ascii_digit())
        && is_instance_size(size)
}

/// The sizes EC2 and RDS name: nano … large, xlarge, 2xlarge … 48xlarge,
/// metal and metal-24xl.
fn is_instance_size(size: &str) -> bool {
    const NAMED: &[&str] = &["nano", "micro", "small", "medium", "large", "xlarge", "metal"];
    if NAMED.contains(&size) {
        return true;
    }
    let multiple = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && !n.starts_with('0');
    size.strip_suffix("xlarge").is_some_and(multiple)
        || size
            .strip_prefix("metal-")
            .and_then(|s| s.strip_suffix("xl"))
            .is_some_and(multiple)
}

pub(super) fn is_db_class(c: &str) -> bool {
    c.strip_prefix("db.").is_some_and(is_instance_type)
}

pub(super) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub(super) fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

pub(super) fn is_label_key(k: &str) -> bool {
    match k.split_once('/') {
        Some((prefix, name)) => prefix.len() <= 253 && prefix.split('.').all(is_dns_label) && is_label_name(name),
        None => is_label_name(k),
    }
}

/// "16.4" has the prefix "16"; "160" does not.
pub fn version_has_prefix(version: &str, prefix: &str) -> bool {
    version == prefix || version.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
}

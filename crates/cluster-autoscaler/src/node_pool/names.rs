//! Syntax checks for the names a pool file contains, following the Kubernetes rules where they apply.

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// A pool name: a DNS label (lowercase alphanumerics and `-`, ≤ 63, alphanumeric at both ends),
/// because it becomes an ASG tag value, a node label value and a metrics label.
pub(super) fn check_pool_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid pool name (lowercase letters, digits and '-', at most 63, no '-' at either end)"
        ))
    }
}

/// An EC2 instance type such as `m6i.2xlarge`: `family.size`, lowercase alphanumerics and `-`.
pub(super) fn check_instance_type(name: &str) -> Result<(), String> {
    let valid_part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    match name.split_once('.') {
        Some((family, size)) if valid_part(family) && valid_part(size) => Ok(()),
        _ => Err(format!(
            "{name:?} is not an EC2 instance type like m6i.2xlarge"
        )),
    }
}

/// The name part of a qualified name: ≤ 63, alphanumerics with `-`, `_`, `.` inside.
fn check_name_part(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 63
        && part.starts_with(is_alnum)
        && part.ends_with(is_alnum)
        && part
            .chars()
            .all(|c| is_alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// A DNS subdomain (label key prefix): ≤ 253, dot-separated lowercase DNS labels.
fn check_dns_subdomain(prefix: &str) -> bool {
    prefix.len() <= 253
        && prefix.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A label (or taint) key: `[prefix/]name` as Kubernetes qualified names are.
pub(crate) fn check_label_key(key: &str) -> Result<(), String> {
    let ok = match key.split_once('/') {
        Some((prefix, name)) => check_dns_subdomain(prefix) && check_name_part(name),
        None => check_name_part(key),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{key:?} is not a valid Kubernetes label key ([dns-prefix/]name, name at most 63 characters)"
        ))
    }
}

/// A label (or taint) value: empty, or a name part.
pub(crate) fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || check_name_part(value) {
        Ok(())
    } else {
        Err(format!(
            "{value:?} is not a valid Kubernetes label value (at most 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends)"
        ))
    }
}

/// An availability zone name such as `eu-central-1a` or a local zone such as `us-west-2-lax-1a`:
/// lowercase dash-separated parts, a region number, then the zone letter.
pub(super) fn check_zone(zone: &str) -> Result<(), String> {
    let parts: Vec<&str> = zone.split('-').collect();
    let last = parts.last().copied().unwrap_or("");
    let digits = last.trim_end_matches(|c: char| c.is_ascii_lowercase());
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && !digits.is_empty()
        && digits.len() < last.len()
        && digits.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{zone:?} is not an availability zone name like eu-central-1a"
        ))
    }
}

/// The region of an availability zone: the zone name without its trailing letters
/// (`eu-central-1a` → `eu-central-1`); for local zones (`us-west-2-lax-1a`) the first three parts.
pub fn region_of_zone(zone: &str) -> String {
    let parts: Vec<&str> = zone.split('-').collect();
    if parts.len() > 3 {
        return parts[..3].join("-");
    }
    zone.trim_end_matches(|c: char| c.is_ascii_lowercase())
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_follow_kubernetes_rules() {
        assert!(check_label_key("aws.amazon.com/spot").is_ok());
        assert!(check_label_key("dedicated").is_ok());
        assert!(check_label_key("zalando.org/dedicated").is_ok());
        assert!(check_label_key("Bad Key").is_err());
        assert!(check_label_key("/name").is_err());
        assert!(check_label_key("UPPER.com/x").is_err());
        assert!(check_label_key(&"a".repeat(64)).is_err());
    }

    #[test]
    fn zones_and_regions() {
        assert!(check_zone("eu-central-1a").is_ok());
        assert!(check_zone("us-west-2-lax-1a").is_ok());
        assert!(check_zone("eu-central-1").is_err());
        assert!(check_zone("central").is_err());
        assert!(check_zone("EU-central-1a").is_err());
        assert_eq!(region_of_zone("eu-central-1a"), "eu-central-1");
        assert_eq!(region_of_zone("us-west-2-lax-1a"), "us-west-2");
    }

    #[test]
    fn instance_type_names() {
        assert!(check_instance_type("m6i.2xlarge").is_ok());
        assert!(check_instance_type("u-6tb1.metal").is_ok());
        assert!(check_instance_type("m6i").is_err());
        assert!(check_instance_type("M6i.large").is_err());
    }
}

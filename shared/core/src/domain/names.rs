//! Names of namespaces and buckets: readable, and never mistaken for an id.

use crate::domain::ids::IdKind;

/// Checks a resource name; the error says why in words a client can act on.
pub fn check(name: &str, min: usize, max: usize, id_kind: IdKind) -> Result<(), String> {
    if name.len() < min || name.len() > max {
        return Err(format!("must be {min} to {max} characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err("may hold only letters, digits, '-', '_' and '.'".into());
    }
    if name.starts_with(&format!("{}_", id_kind.prefix())) {
        return Err(format!(
            "must not start with '{}_' (reserved for ids)",
            id_kind.prefix()
        ));
    }
    Ok(())
}

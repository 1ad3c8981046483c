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
    if let Some(kind) = IdKind::ALL.into_iter().find(|k| k.matches(name)) {
        return Err(format!(
            "must not look like an id (this is a {}_ id)",
            kind.prefix()
        ));
    }
    // `.` and `..` mean this and the parent folder to anything that saves by name.
    if name.chars().all(|c| c == '.') {
        return Err("must not be only dots".into());
    }
    Ok(())
}

/// A file name a client may save under as it is: 1-255 characters, not `.` or `..`,
/// no `..` inside, no path separator, no NUL or other control character (a newline
/// breaks headers and listings).
pub fn check_file_name(name: &str) -> Result<(), &'static str> {
    let bad = name.is_empty()
        || name.len() > 255
        || name.contains('/')
        || name.contains('\\')
        || name.contains("..")
        || name == "."
        || name.chars().any(char::is_control);
    if bad {
        Err("must be a plain file name of 1-255 characters, without path separators, '..' or control characters")
    } else {
        Ok(())
    }
}

/// A key prefix (a path-like folder): no `.` or `..` segment, no backslash, no control
/// character, so no client that writes files under it is led outside its folder.
pub fn check_key_prefix(prefix: &str, max: usize) -> Result<(), String> {
    let bad_segment = prefix.split('/').any(|seg| seg == "." || seg == "..");
    if prefix.len() > max
        || bad_segment
        || prefix.contains('\\')
        || prefix.chars().any(char::is_control)
    {
        return Err(format!(
            "at most {max} characters, no '.' or '..' segments, backslashes or control characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_pass_for_ids_or_folders() {
        let id = IdKind::Namespace.new_id();
        for bad in ["..", ".", "...", id.as_str(), "bkt_anything"] {
            assert!(check(bad, 1, 128, IdKind::Bucket).is_err(), "{bad}");
        }
        for good in ["docs", "a.b", "v1..2", "ns_short"] {
            assert!(check(good, 1, 128, IdKind::Bucket).is_ok(), "{good}");
        }
    }

    #[test]
    fn file_names_and_prefixes_are_plain() {
        for bad in ["", ".", "..", "a/b", "a\\b", "x..y", "a\nb", "a\0b"] {
            assert!(super::check_file_name(bad).is_err(), "{bad:?}");
        }
        assert!(super::check_file_name("photo 1.final.jpg").is_ok());
        for bad in ["/a/../b", "./a", "a\\b", "a\tb"] {
            assert!(super::check_key_prefix(bad, 1024).is_err(), "{bad:?}");
        }
        assert!(super::check_key_prefix("/products/2024/", 1024).is_ok());
    }
}

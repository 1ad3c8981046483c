//! Provider failures as a user reads them: one sentence naming the provider, the
//! operation and the HTTP status, and at most a short, cleaned excerpt of what the
//! provider said. Never the SDK's `Debug` dump, raw headers or an unbounded body.

use sluice_core::ports::PROVIDER_SAID;

/// The most of a provider's own message kept.
const EXCERPT_CHARS: usize = 200;

/// Printable characters only, whitespace collapsed, at most `EXCERPT_CHARS`.
pub fn excerpt(text: &str) -> Option<String> {
    let cleaned: String = text
        .split_whitespace()
        .flat_map(|w| w.chars().chain(std::iter::once(' ')))
        .filter(|c| !c.is_control())
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        return None;
    }
    let mut out: String = cleaned.chars().take(EXCERPT_CHARS).collect();
    if cleaned.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    Some(out)
}

/// `sentence`, and what the provider said when it said something.
pub fn with_excerpt(sentence: String, said: Option<&str>) -> String {
    match said.and_then(excerpt) {
        Some(e) => format!("{sentence}{PROVIDER_SAID}{e}"),
        None => sentence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_clean() {
        assert_eq!(
            excerpt("  Access\r\n  Denied\u{0}  ").as_deref(),
            Some("Access Denied")
        );
        assert_eq!(excerpt(" \n\t"), None);
        let long = excerpt(&"x".repeat(5000)).unwrap();
        assert_eq!(long.chars().count(), EXCERPT_CHARS + 1);
    }
}

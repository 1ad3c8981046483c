//! A sync's records: its configuration, its runs, the files it gave up on, and the
//! filters that choose which listed files it takes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::schema::FieldError;
use super::status::{RunStatus, SyncStatus};
use super::time::{now, rfc3339};

/// Consecutive failed runs that suspend a sync.
pub const SUSPEND_AFTER: i64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconcile {
    /// Delete an object when its file is deleted from the source.
    #[serde(default = "yes")]
    pub on_delete: bool,
    /// Update an object when its file changes.
    #[serde(default = "yes")]
    pub on_update: bool,
    /// Accepted for compatibility.
    #[serde(default = "yes")]
    pub on_filter_drift: bool,
    /// Re-extract a changed file's object (a new batch); otherwise only the object changes.
    #[serde(default = "yes")]
    pub re_extract_on_update: bool,
    #[serde(default)]
    pub re_extract_fields: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

impl Reconcile {
    pub fn check(&self) -> Result<(), FieldError> {
        let fields = self.re_extract_fields.as_deref().unwrap_or_default();
        if fields.len() > 100 || fields.iter().any(|f| f.is_empty() || f.len() > 255) {
            return Err(FieldError::new(
                "reconcile.re_extract_fields",
                "holds at most 100 field names of 1 to 255 bytes",
            ));
        }
        Ok(())
    }
}

impl Default for Reconcile {
    fn default() -> Self {
        Reconcile {
            on_delete: true,
            on_update: true,
            on_filter_drift: true,
            re_extract_on_update: true,
            re_extract_fields: None,
        }
    }
}

/// Which listed files a sync takes. A pattern without `/` matches the file name, one
/// with `/` the path from the source root.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileFilters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_patterns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_patterns: Option<Vec<String>>,
    /// File extensions without the dot (`mp4`), case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_types: Option<Vec<String>>,
}

/// Limits on `file_filters`: patterns per list and bytes per pattern, and the same for
/// extensions and content types.
pub const MAX_PATTERNS: usize = 100;

pub const MAX_PATTERN_BYTES: usize = 1024;

pub const MAX_EXTENSION_BYTES: usize = 32;

pub const MAX_MIME_BYTES: usize = 255;

/// The include and exclude patterns together, so a sync's item stays far below
/// DynamoDB's 400 KB.
pub const MAX_PATTERNS_TOTAL_BYTES: usize = 64 * 1024;

/// The most a set of compiled patterns may take (the regex engine's size limit).
const PATTERNS_SIZE_LIMIT: usize = 10 << 20;

/// A glob as a regular expression: `*` within a segment, `**` across segments, `?` one
/// character, anything else literally. Matched by the regex crate, in time linear in the
/// name, whatever the pattern.
fn glob_regex(pattern: &str) -> String {
    let mut re = String::from("(?s)^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    re.push('$');
    re
}

/// Patterns compiled once for a page: those with `/` match the path from the source
/// root, the others the file name.
struct GlobSet {
    patterns: Vec<String>,
    names: regex::RegexSet,
    name_index: Vec<usize>,
    paths: regex::RegexSet,
    path_index: Vec<usize>,
}

impl GlobSet {
    fn new(patterns: &[String]) -> Result<Self, String> {
        let (with_slash, without): (Indexed, Indexed) = patterns
            .iter()
            .enumerate()
            .partition(|(_, p)| p.contains('/'));
        let build = |ps: &[(usize, &String)]| {
            regex::RegexSetBuilder::new(ps.iter().map(|(_, p)| glob_regex(p)))
                .size_limit(PATTERNS_SIZE_LIMIT)
                .dfa_size_limit(PATTERNS_SIZE_LIMIT)
                .build()
                .map_err(|e| match e {
                    regex::Error::CompiledTooBig(_) => {
                        "the patterns are too complex to match efficiently".to_string()
                    }
                    other => other.to_string(),
                })
        };
        Ok(GlobSet {
            patterns: patterns.to_vec(),
            names: build(&without)?,
            name_index: without.iter().map(|(i, _)| *i).collect(),
            paths: build(&with_slash)?,
            path_index: with_slash.iter().map(|(i, _)| *i).collect(),
        })
    }

    /// The first pattern (in the order given) that matches.
    fn first_match(&self, relative: &str, name: &str) -> Option<&str> {
        let by_name = self
            .names
            .matches(name)
            .into_iter()
            .map(|i| self.name_index[i]);
        let by_path = self
            .paths
            .matches(relative)
            .into_iter()
            .map(|i| self.path_index[i]);
        by_name
            .chain(by_path)
            .min()
            .map(|i| self.patterns[i].as_str())
    }
}

/// A sync's filters, ready to judge a page's files.
pub struct CompiledFilters<'a> {
    filters: &'a FileFilters,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

fn check_list(
    field: &str,
    items: Option<&Vec<String>>,
    max_bytes: usize,
) -> Result<(), FieldError> {
    let Some(items) = items else {
        return Ok(());
    };
    if items.len() > MAX_PATTERNS {
        return Err(FieldError::new(
            format!("file_filters.{field}"),
            format!("holds at most {MAX_PATTERNS} entries"),
        ));
    }
    if items.iter().any(|p| p.is_empty() || p.len() > max_bytes) {
        return Err(FieldError::new(
            format!("file_filters.{field}"),
            format!("entries must be 1 to {max_bytes} bytes"),
        ));
    }
    Ok(())
}

impl FileFilters {
    /// The limits, and patterns that compile: a request's filters before they are saved.
    pub fn check(&self) -> Result<(), FieldError> {
        check_list(
            "include_patterns",
            self.include_patterns.as_ref(),
            MAX_PATTERN_BYTES,
        )?;
        check_list(
            "exclude_patterns",
            self.exclude_patterns.as_ref(),
            MAX_PATTERN_BYTES,
        )?;
        check_list("extensions", self.extensions.as_ref(), MAX_EXTENSION_BYTES)?;
        check_list("mime_types", self.mime_types.as_ref(), MAX_MIME_BYTES)?;
        let total: usize = [&self.include_patterns, &self.exclude_patterns]
            .into_iter()
            .flatten()
            .flatten()
            .map(String::len)
            .sum();
        if total > MAX_PATTERNS_TOTAL_BYTES {
            return Err(FieldError::new(
                "file_filters",
                format!("the patterns hold at most {MAX_PATTERNS_TOTAL_BYTES} bytes in all"),
            ));
        }
        self.compile()
            .map(|_| ())
            .map_err(|why| FieldError::new("file_filters", why))
    }

    pub fn compile(&self) -> Result<CompiledFilters<'_>, String> {
        let set = |ps: &Option<Vec<String>>| match ps {
            Some(ps) if !ps.is_empty() => GlobSet::new(ps).map(Some),
            _ => Ok(None),
        };
        Ok(CompiledFilters {
            filters: self,
            include: set(&self.include_patterns)?,
            exclude: set(&self.exclude_patterns)?,
        })
    }
}

impl CompiledFilters<'_> {
    /// Why a file is left out, or `None` when the sync takes it. `relative`: the key
    /// below the source prefix.
    pub fn excludes(&self, relative: &str, size: u64) -> Option<String> {
        let name = relative.rsplit('/').next().unwrap_or(relative);
        if let Some(inc) = &self.include {
            if inc.first_match(relative, name).is_none() {
                return Some("matches no include pattern".into());
            }
        }
        if let Some(p) = self
            .exclude
            .as_ref()
            .and_then(|e| e.first_match(relative, name))
        {
            return Some(format!("matches exclude pattern {p:?}"));
        }
        let f = self.filters;
        if let Some(exts) = &f.extensions {
            let ext = name
                .rsplit_once('.')
                .map(|(_, e)| e.to_ascii_lowercase())
                .unwrap_or_default();
            if !exts
                .iter()
                .any(|e| e.trim_start_matches('.').eq_ignore_ascii_case(&ext))
            {
                return Some("extension not listed".into());
            }
        }
        if f.min_size_bytes.is_some_and(|m| size < m) {
            return Some("smaller than min_size_bytes".into());
        }
        if f.max_size_bytes.is_some_and(|m| size > m) {
            return Some("larger than max_size_bytes".into());
        }
        if let Some(types) = &f.mime_types {
            let mime = mime_guess::from_path(name)
                .first_raw()
                .unwrap_or("application/octet-stream");
            if !types.iter().any(|t| t.eq_ignore_ascii_case(mime)) {
                return Some(format!("content type {mime} not listed"));
            }
        }
        None
    }
}

/// A stored sync configuration and its state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sync {
    pub sync_config_id: String,
    pub bucket_id: String,
    pub namespace_id: String,
    pub org_id: String,
    pub connection_id: String,
    pub provider_type: String,
    pub source_path: String,
    pub sync_mode: String,
    #[serde(default)]
    pub file_filters: Option<FileFilters>,
    #[serde(default)]
    pub schema_mapping: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_from: Option<String>,
    pub polling_interval_seconds: i64,
    pub batch_size: i64,
    pub skip_batch_submission: bool,
    #[serde(default)]
    pub batch_collection_ids: Option<Vec<String>>,
    pub skip_duplicates: bool,
    pub reconcile: Reconcile,
    #[serde(default)]
    pub description: Option<String>,
    pub max_objects_per_run: i64,
    #[serde(default)]
    pub sync_concurrency: Option<i64>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub provider_filters: Option<Map<String, Value>>,
    pub status: SyncStatus,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub pause_reason: Option<String>,
    #[serde(default)]
    pub paused_at: Option<String>,
    #[serde(default)]
    pub next_sync_at: Option<String>,
    #[serde(default)]
    pub last_sync_at: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub consecutive_failures: i64,
    /// The run that holds (or last held) the lease.
    #[serde(default)]
    pub current_run_id: Option<String>,
    /// While a run holds the lease: when it lapses (epoch seconds).
    #[serde(default)]
    pub lock_expires_epoch: Option<i64>,
    #[serde(default)]
    pub sync_run_counter: i64,
    /// Files in the manifest (the source as of the last run).
    #[serde(default)]
    pub manifest_count: i64,
    #[serde(default)]
    pub total_files_discovered: i64,
    #[serde(default)]
    pub total_files_synced: i64,
    #[serde(default)]
    pub total_files_failed: i64,
    #[serde(default)]
    pub total_bytes_synced: i64,
    #[serde(default)]
    pub batches_created: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub version: i64,
}

impl Sync {
    pub fn continuous(&self) -> bool {
        self.sync_mode == "continuous"
    }
    pub fn locked(&self) -> bool {
        self.lock_expires_epoch
            .is_some_and(|e| e > now().unix_timestamp())
    }
    /// When the poller should look at it next: the lease's end while a run holds it,
    /// else the next scheduled run; never while paused or suspended.
    pub fn due_epoch(&self) -> Option<i64> {
        if let Some(e) = self.lock_expires_epoch {
            return Some(e);
        }
        if self.paused || self.status != SyncStatus::Active {
            return None;
        }
        self.next_sync_at.as_deref().and_then(parse_epoch)
    }
    /// The prefix a run lists: `prefix` (where the source path points, by the
    /// connection's rules), narrowed by `provider_filters.prefix`.
    pub fn listing_prefix(&self, prefix: &str) -> String {
        let prefix = prefix.to_string();
        match self
            .provider_filters
            .as_ref()
            .and_then(|f| f.get("prefix"))
            .and_then(Value::as_str)
        {
            Some(narrower) => format!("{prefix}{}", narrower.trim_start_matches('/')),
            None => prefix,
        }
    }

    /// Whether a file listed with `last_modified` is older than `sync_from`.
    pub fn before_sync_from(&self, last_modified: Option<&str>) -> bool {
        match (
            self.sync_from.as_deref().and_then(parse_epoch),
            last_modified,
        ) {
            (Some(from), Some(at)) => parse_epoch(at).is_some_and(|at| at <= from),
            _ => false,
        }
    }
}

pub fn parse_epoch(t: &str) -> Option<i64> {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// The counts of one run. They reconcile: scanned = new + modified + unchanged +
/// filtered + failed + deferred; deletions (applied or withheld) are counted apart.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct RunCounts {
    pub scanned: i64,
    pub new: i64,
    pub modified: i64,
    pub unchanged: i64,
    pub filtered: i64,
    pub failed: i64,
    /// New or changed files left for the next run by `max_objects_per_run`.
    #[serde(default)]
    pub deferred: i64,
    /// Files gone from the source whose objects were deleted.
    pub deleted: i64,
    /// Files gone from the source whose deletion the brake (or `reconcile`) withheld.
    pub withheld_deletions: i64,
}

impl RunCounts {
    pub fn add(&mut self, o: &RunCounts) {
        self.scanned += o.scanned;
        self.new += o.new;
        self.modified += o.modified;
        self.unchanged += o.unchanged;
        self.filtered += o.filtered;
        self.failed += o.failed;
        self.deferred += o.deferred;
        self.deleted += o.deleted;
        self.withheld_deletions += o.withheld_deletions;
    }
}

/// Listings a source deferred to after the one it was in (a Box walk's folders), kept in
/// blobs of the run a page's worth each: how many blobs are written, and the next entry
/// to take (its blob and its place in it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontier {
    pub written: i64,
    pub blob: i64,
    pub index: i64,
}

/// One run of a sync (the SDK's sync job).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncRun {
    pub sync_job_id: String,
    pub sync_config_id: String,
    pub bucket_id: String,
    pub namespace_id: String,
    pub org_id: String,
    /// `running`, `completed`, `failed`, `interrupted`.
    pub status: RunStatus,
    /// `scheduled`, `manual` (a trigger or a requeue), `resume`.
    pub trigger: String,
    /// `queued`, `discovering`, `deleting`, `idle`.
    pub phase: String,
    #[serde(default)]
    pub full_sync: bool,
    /// The next page to list (0 first), and where it starts.
    pub page: u32,
    #[serde(default)]
    pub token: Option<String>,
    /// The last key of the pages done: the manifest range already merged.
    #[serde(default)]
    pub last_key: Option<String>,
    #[serde(default)]
    pub counts: RunCounts,
    /// Manifest entries in the key range of the pages done, after their writes: at the
    /// end of a complete listing, the manifest's size before deletions. `None` for runs
    /// started by versions that did not keep it.
    #[serde(default)]
    pub manifest_entries: Option<i64>,
    /// Files gone from the source (deletion candidates) seen so far.
    #[serde(default)]
    pub gone: i64,
    /// The source cannot list in key order: pages look up their keys and spill them, and
    /// the gone files are found by one merge after the listing (`syncs::spill`).
    #[serde(default)]
    pub unordered: bool,
    /// That merge is done (its gone files recorded, `manifest_entries` set).
    #[serde(default)]
    pub merged: bool,
    /// Where the listings the source deferred (a folder walk's frontier) stand.
    #[serde(default)]
    pub frontier: Frontier,
    #[serde(default)]
    pub bytes: i64,
    #[serde(default)]
    pub batches_created: i64,
    #[serde(default)]
    pub batch_ids: Vec<String>,
    #[serde(default)]
    pub resumes: i64,
    #[serde(default)]
    pub withheld_reason: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    pub started_at: String,
    #[serde(default)]
    pub completed_at: Option<String>,
    pub updated_at: String,
}

/// A file a run could not take, with why.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeadLetter {
    pub dlq_id: String,
    // Where the entry belongs, as the SDK's dead-letter model requires; entries stored
    // before these fields read them as empty.
    #[serde(default)]
    pub sync_config_id: String,
    /// The provider's id for the file: its key (or path) in the source.
    #[serde(default)]
    pub source_object_id: String,
    /// The org, under the SDK's name for it.
    #[serde(default)]
    pub internal_id: String,
    #[serde(default)]
    pub namespace_id: String,
    #[serde(default)]
    pub bucket_id: String,
    pub source_path: String,
    pub error_type: String,
    pub error_message: String,
    pub retry_count: i64,
    pub max_retries_reached: bool,
    pub first_seen_at: String,
    pub last_seen_at: String,
    pub sync_job_id: String,
}

/// RFC 3339 of an epoch second.
pub fn at_epoch(epoch: i64) -> String {
    rfc3339(time::OffsetDateTime::from_unix_timestamp(epoch).unwrap_or_else(|_| now()))
}

/// Patterns with their places in the list given.
type Indexed<'a> = Vec<(usize, &'a String)>;

/// A file in a connection's storage, at the version a sync listed: the blob stage reads
/// it with the connection's credentials, only while it is still that version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncedFile {
    pub org_id: String,
    pub connection_id: String,
    pub sync_id: String,
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, text: &str) -> bool {
        regex::Regex::new(&glob_regex(pattern))
            .unwrap()
            .is_match(text)
    }

    #[test]
    fn globs_and_filters() {
        assert!(glob("*.mp4", "a.mp4"));
        assert!(!glob("*.mp4", "dir/a.mp4"));
        assert!(glob("**/*.mp4", "dir/sub/a.mp4"));
        assert!(glob("drafts/*", "drafts/x.txt"));
        assert!(!glob("drafts/*", "drafts/x/y.txt"));
        assert!(glob("a?c", "abc") && !glob("a?c", "a/c"));
        assert!(
            glob("(x)[1]+.txt", "(x)[1]+.txt"),
            "regex characters are literal"
        );
        let f = FileFilters {
            include_patterns: Some(vec!["*.txt".into()]),
            exclude_patterns: Some(vec!["*_temp.*".into()]),
            max_size_bytes: Some(10),
            ..FileFilters::default()
        };
        let f = f.compile().unwrap();
        assert_eq!(f.excludes("dir/a.txt", 5), None);
        assert!(f.excludes("dir/a.mp4", 5).is_some());
        assert!(f.excludes("dir/a_temp.txt", 5).unwrap().contains("exclude"));
        assert!(f.excludes("a.txt", 11).unwrap().contains("max_size_bytes"));
    }

    #[test]
    fn crafted_globs_match_in_linear_time_and_huge_ones_are_refused() {
        // Backtracking glob matchers take exponential time on this; the regex engine does not.
        let evil = format!("{}b", "*a".repeat(40));
        let started = std::time::Instant::now();
        assert!(!glob(&evil, &"a".repeat(40)));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // A pattern of 200 000 stars overflowed a recursive matcher's stack.
        let stars = FileFilters {
            include_patterns: Some(vec!["*".repeat(200_000)]),
            ..FileFilters::default()
        };
        assert!(stars.check().is_err());
        assert!(
            stars.compile().is_ok(),
            "it compiles (to .*), it is only over the limit"
        );
        let many = FileFilters {
            exclude_patterns: Some(vec!["*.tmp".into(); MAX_PATTERNS + 1]),
            ..FileFilters::default()
        };
        let err = many.check().unwrap_err().reason;
        assert!(err.contains("at most 100"), "{err}");
        let mut usual: Vec<String> = (0..MAX_PATTERNS - 1)
            .map(|i| format!("**/dir{i}/*.mp4"))
            .collect();
        usual.push(evil);
        let fine = FileFilters {
            include_patterns: Some(usual),
            ..FileFilters::default()
        };
        assert!(fine.check().is_ok(), "{:?}", fine.check().err());
        let bulky = FileFilters {
            include_patterns: Some(vec!["x".repeat(MAX_PATTERN_BYTES); 50]),
            exclude_patterns: Some(vec!["y".repeat(MAX_PATTERN_BYTES); 50]),
            ..FileFilters::default()
        };
        let err = bulky.check().unwrap_err().reason;
        assert!(err.contains("in all"), "{err}");
    }
}

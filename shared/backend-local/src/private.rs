//! The data dir holds secrets (the presigning key, the credential key, the dev key) and
//! every tenant's data, so it is the owner's alone: the dir 0700, secrets and databases
//! 0600, created so from the start (never widened, then narrowed).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Files of the data dir that nobody else may read.
pub const PRIVATE_FILES: [&str; 6] = [
    "sluice.db",
    "vectors.db",
    "credentials.key",
    "dev-api-key",
    "blobs/signing.key",
    "blobs/blobs.db",
];

/// Creates `dir` (and its parents) with mode 0700 where it is made here.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes a new secret file, mode 0600; fails if it exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Makes an empty 0600 file at `path` unless one is there (SQLite then keeps the mode
/// for the database and its -wal and -shm files).
pub fn touch(path: &Path) -> std::io::Result<()> {
    match write_new(path, b"") {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// What in `data_dir` others can read or enter: the dir itself, or a private file.
pub fn exposed(data_dir: &Path) -> Vec<(PathBuf, u32)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut out = Vec::new();
        let mut check = |p: PathBuf| {
            if let Ok(m) = std::fs::metadata(&p) {
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    out.push((p, mode));
                }
            }
        };
        check(data_dir.to_path_buf());
        for f in PRIVATE_FILES {
            check(data_dir.join(f));
        }
        out
    }
    #[cfg(not(unix))]
    {
        let _ = data_dir;
        Vec::new()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn made_private_and_exposure_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        create_dir(&dir).unwrap();
        write_new(&dir.join("credentials.key"), b"k").unwrap();
        touch(&dir.join("sluice.db")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("credentials.key")), 0o600);
        assert_eq!(mode(&dir.join("sluice.db")), 0o600);
        assert!(exposed(&dir).is_empty());
        std::fs::set_permissions(
            dir.join("sluice.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(exposed(&dir), vec![(dir.join("sluice.db"), 0o644)]);
    }
}

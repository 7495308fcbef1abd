//! File access at the edge: reading sources with errors that name the path,
//! and writing files atomically (temporary file, fsync, rename) so that a
//! failed write never leaves half a file.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use netc_compiler::diagnostic::SourceFile;

/// The largest topology (or lock file) netc reads by default: far beyond
/// any real cluster's (a 5,000-node topology written node by node is under
/// 1 MiB), and small enough that reading, checking and reporting on it
/// stays within a few hundred MiB. `--max-input-size` changes it.
pub const DEFAULT_MAX_INPUT: u64 = 8 << 20;
static MAX_INPUT: AtomicU64 = AtomicU64::new(DEFAULT_MAX_INPUT);

/// Set the input limit for this process (`--max-input-size`).
pub fn set_max_input(bytes: u64) {
    MAX_INPUT.store(bytes, Ordering::Relaxed);
}

/// The input limit in force.
pub fn max_input() -> u64 {
    MAX_INPUT.load(Ordering::Relaxed)
}

/// `8 MiB`, `512 KiB`, `300 bytes`.
pub fn show_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Why a file could not be read or written. `Display` is the one-line
/// message netc prints, naming the path; `message` is the system's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    /// Reading failed (`-`: standard input).
    Read { path: PathBuf, message: String },
    /// The input is larger than the input limit.
    TooLarge { path: PathBuf, limit: u64 },
    /// The input is not UTF-8; `offset` is the first invalid byte.
    NotText { path: PathBuf, offset: usize },
    /// Writing failed; the old file (or tree) is as it was.
    Write { path: PathBuf, message: String },
    /// A directory on the way could not be created.
    Create { path: PathBuf, message: String },
    /// The path names no file or directory (`..`, `/`).
    NotAPath { path: PathBuf },
    /// An output directory that is not empty and not netc's own.
    NotOutput { path: PathBuf },
    /// The new output tree could not be swapped in; the old one stays.
    Replace { path: PathBuf, message: String },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Read { path, message } if path.as_os_str() == "-" => {
                write!(f, "cannot read standard input: {message}")
            }
            FileError::Read { path, message } => write!(f, "cannot read `{}`: {message}", path.display()),
            FileError::TooLarge { path, limit } => write!(
                f,
                "cannot read `{}`: it is larger than netc's input limit of {} (a topology is far smaller; `--max-input-size` raises the limit)",
                path.display(),
                show_size(*limit)
            ),
            FileError::NotText { path, offset } => write!(
                f,
                "cannot read `{}`: not UTF-8 text (invalid byte at offset {offset})",
                path.display()
            ),
            FileError::Write { path, message } => write!(f, "cannot write `{}`: {message}", path.display()),
            FileError::Create { path, message } => write!(f, "cannot create `{}`: {message}", path.display()),
            FileError::NotAPath { path } => write!(f, "cannot write `{}`: not a file or directory path", path.display()),
            FileError::NotOutput { path } => write!(
                f,
                "`{}` exists and is not a netc output directory (no netc `index.json`); refusing to replace it",
                path.display()
            ),
            FileError::Replace { path, message } => write!(f, "cannot replace `{}`: {message}", path.display()),
        }
    }
}

impl std::error::Error for FileError {}

impl From<FileError> for String {
    fn from(error: FileError) -> String {
        error.to_string()
    }
}

/// Read a `.netc` file; `-` reads standard input. Reads at most the input
/// limit (and one byte more, to know it was exceeded): a larger input is an
/// error before any of it is parsed.
pub fn read_source(path: &Path) -> Result<SourceFile, FileError> {
    let name = path.display().to_string();
    let limit = max_input();
    let mut bytes = Vec::new();
    let read = if name == "-" {
        std::io::Read::read_to_end(&mut std::io::Read::take(std::io::stdin(), limit + 1), &mut bytes)
    } else {
        fs::File::open(path)
            .and_then(|file| std::io::Read::read_to_end(&mut std::io::Read::take(file, limit + 1), &mut bytes))
    };
    read.map_err(|e| FileError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| FileError::NotText {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    Ok(SourceFile::new(name, text))
}

/// Replace `path` with `contents` atomically, keeping the old file's mode.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    write_atomic_with_mode(path, contents, None)
}

/// Replace `path` with `contents` atomically: a temporary file beside it,
/// fsync, the mode (given, or the old file's), rename, fsync of the
/// directory (so the rename survives a power loss too). A failure removes
/// the temporary file and leaves `path` as it was. Temporary files of
/// `path` left by an earlier process that was killed mid-write are removed
/// first, so a crash leaves no litter after the next write.
pub fn write_atomic_with_mode(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<(), FileError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| FileError::NotAPath {
            path: path.to_path_buf(),
        })?
        .to_string_lossy();
    let prefix = temp_prefix(&file_name);
    remove_stale_temporaries(dir, &prefix);
    let temp = dir.join(format!("{prefix}{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        set_mode(&temp, path, mode)?;
        fs::rename(&temp, path)?;
        sync_dir(dir)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&temp);
        FileError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    })
}

/// Give `temp` the mode `mode`, or the mode of the file it replaces.
#[cfg(unix)]
fn set_mode(temp: &Path, path: &Path, mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let permissions = match mode {
        Some(mode) => Some(fs::Permissions::from_mode(mode)),
        None => fs::metadata(path).ok().map(|m| m.permissions()),
    };
    match permissions {
        Some(permissions) => fs::set_permissions(temp, permissions),
        None => Ok(()),
    }
}

/// Windows files have no Unix mode; programs for Windows carry none.
#[cfg(not(unix))]
fn set_mode(_temp: &Path, _path: &Path, _mode: Option<u32>) -> std::io::Result<()> {
    Ok(())
}

/// Make a rename in `dir` durable (on Windows a directory cannot be opened
/// for that; NTFS journals the rename itself).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    if cfg!(unix) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Remove temporaries of `path` left by processes that are gone (a crash
/// between creating one and renaming it); apply calls this for every file
/// it owns, since a file that needs no write would otherwise keep them.
pub fn sweep_temporaries(path: &Path) {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if let Some(name) = path.file_name() {
        remove_stale_temporaries(dir, &temp_prefix(&name.to_string_lossy()));
    }
}

/// The name prefix of `file_name`'s temporary files (the pid follows).
fn temp_prefix(file_name: &str) -> String {
    format!(".{file_name}.netc-tmp-")
}

/// Remove `dir`'s temporaries with `prefix` whose process is gone (a
/// SIGKILL between create and rename). A live process's are left alone.
fn remove_stale_temporaries(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        // Without /proc (not Linux) liveness is unknown: keep everything.
        let alive = !Path::new("/proc/self").exists()
            || pid
                .parse::<u32>()
                .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Flush a written tree: one `syncfs` on Linux, as durable as an fsync per
/// file before the rename and thousands of times fewer calls for a
/// 5,000-node cluster.
#[cfg(target_os = "linux")]
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    let staged = fs::File::open(dir)?;
    rustix::fs::syncfs(&staged)?;
    Ok(())
}

/// Elsewhere each file was flushed through the handle that wrote it
/// (`write_tree_file`): nothing is left to do.
#[cfg(not(target_os = "linux"))]
fn sync_tree(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Write one file of a tree. Without `syncfs` it is flushed at once,
/// through the handle that wrote it: Windows' `FlushFileBuffers` needs a
/// handle with write access, so reopening the file read-only to flush it
/// fails with "Access denied".
fn write_tree_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    if cfg!(not(target_os = "linux")) {
        file.sync_all()?;
    }
    Ok(())
}

/// Marker that a directory is netc's output: its `index.json` names netc as
/// generator. netc only ever replaces such a directory (or an empty one).
fn is_netc_output(dir: &Path) -> bool {
    fs::read_to_string(dir.join("index.json")).is_ok_and(|index| index.contains("\"generator\": \"netc\""))
}

/// Replace directory `dir` with exactly `files` (relative path to bytes).
///
/// The tree is written and synced in a sibling temporary directory first;
/// only then is the old directory moved aside and the new one renamed into
/// place. A failure before the swap leaves `dir` untouched; a directory that
/// is not empty and not netc's own output is never replaced.
pub fn replace_dir(dir: &Path, files: &std::collections::BTreeMap<String, Vec<u8>>) -> Result<(), FileError> {
    if dir.exists() {
        let empty = fs::read_dir(dir)
            .map_err(|e| FileError::Read {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?
            .next()
            .is_none();
        if !empty && !is_netc_output(dir) {
            return Err(FileError::NotOutput {
                path: dir.to_path_buf(),
            });
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    fs::create_dir_all(&parent).map_err(|e| FileError::Create {
        path: parent.clone(),
        message: e.to_string(),
    })?;
    let base = dir
        .file_name()
        .ok_or_else(|| FileError::NotAPath {
            path: dir.to_path_buf(),
        })?
        .to_string_lossy()
        .to_string();
    let staging = parent.join(format!(".{base}.netc-new-{}", std::process::id()));
    let retired = parent.join(format!(".{base}.netc-old-{}", std::process::id()));

    let write = || -> std::io::Result<()> {
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir(&staging)?;
        for (path, bytes) in files {
            let target = staging.join(path);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)?;
            }
            write_tree_file(&target, bytes)?;
        }
        sync_tree(&staging)
    };
    if let Err(e) = write() {
        let _ = fs::remove_dir_all(&staging);
        return Err(FileError::Write {
            path: dir.to_path_buf(),
            message: e.to_string(),
        });
    }
    let swap = || -> std::io::Result<()> {
        if dir.exists() {
            fs::rename(dir, &retired)?;
        }
        if let Err(e) = fs::rename(&staging, dir) {
            // Put the old output back before reporting.
            let _ = fs::rename(&retired, dir);
            return Err(e);
        }
        Ok(())
    };
    if let Err(e) = swap() {
        let _ = fs::remove_dir_all(&staging);
        return Err(FileError::Replace {
            path: dir.to_path_buf(),
            message: e.to_string(),
        });
    }
    let _ = fs::remove_dir_all(&retired);
    if let Ok(parent_dir) = fs::File::open(&parent) {
        let _ = parent_dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_content_and_sweeps_temporaries_of_dead_processes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("conf");
        fs::write(&target, b"old").unwrap();
        // What a process killed between create and rename leaves behind; a
        // pid above the kernel's maximum (2^22) is never alive.
        let dead = dir.path().join(format!("{}{}", temp_prefix("conf"), 4_194_305));
        fs::write(&dead, b"half").unwrap();
        // A live process's temporary (our own pid) is not touched.
        let live = dir
            .path()
            .join(format!("{}{}", temp_prefix("other"), std::process::id()));
        fs::write(&live, b"busy").unwrap();

        write_atomic_with_mode(&target, b"new", Some(0o600)).unwrap();

        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(!dead.exists(), "the dead process's temporary is removed");
        assert!(live.exists(), "another file's temporary is not ours to remove");
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [live.file_name().unwrap().to_str().unwrap(), "conf"]);
    }

    #[test]
    fn sweeping_a_file_that_needs_no_write_removes_dead_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("subnet.env");
        fs::write(&target, b"same").unwrap();
        let dead = dir.path().join(format!("{}{}", temp_prefix("subnet.env"), 4_194_305));
        fs::write(&dead, b"half").unwrap();
        sweep_temporaries(&target);
        assert!(!dead.exists());
        assert_eq!(fs::read(&target).unwrap(), b"same", "the file itself is untouched");
    }
}

//! Reading files straight from git objects (no work tree): what `netc diff`
//! and the agent's source share, down to compiling a committed topology
//! with its lock file (`Committed`). Only regular files are read, and only up
//! to netc's input limit (`--max-input-size`), which is checked against the
//! object's header before its content is inflated: a hostile commit can
//! make netc refuse a revision, never make it read a link's target, a
//! submodule or hundreds of MiB.

use std::fmt;
use std::path::Path;

use git2::{ObjectType, Repository, Tree};
use netc_compiler::diagnostic::{Diagnostic, SourceFile};
use netc_compiler::model::Lock;
use netc_compiler::Compilation;

use netc_node::files::{max_input, show_size};

/// Tree entry modes (git's `S_IFLNK`, `S_IFGITLINK` and `S_IFDIR`).
const SYMLINK: i32 = 0o120000;
const SUBMODULE: i32 = 0o160000;
const DIRECTORY: i32 = 0o040000;

/// Why a file could not be read from a commit. `Display` names the path
/// and the revision, and the fix where there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GitError {
    /// libgit2 failed to read the tree or the object.
    Read { path: String, rev: String, message: String },
    /// The path is not a regular file.
    NotAFile { path: String, rev: String, kind: NotAFile },
    /// The object is larger than the input limit (checked before inflating).
    TooLarge {
        path: String,
        rev: String,
        size: u64,
        limit: u64,
    },
}

/// What a path in a commit is, when it is not a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAFile {
    SymbolicLink,
    Submodule,
    Directory,
    /// A tree entry whose object is not a blob.
    Other,
}

impl fmt::Display for GitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitError::Read { path, rev, message } => write!(f, "cannot read `{path}` at `{rev}`: {message}"),
            GitError::NotAFile { path, rev, kind } => {
                let what = match kind {
                    NotAFile::SymbolicLink => "a symbolic link: netc reads only regular files from git, since a link's target may lie outside the commit; commit the file itself",
                    NotAFile::Submodule => "a submodule (another repository's commit), not a file; commit the topology in this repository",
                    NotAFile::Directory => "a directory, not a file; name the topology file inside it",
                    NotAFile::Other => "not a file",
                };
                write!(f, "`{path}` at `{rev}` is {what}")
            }
            GitError::TooLarge { path, rev, size, limit } => write!(
                f,
                "`{path}` at `{rev}` is {size} bytes, larger than netc's input limit of {} (a topology is far smaller; `--max-input-size` raises the limit)",
                show_size(*limit)
            ),
        }
    }
}

impl std::error::Error for GitError {}

impl From<GitError> for String {
    fn from(error: GitError) -> String {
        error.to_string()
    }
}

/// The bytes of the file at `path` in `tree` (of revision `rev`, named in
/// errors), or `None` when there is none. A symbolic link, a submodule, a
/// directory or a file larger than the input limit is an error.
pub fn blob(repo: &Repository, tree: &Tree<'_>, path: &str, rev: &str) -> Result<Option<Vec<u8>>, GitError> {
    let cannot = |e: git2::Error| GitError::Read {
        path: path.to_owned(),
        rev: rev.to_owned(),
        message: e.message().to_owned(),
    };
    let not_a_file = |kind| GitError::NotAFile {
        path: path.to_owned(),
        rev: rev.to_owned(),
        kind,
    };
    let entry = match tree.get_path(Path::new(path)) {
        Ok(entry) => entry,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    match entry.filemode() {
        SYMLINK => return Err(not_a_file(NotAFile::SymbolicLink)),
        SUBMODULE => return Err(not_a_file(NotAFile::Submodule)),
        DIRECTORY => return Err(not_a_file(NotAFile::Directory)),
        _ => {}
    }
    let (size, kind) = repo.odb().and_then(|odb| odb.read_header(entry.id())).map_err(cannot)?;
    if kind != ObjectType::Blob {
        return Err(not_a_file(NotAFile::Other));
    }
    let limit = max_input();
    if size as u64 > limit {
        return Err(GitError::TooLarge {
            path: path.to_owned(),
            rev: rev.to_owned(),
            size: size as u64,
            limit,
        });
    }
    let blob = repo.find_blob(entry.id()).map_err(cannot)?;
    Ok(Some(blob.content().to_vec()))
}

/// A topology and its lock file as committed at one revision: what
/// `netc diff` and the agent read from git and then compile, one way.
#[derive(Clone, Debug, Default)]
pub struct Committed {
    /// The topology's bytes; `None` when the path does not exist there.
    pub topology: Option<Vec<u8>>,
    /// The lock file beside it (`PATH.lock`), when there is one.
    pub lock: Option<Vec<u8>>,
}

/// Why committed bytes could not even be compiled.
#[derive(Debug)]
pub enum NotCompiled {
    /// The topology is not UTF-8 text.
    NotText,
    /// The lock file has errors: its source and what is wrong with it.
    BadLock {
        lock: SourceFile,
        problems: Vec<Diagnostic>,
    },
}

impl Committed {
    /// `path` and, when it exists, `path.lock` in `tree` (of revision
    /// `rev`, named in errors).
    pub fn read(repo: &Repository, tree: &Tree<'_>, path: &str, rev: &str) -> Result<Committed, GitError> {
        let Some(topology) = blob(repo, tree, path, rev)? else {
            return Ok(Committed::default());
        };
        Ok(Committed {
            topology: Some(topology),
            lock: blob(repo, tree, &format!("{path}.lock"), rev)?,
        })
    }

    /// Compile the topology with its lock file, the sources named
    /// `PATH{suffix}` and `PATH.lock{suffix}` in diagnostics; `None` when
    /// there is no topology at the path.
    pub fn compile(&self, path: &str, suffix: &str) -> Option<Result<(SourceFile, Compilation), NotCompiled>> {
        let bytes = self.topology.as_ref()?;
        let Ok(text) = String::from_utf8(bytes.clone()) else {
            return Some(Err(NotCompiled::NotText));
        };
        let lock = match &self.lock {
            Some(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                let (lock, problems) = Lock::parse(&text);
                if !problems.is_empty() {
                    let lock = SourceFile::new(format!("{path}.lock{suffix}"), text);
                    return Some(Err(NotCompiled::BadLock { lock, problems }));
                }
                lock
            }
            None => Lock::default(),
        };
        let source = SourceFile::new(format!("{path}{suffix}"), text);
        let compilation = netc_compiler::compile(&source, &lock);
        Some(Ok((source, compilation)))
    }
}

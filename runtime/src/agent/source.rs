//! The agent's git source: a bare clone of the remote in the state
//! directory, fetched on every poll, from which the topology is read at a
//! commit straight from the object database (no work tree).
//!
//! A clone that cannot be opened or read (deleted, corrupted) is removed and
//! cloned again; a remote that cannot be reached is reported as such, so
//! the agent backs off and keeps what it has.

use std::fs;
use std::path::{Path, PathBuf};

use crate::git::{Committed, GitError};
use git2::{ErrorClass, FetchOptions, Oid, Repository};

use super::ssh::SshAuth;

/// Why the source could not give a commit.
#[derive(Debug)]
pub enum SourceError {
    /// The remote could not be reached or refused us: back off, retry.
    Unreachable(String),
    /// The branch, path or clone is wrong: reported, retried at the next poll.
    Other(String),
    /// The topology at the commit cannot be read (a link, too large, ...):
    /// reported, retried at the next poll.
    Committed(GitError),
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceError::Unreachable(m) | SourceError::Other(m) => f.write_str(m),
            SourceError::Committed(error) => error.fmt(f),
        }
    }
}

/// A topology read at one commit.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub commit: String,
    pub message: String,
    /// The topology and its lock file.
    pub committed: Committed,
}

/// A signature and the bytes it signs.
pub type Signed = (Vec<u8>, Vec<u8>);

pub struct Source {
    url: String,
    branch: String,
    clone_dir: PathBuf,
    ssh: Option<SshAuth>,
}

impl Source {
    pub fn new(url: &str, branch: &str, state_dir: &Path) -> Source {
        Source {
            url: url.to_owned(),
            branch: branch.to_owned(),
            clone_dir: state_dir.join("repo.git"),
            ssh: None,
        }
    }

    /// Fetch with this key and known_hosts (an `ssh://` remote).
    pub fn with_ssh(mut self, ssh: Option<SshAuth>) -> Source {
        self.ssh = ssh;
        self
    }

    pub fn clone_dir(&self) -> &Path {
        &self.clone_dir
    }

    /// Open the clone, or clone again when it is missing or broken.
    fn repository(&self) -> Result<Repository, SourceError> {
        match Repository::open_bare(&self.clone_dir) {
            Ok(repo) => Ok(repo),
            Err(_) => self.reclone(),
        }
    }

    fn reclone(&self) -> Result<Repository, SourceError> {
        if self.clone_dir.exists() {
            fs::remove_dir_all(&self.clone_dir).map_err(|e| {
                SourceError::Other(format!(
                    "cannot remove the broken clone `{}`: {e}",
                    self.clone_dir.display()
                ))
            })?;
        }
        let repo = Repository::init_bare(&self.clone_dir).map_err(|e| {
            SourceError::Other(format!("cannot create `{}`: {}", self.clone_dir.display(), e.message()))
        })?;
        repo.remote("origin", &self.url)
            .map_err(|e| SourceError::Other(format!("cannot add the remote `{}`: {}", self.url, e.message())))?;
        Ok(repo)
    }

    /// Fetch the branch; the commit it points at.
    pub fn fetch(&self) -> Result<String, SourceError> {
        let repo = self.repository()?;
        match self.fetch_in(&repo) {
            Ok(commit) => Ok(commit),
            Err(SourceError::Other(first)) => {
                // A clone whose objects or refs are damaged fails here even
                // though the remote answers: start over once.
                let repo = self.reclone()?;
                self.fetch_in(&repo)
                    .map_err(|e| SourceError::Other(format!("{e} (after re-cloning, because: {first})")))
            }
            Err(unreachable) => Err(unreachable),
        }
    }

    fn fetch_in(&self, repo: &Repository) -> Result<String, SourceError> {
        let mut remote = repo
            .find_remote("origin")
            .or_else(|_| repo.remote("origin", &self.url))
            .map_err(|e| SourceError::Other(format!("remote origin: {}", e.message())))?;
        if remote.url().ok() != Some(self.url.as_str()) {
            repo.remote_set_url("origin", &self.url)
                .map_err(|e| SourceError::Other(e.message().to_owned()))?;
            remote = repo
                .find_remote("origin")
                .map_err(|e| SourceError::Other(e.message().to_owned()))?;
        }
        let refspec = format!("+refs/heads/{0}:refs/remotes/origin/{0}", self.branch);
        let refusal = std::cell::RefCell::new(None);
        let mut options = FetchOptions::new();
        options.download_tags(git2::AutotagOption::None);
        if let Some(ssh) = &self.ssh {
            options.remote_callbacks(ssh.callbacks(&self.url, &refusal));
        }
        let fetched = remote.fetch(&[&refspec], Some(&mut options), None);
        drop(options);
        if let Some(refused) = refusal.into_inner() {
            // Not a network fault: backing off would not change the key.
            return Err(SourceError::Other(format!(
                "cannot fetch from `{}`: {refused}",
                self.url
            )));
        }
        if let Err(e) = fetched {
            let message = format!(
                "cannot fetch branch `{}` from `{}`: {}",
                self.branch,
                self.url,
                e.message()
            );
            return Err(match e.class() {
                ErrorClass::Net | ErrorClass::Ssh | ErrorClass::Http | ErrorClass::Ssl | ErrorClass::Os => {
                    SourceError::Unreachable(message)
                }
                _ => SourceError::Other(message),
            });
        }
        let reference = format!("refs/remotes/origin/{}", self.branch);
        let oid = repo.refname_to_id(&reference).map_err(|e| {
            SourceError::Other(format!(
                "branch `{}` not found at `{}`: {}",
                self.branch,
                self.url,
                e.message()
            ))
        })?;
        Ok(oid.to_string())
    }

    /// The topology at `path` (and its lock file) at `commit`.
    pub fn read(&self, commit: &str, path: &str) -> Result<Snapshot, SourceError> {
        let repo = self.repository()?;
        let other = |e: git2::Error| SourceError::Other(format!("reading {commit}: {}", e.message()));
        let oid = Oid::from_str(commit).map_err(other)?;
        let commit_object = repo.find_commit(oid).map_err(other)?;
        let tree = commit_object.tree().map_err(other)?;
        Ok(Snapshot {
            commit: commit.to_owned(),
            message: commit_object.message().unwrap_or_default().to_owned(),
            committed: Committed::read(&repo, &tree, path, commit).map_err(SourceError::Committed)?,
        })
    }

    /// Whether `descendant` has `ancestor` in its history (or is it).
    pub fn descends_from(&self, descendant: &str, ancestor: &str) -> Result<bool, SourceError> {
        if descendant == ancestor {
            return Ok(true);
        }
        let repo = self.repository()?;
        let other = |e: git2::Error| SourceError::Other(e.message().to_owned());
        let (d, a) = (
            Oid::from_str(descendant).map_err(other)?,
            Oid::from_str(ancestor).map_err(other)?,
        );
        // An ancestor the clone does not have (history rewritten and
        // garbage-collected) is not an ancestor.
        if repo.find_commit(a).is_err() {
            return Ok(false);
        }
        repo.graph_descendant_of(d, a).map_err(other)
    }

    /// The commit's signature and the data it signs, if it is signed.
    pub fn signature(&self, commit: &str) -> Result<Option<Signed>, SourceError> {
        let repo = self.repository()?;
        let oid = Oid::from_str(commit).map_err(|e| SourceError::Other(e.message().to_owned()))?;
        match repo.extract_signature(&oid, None) {
            Ok((signature, data)) => Ok(Some((signature.to_vec(), data.to_vec()))),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(SourceError::Other(format!(
                "reading the signature of {commit}: {}",
                e.message()
            ))),
        }
    }
}

//! The state directory (`--state-dir`, default `/var/lib/netc`): what netc
//! remembers between applies on a node.
//!
//! - `inventory.json`: the keys of the objects netc owns (`engine::Inventory`),
//!   the only objects it ever prunes. It works as a write-ahead journal:
//!   before the first step of an apply it becomes the old inventory plus
//!   every key the run may create (`journal`), so a process killed at any
//!   point (SIGKILL, power loss) never leaves an object netc made that its
//!   inventory does not list; the next run prunes or keeps it. After a
//!   successful apply it is exactly the program's keys.
//! - `last-good.json`: the last program applied successfully, with the peer
//!   table it was applied with, in one file (so the two can never be from
//!   different applies): `{"program": ..., "peers": ...}`. `netc apply
//!   --last-good` re-applies it.
//!
//! A missing directory or inventory file is an empty inventory (a node netc
//! never touched). An inventory that cannot be parsed (truncated by a power
//! cut, garbled) proves nothing about ownership: an apply treats it as
//! empty, prunes nothing, keeps its bytes as `inventory.json.unreadable` and
//! writes a whole inventory again. Every file is written atomically (temporary file, fsync,
//! rename, fsync of the directory).

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use netc_compiler::emit::program::bundle::CompiledNode;

use crate::files::{write_atomic_with_mode, FileError};
use netc_plan::engine::Inventory;

/// The default state directory.
pub const DEFAULT_DIR: &str = "/var/lib/netc";

/// What went wrong with the state directory. `Display` is the one-line
/// message netc prints; functions that report in strings take it with `?`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateError {
    /// A file could not be read (other than not existing).
    Read { path: PathBuf, message: String },
    /// A state file is not what netc writes (strict reads only).
    Unreadable { path: PathBuf, message: String },
    /// The directory could not be created.
    Create { dir: PathBuf, message: String },
    /// A file could not be written (atomically: the old one stays).
    Write(FileError),
    /// A record could not be turned into JSON.
    Encode { message: String },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Read { path, message } | StateError::Unreadable { path, message } => {
                write!(f, "cannot read `{}`: {message}", path.display())
            }
            StateError::Create { dir, message } => write!(f, "cannot create `{}`: {message}", dir.display()),
            StateError::Write(error) => error.fmt(f),
            StateError::Encode { message } => write!(f, "cannot encode the state: {message}"),
        }
    }
}

impl std::error::Error for StateError {}

impl From<StateError> for String {
    fn from(error: StateError) -> String {
        error.to_string()
    }
}

/// Create the state directory (and its parents).
pub fn create_dir(dir: &Path) -> Result<(), StateError> {
    fs::create_dir_all(dir).map_err(|e| StateError::Create {
        dir: dir.to_path_buf(),
        message: e.to_string(),
    })
}

pub fn inventory_path(dir: &Path) -> PathBuf {
    dir.join("inventory.json")
}

pub fn last_good_path(dir: &Path) -> PathBuf {
    dir.join("last-good.json")
}

/// The bytes of the state file `path`, or `None` when it does not exist.
fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

/// The inventory of earlier applies; empty when there is none.
pub fn read_inventory(dir: &Path) -> Result<Inventory, StateError> {
    read_owned(&inventory_path(dir))
}

/// A record of owned objects (the Linux or the Windows inventory) at
/// `path`, strictly: missing is empty, unreadable is an error (what
/// `netc status` and `netc plan` report; an apply reads it with
/// `read_owned_leniently`).
pub fn read_owned<T: DeserializeOwned + Default>(path: &Path) -> Result<T, StateError> {
    match read_if_present(path)? {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| StateError::Unreadable {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        None => Ok(T::default()),
    }
}

/// The inventory for an apply. One that cannot be parsed (truncated by a
/// power cut, garbled by hand) proves nothing about what netc owns, so it
/// counts as empty: nothing is pruned, and the next successful apply writes
/// a whole inventory again. The second value says so, to be reported;
/// `keep_unreadable` keeps the bad file's bytes before that rewrite.
/// Other read errors (permissions) are errors.
pub fn read_inventory_for_apply(dir: &Path) -> Result<(Inventory, Option<String>), StateError> {
    read_owned_leniently(&inventory_path(dir))
}

/// A record of owned objects (the Linux or the Windows inventory) at
/// `path` read as `read_inventory_for_apply` says: missing or unreadable
/// is empty, and unreadable comes with the problem to report.
pub fn read_owned_leniently<T: DeserializeOwned + Default>(path: &Path) -> Result<(T, Option<String>), StateError> {
    let Some(bytes) = read_if_present(path)? else {
        return Ok((T::default(), None));
    };
    Ok(match serde_json::from_slice(&bytes) {
        Ok(owned) => (owned, None),
        Err(e) => (
            T::default(),
            Some(format!(
                "`{}` is unreadable ({e}): netc prunes nothing until an apply writes it again (the old bytes are kept as `{}`)",
                path.display(),
                unreadable_copy(path).display()
            )),
        ),
    })
}

/// Where an unreadable state file's bytes are kept: `FILE.unreadable`.
pub fn unreadable_copy(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".unreadable");
    path.with_file_name(name)
}

/// Keep an unreadable state file's bytes beside it before it is replaced
/// (best effort: the file may be gone already).
pub fn keep_unreadable(path: &Path) {
    let _ = fs::copy(path, unreadable_copy(path));
}

/// Replace the inventory (creating the directory if needed).
pub fn write_inventory(dir: &Path, inventory: &Inventory) -> Result<(), StateError> {
    write_owned(&inventory_path(dir), inventory)
}

/// Replace a record of owned objects (the Linux or the Windows inventory)
/// at `path`, creating its directory if needed.
pub fn write_owned<T: Serialize>(path: &Path, owned: &T) -> Result<(), StateError> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    let mut json = serde_json::to_vec_pretty(owned).map_err(|e| StateError::Encode { message: e.to_string() })?;
    json.push(b'\n');
    write_atomic_with_mode(path, &json, Some(0o644)).map_err(StateError::Write)
}

/// Before the first step of an apply: record `owned` plus `to_create`, so
/// that whatever this run creates is owned even if it never finishes.
/// Writes nothing when that adds no key.
pub fn journal(
    dir: &Path,
    owned: &Inventory,
    to_create: impl IntoIterator<Item = netc_plan::engine::ObjectKey>,
) -> Result<(), StateError> {
    journal_owned(&inventory_path(dir), owned, to_create).map(drop)
}

/// `journal` for any record of owned keys at `path` (the Windows
/// inventory's too): the write-ahead step both operating systems share.
/// Returns the widened record, which is what netc owns from now on.
pub fn journal_owned<K: Ord + Clone + Serialize>(
    path: &Path,
    owned: &BTreeSet<K>,
    to_create: impl IntoIterator<Item = K>,
) -> Result<BTreeSet<K>, StateError> {
    let mut widened = owned.clone();
    widened.extend(to_create);
    if widened.len() > owned.len() {
        write_owned(path, &widened)?;
    }
    Ok(widened)
}

/// After a successful apply: the program and peer table as the last good
/// pair, then the exact inventory.
pub fn commit(dir: &Path, inventory: &Inventory, node: &CompiledNode) -> Result<(), StateError> {
    commit_last_good(dir, node)?;
    write_inventory(dir, inventory)
}

/// Record `node` (program and peer table) as the last good pair (Windows
/// nodes keep their own inventory, `crate::windows`).
pub fn commit_last_good(dir: &Path, node: &CompiledNode) -> Result<(), StateError> {
    create_dir(dir)?;
    let mut json = serde_json::to_vec(node).map_err(|e| StateError::Encode { message: e.to_string() })?;
    json.push(b'\n');
    write_atomic_with_mode(&last_good_path(dir), &json, Some(0o644)).map_err(StateError::Write)
}

/// The last good program and peer table, if an apply ever succeeded here.
pub fn read_last_good(dir: &Path) -> Result<Option<CompiledNode>, StateError> {
    let path = last_good_path(dir);
    let Some(bytes) = read_if_present(&path)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StateError::Unreadable {
            path,
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netc_plan::engine::ObjectKey;

    #[test]
    fn an_unparsable_inventory_counts_as_empty_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(inventory_path(dir.path()), b"[{\"route\": \"198.18").unwrap();
        let (owned, problem) = read_inventory_for_apply(dir.path()).unwrap();
        assert!(owned.is_empty());
        let problem = problem.expect("a reason");
        assert!(
            problem.contains("prunes nothing") && problem.contains("inventory.json.unreadable"),
            "{problem}"
        );
        // The strict reader still refuses it (`netc status` reports it).
        assert!(read_inventory(dir.path()).is_err());
        keep_unreadable(&inventory_path(dir.path()));
        assert_eq!(
            std::fs::read(dir.path().join("inventory.json.unreadable")).unwrap(),
            b"[{\"route\": \"198.18"
        );
    }

    #[test]
    fn missing_dir_is_empty_and_commits_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        assert_eq!(read_inventory(&state).unwrap(), Inventory::new());
        assert_eq!(read_last_good(&state).unwrap(), None);
        let inventory: Inventory = [ObjectKey::Route("198.18.1.0/24".into())].into();
        let node: CompiledNode = serde_json::from_str(
            r#"{"program": {"version": 1, "node": "n", "os": "linux", "operations": []},
                "peers": {"version": 1, "cluster": "c", "backend": "vxlan", "nodes": []}}"#,
        )
        .unwrap();
        commit(&state, &inventory, &node).unwrap();
        assert_eq!(read_inventory(&state).unwrap(), inventory);
        assert_eq!(read_last_good(&state).unwrap(), Some(node));
        std::fs::write(last_good_path(&state), b"{\"program\": 1}").unwrap();
        assert!(read_last_good(&state)
            .unwrap_err()
            .to_string()
            .starts_with("cannot read `"));
    }

    #[test]
    fn journal_widens_the_inventory_only_when_it_adds_keys() {
        let dir = tempfile::tempdir().unwrap();
        let owned: Inventory = [ObjectKey::Route("198.18.1.0/24".into())].into();
        journal(dir.path(), &owned, owned.clone()).unwrap();
        assert!(!inventory_path(dir.path()).exists(), "nothing new: nothing written");
        journal(dir.path(), &owned, [ObjectKey::Route("198.18.2.0/24".into())]).unwrap();
        assert_eq!(read_inventory(dir.path()).unwrap().len(), 2);
    }
}

//! Reading files straight from git objects (no work tree): what `netc diff`
//! and the agent's source share. Only regular files are read, and only up
//! to netc's input limit (`--max-input-size`), which is checked against the
//! object's header before its content is inflated: a hostile commit can
//! make netc refuse a revision, never make it read a link's target, a
//! submodule or hundreds of MiB.

use std::path::Path;

use git2::{ObjectType, Repository, Tree};

use netc_node::files::{max_input, show_size};

/// Tree entry modes (git's `S_IFLNK`, `S_IFGITLINK` and `S_IFDIR`).
const SYMLINK: i32 = 0o120000;
const SUBMODULE: i32 = 0o160000;
const DIRECTORY: i32 = 0o040000;

/// The bytes of the file at `path` in `tree` (of revision `rev`, named in
/// errors), or `None` when there is none. A symbolic link, a submodule, a
/// directory or a file larger than the input limit is an error.
pub fn blob(repo: &Repository, tree: &Tree<'_>, path: &str, rev: &str) -> Result<Option<Vec<u8>>, String> {
    let cannot = |e: git2::Error| format!("cannot read `{path}` at `{rev}`: {}", e.message());
    let entry = match tree.get_path(Path::new(path)) {
        Ok(entry) => entry,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    let not_a_file = match entry.filemode() {
        SYMLINK => Some("a symbolic link: netc reads only regular files from git, since a link's target may lie outside the commit; commit the file itself"),
        SUBMODULE => Some("a submodule (another repository's commit), not a file; commit the topology in this repository"),
        DIRECTORY => Some("a directory, not a file; name the topology file inside it"),
        _ => None,
    };
    if let Some(what) = not_a_file {
        return Err(format!("`{path}` at `{rev}` is {what}"));
    }
    let (size, kind) = repo.odb().and_then(|odb| odb.read_header(entry.id())).map_err(cannot)?;
    if kind != ObjectType::Blob {
        return Err(format!("`{path}` at `{rev}` is not a file"));
    }
    let limit = max_input();
    if size as u64 > limit {
        return Err(format!(
            "`{path}` at `{rev}` is {} bytes, larger than netc's input limit of {} (a topology is far smaller; `--max-input-size` raises the limit)",
            size,
            show_size(limit)
        ));
    }
    let blob = repo.find_blob(entry.id()).map_err(cannot)?;
    Ok(Some(blob.content().to_vec()))
}

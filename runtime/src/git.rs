//! Reading files straight from git objects (no work tree): what `netc diff`
//! and the agent's source share.

use std::path::Path;

use git2::{Repository, Tree};

/// The bytes of the file at `path` in `tree` (of revision `rev`, named in
/// errors), or `None` when there is none.
pub fn blob(repo: &Repository, tree: &Tree<'_>, path: &str, rev: &str) -> Result<Option<Vec<u8>>, String> {
    let entry = match tree.get_path(Path::new(path)) {
        Ok(entry) => entry,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read `{path}` at `{rev}`: {}", e.message())),
    };
    let object = entry
        .to_object(repo)
        .map_err(|e| format!("cannot read `{path}` at `{rev}`: {}", e.message()))?;
    let blob = object
        .into_blob()
        .map_err(|_| format!("`{path}` at `{rev}` is not a file"))?;
    Ok(Some(blob.content().to_vec()))
}

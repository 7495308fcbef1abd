//! The state directory (`--state-dir`, default `/var/lib/netc`): what netc
//! remembers between applies on a node.
//!
//! - `inventory.json`: the keys of the objects netc created or adopted
//!   (`engine::Inventory`), written after a successful apply only. It is
//!   what allows pruning: netc deletes only what this file lists.
//! - `program.json`: a copy of the last program applied successfully.
//!
//! A missing directory or inventory file is an empty inventory (a node netc
//! never touched). Both files are written atomically.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::engine::Inventory;
use crate::files::write_atomic_with_mode;

/// The default state directory.
pub const DEFAULT_DIR: &str = "/var/lib/netc";

pub fn inventory_path(dir: &Path) -> PathBuf {
    dir.join("inventory.json")
}

pub fn program_path(dir: &Path) -> PathBuf {
    dir.join("program.json")
}

/// The inventory of earlier applies; empty when there is none.
pub fn read_inventory(dir: &Path) -> Result<Inventory, String> {
    let path = inventory_path(dir);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("cannot read `{}`: {e}", path.display())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Inventory::new()),
        Err(e) => Err(format!("cannot read `{}`: {e}", path.display())),
    }
}

/// After a successful apply: the new inventory, then the program.
pub fn write(dir: &Path, inventory: &Inventory, program: &[u8]) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let mut json = serde_json::to_vec_pretty(inventory).map_err(|e| e.to_string())?;
    json.push(b'\n');
    write_atomic_with_mode(&inventory_path(dir), &json, Some(0o644))?;
    write_atomic_with_mode(&program_path(dir), program, Some(0o644))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ObjectKey;

    #[test]
    fn missing_dir_is_empty_and_writes_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        assert_eq!(read_inventory(&state).unwrap(), Inventory::new());
        let inventory: Inventory = [ObjectKey::Route("198.18.1.0/24".into())].into();
        write(&state, &inventory, b"{}\n").unwrap();
        assert_eq!(read_inventory(&state).unwrap(), inventory);
        assert_eq!(fs::read(program_path(&state)).unwrap(), b"{}\n");
    }
}

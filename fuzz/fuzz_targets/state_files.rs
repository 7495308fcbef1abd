//! The state directory's files as the runtime reads them after a power cut
//! or a hand edit: the first byte picks `inventory.json`, `last-good.json`,
//! `agent-status.json` or `windows-inventory.json`, the rest is its
//! content. Oracles: the apply's inventory read never fails on content (an
//! unreadable inventory counts as empty, with a problem to report); a
//! last-good pair that reads back is JSON the engine can be handed.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use netc_compiler::emit::program::bundle::CompiledNode;
use netc_node::{state, windows};
use netc_plan::engine;
use netc_runtime::agent::status::Status;

/// One scratch state directory for the whole run (each input overwrites
/// its one file and removes it after).
fn state_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch directory"))
        .path()
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, content)) = data.split_first() else {
        return;
    };
    let dir = state_dir();
    let file = match which % 4 {
        0 => state::inventory_path(dir),
        1 => state::last_good_path(dir),
        2 => Status::path(dir),
        _ => windows::inventory_path(dir),
    };
    std::fs::write(&file, content).expect("the scratch file is writable");
    match which % 4 {
        0 => {
            let (inventory, problem) =
                state::read_inventory_for_apply(dir).expect("content alone never fails the read");
            assert_eq!(problem.is_some(), state::read_inventory(dir).is_err());
            assert!(
                problem.is_none() || inventory.is_empty(),
                "an unreadable inventory must own nothing"
            );
        }
        1 => {
            if let Ok(Some(node)) = state::read_last_good(dir) {
                // What was read is what would be recorded again.
                let json = serde_json::to_vec(&node).expect("a bundle serializes");
                assert_eq!(serde_json::from_slice::<CompiledNode>(&json).ok().as_ref(), Some(&node));
                let _ = engine::desired(&node.program, &node.peers);
            }
        }
        2 => {
            if let Ok(status) = Status::read(dir) {
                let _ = serde_json::to_vec(&status).expect("a status serializes");
            }
        }
        _ => {
            let _ = windows::read_inventory(dir);
        }
    }
    std::fs::remove_file(&file).expect("the scratch file is removable");
});

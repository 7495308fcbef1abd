//! The last good program, kept in memory between drift rounds: read from
//! the state directory once (about 1 MB of JSON at 5,000 peers), and again
//! only when the file changed behind the agent's back, such as by an
//! operator's `netc apply` on the node, whose program the next drift round
//! must then keep.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use netc_compiler::emit::program::bundle::CompiledNode;
use netc_node::state;

/// What identifies one version of `last-good.json`: every write replaces
/// the file (a new inode on Unix) and sets its modification time.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: u64,
}

impl Stamp {
    /// The file's stamp now; `None` when it does not exist.
    fn of(dir: &Path) -> Result<Option<Stamp>, String> {
        let path = state::last_good_path(dir);
        match std::fs::metadata(&path) {
            Ok(metadata) => Ok(Some(Stamp {
                len: metadata.len(),
                modified: metadata.modified().ok(),
                #[cfg(unix)]
                inode: std::os::unix::fs::MetadataExt::ino(&metadata),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read `{}`: {e}", path.display())),
        }
    }
}

/// The cached last good program and the stamp of the file it came from.
#[derive(Default)]
pub struct LastGood {
    cached: Option<(Stamp, Arc<CompiledNode>)>,
}

impl LastGood {
    /// The last good program in `dir`, from memory while the file is the
    /// one it was read from (or written as).
    pub fn get(&mut self, dir: &Path) -> Result<Option<Arc<CompiledNode>>, String> {
        let Some(stamp) = Stamp::of(dir)? else {
            self.cached = None;
            return Ok(None);
        };
        if let Some((cached, node)) = &self.cached {
            if *cached == stamp {
                return Ok(Some(Arc::clone(node)));
            }
        }
        let Some(node) = state::read_last_good(dir)? else {
            self.cached = None;
            return Ok(None);
        };
        let node = Arc::new(node);
        self.cached = Some((stamp, Arc::clone(&node)));
        Ok(Some(node))
    }

    /// After this agent recorded `node` as the last good program in `dir`.
    pub fn keep(&mut self, dir: &Path, node: Arc<CompiledNode>) {
        self.cached = match Stamp::of(dir) {
            Ok(Some(stamp)) => Some((stamp, node)),
            // Not written after all: read it again next time.
            _ => None,
        };
    }

    /// Whether the program comes from memory (tests).
    #[cfg(test)]
    fn is_cached(&self) -> bool {
        self.cached.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> CompiledNode {
        CompiledNode::from_json(
            name,
            format!(r#"{{"version":1,"node":"{name}","os":"linux","operations":[]}}"#).as_bytes(),
            br#"{"version":1,"cluster":"c","backend":"vxlan","nodes":[]}"#,
        )
        .unwrap()
    }

    /// Read once, then served from memory; a file replaced behind the
    /// agent's back (another writer) is read again; a removed one is gone.
    #[test]
    fn the_file_is_read_again_only_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let mut last_good = LastGood::default();
        assert_eq!(last_good.get(dir.path()).unwrap(), None);

        state::commit_last_good(dir.path(), &node("a")).unwrap();
        assert_eq!(last_good.get(dir.path()).unwrap().unwrap().program.node, "a");
        assert!(last_good.is_cached());
        // Served from memory: an unreadable copy put in place without
        // changing its stamp would not be noticed, so prove it the other
        // way: the same Arc comes back.
        let first = last_good.get(dir.path()).unwrap().unwrap();
        let second = last_good.get(dir.path()).unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &second));

        // Another writer (an atomic replace: a new file).
        state::commit_last_good(dir.path(), &node("b")).unwrap();
        assert_eq!(last_good.get(dir.path()).unwrap().unwrap().program.node, "b");

        // This agent's own write is kept without reading it back.
        state::commit_last_good(dir.path(), &node("c")).unwrap();
        let c = Arc::new(node("c"));
        last_good.keep(dir.path(), Arc::clone(&c));
        assert!(Arc::ptr_eq(&last_good.get(dir.path()).unwrap().unwrap(), &c));

        std::fs::remove_file(state::last_good_path(dir.path())).unwrap();
        assert_eq!(last_good.get(dir.path()).unwrap(), None);
        assert!(!last_good.is_cached());
    }
}

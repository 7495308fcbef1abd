//! The set of files a compile produces, keyed by their path relative to the
//! output directory. Paths are sorted (a `BTreeMap`), JSON is pretty-printed
//! with sorted keys and a final newline, and `index.json` lists every file
//! with its SHA-256, so the same topology always gives the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Files by relative path (`/`-separated).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Artifacts {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Artifacts {
    pub fn text(&mut self, path: impl Into<String>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into().into_bytes());
    }

    /// Pretty JSON with a trailing newline.
    pub fn json(&mut self, path: impl Into<String>, value: &impl Serialize) {
        self.text(path, to_json(value));
    }

    /// Add `index.json`: every other file with its size and SHA-256.
    pub fn finish(mut self) -> Artifacts {
        #[derive(Serialize)]
        struct Entry<'a> {
            path: &'a str,
            bytes: usize,
            sha256: String,
        }
        #[derive(Serialize)]
        struct Index<'a> {
            generator: &'static str,
            artifacts: Vec<Entry<'a>>,
        }
        self.files.remove(INDEX);
        let artifacts = self
            .files
            .iter()
            .map(|(path, bytes)| Entry {
                path,
                bytes: bytes.len(),
                sha256: hex(&Sha256::digest(bytes)),
            })
            .collect();
        let index = to_json(&Index {
            generator: "netc",
            artifacts,
        });
        self.files.insert(INDEX.to_string(), index.into_bytes());
        self
    }
}

pub const INDEX: &str = "index.json";

pub fn to_json(value: &impl Serialize) -> String {
    // Going through `Value` sorts every object's keys.
    let value = serde_json::to_value(value).expect("artifacts serialize");
    let mut text = serde_json::to_string_pretty(&value).expect("values serialize");
    text.push('\n');
    text
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

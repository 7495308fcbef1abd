//! Where each value of a YAML or JSON topology is written, by JSON pointer
//! (`/nodes/2/address`), so that diagnostics point at the right line.
//!
//! The parsers that build the values do not keep positions, so this module
//! scans the text a second time, after it has parsed: JSON exactly, YAML by
//! its indentation (block style, plus flow collections on one line). A
//! pointer it cannot place falls back to its nearest placed ancestor.

use std::collections::BTreeMap;

use crate::diagnostic::Span;

/// A value's position: `key` is its key in the parent mapping (for a list
/// item the whole `- ` line, for the root the first line), `value` the value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Place {
    pub key: Span,
    pub value: Span,
}

#[derive(Debug, Default)]
pub struct Places {
    places: BTreeMap<String, Place>,
}

impl Places {
    /// The first place recorded for a pointer wins.
    pub(super) fn insert(&mut self, pointer: &str, key: Span, value: Span) {
        self.places.entry(pointer.to_string()).or_insert(Place { key, value });
    }

    /// The place of `pointer`, or of its nearest placed ancestor.
    pub fn find(&self, pointer: &str) -> Place {
        let mut pointer = pointer;
        loop {
            if let Some(place) = self.places.get(pointer) {
                return *place;
            }
            match pointer.rfind('/') {
                Some(slash) => pointer = &pointer[..slash],
                None => return Place::default(),
            }
        }
    }
}

/// A JSON pointer one segment further down (RFC 6901 escaping).
pub fn child(pointer: &str, segment: &str) -> String {
    format!("{pointer}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

/// Places of a JSON text that `serde_json` has already accepted.
pub fn json(text: &str) -> Places {
    let mut scanner = JsonScanner {
        text: text.as_bytes(),
        at: 0,
        places: Places::default(),
    };
    scanner.blank();
    let start = scanner.at;
    scanner.value("");
    let root = Span::new(start, scanner.at);
    scanner.places.insert("", root, root);
    scanner.places
}

struct JsonScanner<'t> {
    text: &'t [u8],
    at: usize,
    places: Places,
}

impl JsonScanner<'_> {
    fn blank(&mut self) {
        while self.at < self.text.len() && self.text[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.blank();
        let found = self.text.get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// Skip one value, recording it and everything inside it.
    fn value(&mut self, pointer: &str) {
        self.blank();
        match self.text.get(self.at) {
            Some(b'{') => {
                self.at += 1;
                while !self.eat(b'}') && self.at < self.text.len() {
                    self.blank();
                    let key_start = self.at;
                    self.string();
                    let key_span = Span::new(key_start, self.at);
                    let key = std::str::from_utf8(&self.text[key_start..self.at])
                        .ok()
                        .and_then(|raw| serde_json::from_str::<String>(raw).ok())
                        .unwrap_or_default();
                    self.eat(b':');
                    self.blank();
                    let value_start = self.at;
                    let path = child(pointer, &key);
                    self.value(&path);
                    self.places.insert(&path, key_span, Span::new(value_start, self.at));
                    self.eat(b',');
                }
            }
            Some(b'[') => {
                self.at += 1;
                let mut index = 0;
                while !self.eat(b']') && self.at < self.text.len() {
                    self.blank();
                    let start = self.at;
                    let path = child(pointer, &index.to_string());
                    self.value(&path);
                    let span = Span::new(start, self.at);
                    self.places.insert(&path, span, span);
                    self.eat(b',');
                    index += 1;
                }
            }
            Some(b'"') => self.string(),
            Some(_) => {
                while self.at < self.text.len() && !b",}] \t\r\n".contains(&self.text[self.at]) {
                    self.at += 1;
                }
            }
            None => {}
        }
    }

    fn string(&mut self) {
        if self.text.get(self.at) != Some(&b'"') {
            return;
        }
        self.at += 1;
        while self.at < self.text.len() {
            match self.text[self.at] {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return;
                }
                _ => self.at += 1,
            }
        }
    }
}

/// Places of a YAML text that the YAML parser has already accepted.
pub fn yaml(text: &str) -> Places {
    super::locate_yaml::places(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text a pointer's key and value spans cover.
    fn at<'t>(text: &'t str, places: &Places, pointer: &str) -> (&'t str, &'t str) {
        let place = places.find(pointer);
        let slice = |s: Span| &text[s.start as usize..s.end as usize];
        (slice(place.key), slice(place.value))
    }

    #[test]
    fn json_values_are_found_by_pointer() {
        let text = "{\"a\": {\"b/c\": [1, \"x\\\"y\"]},\n \"d\": true}";
        let places = json(text);
        assert_eq!(at(text, &places, "/a/b~1c"), ("\"b/c\"", "[1, \"x\\\"y\"]"));
        assert_eq!(at(text, &places, "/a/b~1c/1"), ("\"x\\\"y\"", "\"x\\\"y\""));
        assert_eq!(at(text, &places, "/d"), ("\"d\"", "true"));
        // Unknown pointers fall back to the nearest known ancestor.
        assert_eq!(at(text, &places, "/a/zzz/0"), ("\"a\"", "{\"b/c\": [1, \"x\\\"y\"]}"));
    }

    #[test]
    fn yaml_values_are_found_by_pointer() {
        let text = "\
# comment
cluster:
  name: demo   # trailing comment
  pod-network: [10.244.0.0/16, 'fd00::/56']
  backend: {type: vxlan, vni: 4096}
nodes:
- name: a
  os: linux
-   name: \"b # not a comment\"
    address: 10.0.0.2
tors:
  - name: t
    route:
      - prefix: 10.244.200.0/24
        via: 10.0.0.9
list:
  -
    - x
    - y
";
        let places = yaml(text);
        assert_eq!(at(text, &places, "/cluster/name"), ("name", "demo"));
        assert_eq!(
            at(text, &places, "/cluster/pod-network/1"),
            ("'fd00::/56'", "'fd00::/56'")
        );
        assert_eq!(at(text, &places, "/cluster/backend/vni"), ("vni", "4096"));
        assert_eq!(at(text, &places, "/nodes/0"), ("- name: a", "name: a\n  os: linux"));
        assert_eq!(at(text, &places, "/nodes/0/os"), ("os", "linux"));
        assert_eq!(at(text, &places, "/nodes/1/name").1, "\"b # not a comment\"");
        assert_eq!(at(text, &places, "/nodes/1/address"), ("address", "10.0.0.2"));
        assert_eq!(at(text, &places, "/tors/0/route/0/via"), ("via", "10.0.0.9"));
        assert_eq!(at(text, &places, "/list/0/1"), ("- y", "y"));
    }
}

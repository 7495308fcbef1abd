//! The line-level lexing of [`super::locate_yaml`]: which lines carry
//! content (without indentation or comment), where a `key:` is, and where a
//! flow scalar ends. Only as much YAML as finding positions needs.

use crate::diagnostic::Span;

#[derive(Clone, Copy, Debug)]
pub struct Line {
    /// Column of the first character (spaces only; YAML forbids tabs here).
    pub indent: usize,
    /// Byte offsets of the content, without indentation or comment.
    pub start: usize,
    pub end: usize,
}

/// The lines that carry content, with comments and indentation cut off.
pub fn lines(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let begin = offset;
        offset += raw.len();
        let body = raw.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start_matches(' ').len();
        let start = begin + indent;
        let end = begin + content_end(body);
        let content = &text[start..end.max(start)];
        if end <= start || content.starts_with("---") || content.starts_with("...") || content.starts_with('%') {
            continue;
        }
        lines.push(Line { indent, start, end });
    }
    lines
}

/// The length of a line without its comment and trailing blanks.
fn content_end(line: &str) -> usize {
    let mut quote = None;
    let mut previous = ' ';
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if (c == '"' || c == '\'') && (previous == ' ' || "[{,:-".contains(previous)) => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => {
                end = i;
                break;
            }
            None => {}
        }
        previous = c;
    }
    line[..end].trim_end().len()
}

pub fn skip_spaces(text: &str, mut at: usize, end: usize) -> usize {
    while at < end && text.as_bytes()[at] == b' ' {
        at += 1;
    }
    at
}

/// The end of a flow scalar: the first of `stops` outside quotes.
pub fn scan_scalar(bytes: &[u8], mut at: usize, end: usize, stops: &[u8]) -> usize {
    let mut quote = None;
    while at < end {
        let b = bytes[at];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if stops.contains(&b) => break,
            None => {}
        }
        at += 1;
    }
    at
}

/// `key: value` or `key:` at `start`: the key, its span and the colon.
pub fn split_key(text: &str, start: usize, end: usize) -> Option<(String, Span, usize)> {
    let bytes = text.as_bytes();
    let key_end = match bytes.get(start) {
        Some(b'"' | b'\'') => scan_scalar(bytes, start + 1, end, &[bytes[start]]).min(end) + 1,
        Some(b'[' | b'{' | b'|' | b'>' | b'&' | b'*' | b'!') | None => return None,
        Some(_) => {
            let mut at = start;
            loop {
                let colon = at + text[at..end].find(':')?;
                let after = bytes.get(colon + 1);
                if colon + 1 >= end || after == Some(&b' ') {
                    break colon;
                }
                at = colon + 1;
            }
        }
    };
    let colon = skip_spaces(text, key_end.min(end), end);
    if bytes.get(colon) != Some(&b':') || (colon + 1 < end && bytes[colon + 1] != b' ') {
        return None;
    }
    let key = unquote(text[start..key_end.min(end)].trim());
    Some((key, Span::new(start, key_end.min(end)), colon))
}

/// A key as the YAML parser reads it (common cases: plain, '', "").
pub fn unquote(key: &str) -> String {
    if key.len() >= 2 && key.starts_with('"') && key.ends_with('"') {
        return serde_json::from_str(key).unwrap_or_else(|_| key[1..key.len() - 1].to_string());
    }
    if key.len() >= 2 && key.starts_with('\'') && key.ends_with('\'') {
        return key[1..key.len() - 1].replace("''", "'");
    }
    key.to_string()
}

//! The YAML half of [`super::locate`]: a second, position-keeping pass over
//! a YAML text the YAML parser has accepted. It follows block structure by
//! indentation (mappings, `- ` sequences, a mapping that starts on a `- `
//! line, nested sequences at their key's indentation) and reads flow
//! collections (`[a, b]`, `{k: v}`) on one line. Multi-line scalars are
//! skipped whole. Anything else keeps its ancestor's place.

use super::locate::{child, Places};
use super::yaml_lines::{lines, scan_scalar, skip_spaces, split_key, unquote, Line};
use crate::diagnostic::Span;

pub fn places(text: &str) -> Places {
    let lines = lines(text);
    let mut scanner = Scanner {
        text,
        lines,
        at: 0,
        places: Places::default(),
    };
    let first = scanner.lines.first().copied();
    let last = scanner.lines.last().copied();
    if let (Some(first), Some(last)) = (first, last) {
        scanner.block("", first.indent);
        scanner.record("", Span::new(first.start, first.end), Span::new(first.start, last.end));
    }
    scanner.places
}

struct Scanner<'t> {
    text: &'t str,
    lines: Vec<Line>,
    at: usize,
    places: Places,
}

impl Scanner<'_> {
    fn record(&mut self, pointer: &str, key: Span, value: Span) {
        self.places.insert(pointer, key, value);
    }

    fn is_dash(&self, line: Line) -> bool {
        let content = &self.text[line.start..line.end];
        content == "-" || content.starts_with("- ")
    }

    /// The block starting at the current line, at `indent`; returns where
    /// its content ends.
    fn block(&mut self, pointer: &str, indent: usize) -> usize {
        match self.lines.get(self.at) {
            Some(&line) if line.indent == indent && self.is_dash(line) => self.sequence(pointer, indent),
            Some(&line) if line.indent == indent => self.mapping(pointer, indent),
            _ => 0,
        }
    }

    fn sequence(&mut self, pointer: &str, indent: usize) -> usize {
        let mut end = 0;
        let mut index = 0usize;
        while let Some(&line) = self.lines.get(self.at) {
            if line.indent != indent || !self.is_dash(line) {
                break;
            }
            let path = child(pointer, &index.to_string());
            let rest = skip_spaces(self.text, line.start + 1, line.end);
            let whole_line = Span::new(line.start, line.end);
            if rest >= line.end {
                // `-` alone: the item is the block below it.
                self.at += 1;
                end = line.end;
                if let Some(&next) = self.lines.get(self.at) {
                    if next.indent > indent {
                        end = self.block(&path, next.indent).max(end);
                    }
                }
                self.record(&path, whole_line, Span::new(line.start, end));
            } else if self.is_key(rest, line.end) || self.text[rest..line.end].starts_with('-') {
                // `- key: value` or `- - x`: a block that starts on this
                // line, indented to where its first key is.
                let column = indent + (rest - line.start);
                self.lines[self.at] = Line {
                    indent: column,
                    start: rest,
                    end: line.end,
                };
                end = self.block(&path, column).max(line.end);
                self.record(&path, whole_line, Span::new(rest, end));
            } else {
                self.inline(&path, rest, line.end);
                self.record(&path, whole_line, Span::new(rest, line.end));
                end = self.skip_deeper(indent, line.end);
            }
            index += 1;
        }
        end
    }

    fn mapping(&mut self, pointer: &str, indent: usize) -> usize {
        let mut end = 0;
        while let Some(&line) = self.lines.get(self.at) {
            if line.indent != indent || self.is_dash(line) {
                break;
            }
            let Some((key, key_span, colon)) = split_key(self.text, line.start, line.end) else {
                self.at += 1;
                end = self.skip_deeper(indent, line.end);
                continue;
            };
            let path = child(pointer, &key);
            let value = skip_spaces(self.text, colon + 1, line.end);
            if value >= line.end {
                self.at += 1;
                end = line.end;
                let mut span = Span::new(line.end, line.end);
                if let Some(&next) = self.lines.get(self.at) {
                    if next.indent > indent || (next.indent == indent && self.is_dash(next)) {
                        end = self.block(&path, next.indent).max(end);
                        span = Span::new(next.start, end);
                    }
                }
                self.record(&path, key_span, span);
            } else {
                self.inline(&path, value, line.end);
                self.record(&path, key_span, Span::new(value, line.end));
                end = self.skip_deeper(indent, line.end);
            }
        }
        end
    }

    /// Past the current line and the lines indented deeper than `indent`
    /// (a multi-line or block scalar); returns where they end.
    fn skip_deeper(&mut self, indent: usize, mut end: usize) -> usize {
        self.at += 1;
        while let Some(&line) = self.lines.get(self.at) {
            if line.indent <= indent {
                break;
            }
            end = line.end;
            self.at += 1;
        }
        end
    }

    fn is_key(&self, start: usize, end: usize) -> bool {
        split_key(self.text, start, end).is_some()
    }

    /// A value written on one line: record the items of a flow collection.
    fn inline(&mut self, pointer: &str, start: usize, end: usize) {
        if matches!(self.text.as_bytes()[start], b'[' | b'{') {
            let mut at = start;
            self.flow(pointer, &mut at, end);
        }
    }

    fn flow(&mut self, pointer: &str, at: &mut usize, end: usize) {
        let bytes = self.text.as_bytes();
        let close = if bytes[*at] == b'[' { b']' } else { b'}' };
        *at += 1;
        let mut index = 0usize;
        while *at < end {
            *at = skip_spaces(self.text, *at, end);
            if *at >= end || bytes[*at] == close {
                *at += 1;
                return;
            }
            let (path, key_span) = if close == b'}' {
                let key_start = *at;
                let key_end = scan_scalar(bytes, *at, end, b":,}");
                let key = unquote(self.text[key_start..key_end].trim());
                *at = skip_spaces(self.text, (key_end + 1).min(end), end);
                (child(pointer, &key), Span::new(key_start, key_end))
            } else {
                (child(pointer, &index.to_string()), Span::new(*at, *at))
            };
            let value_start = *at;
            if *at < end && matches!(bytes[*at], b'[' | b'{') {
                self.flow(&path, at, end);
            } else {
                *at = scan_scalar(bytes, *at, end, &[b',', close]);
            }
            let value = Span::new(value_start, value_start + self.text[value_start..*at].trim_end().len());
            let key = if close == b'}' { key_span } else { value };
            self.record(&path, key, value);
            *at = skip_spaces(self.text, *at, end);
            if *at < end && bytes[*at] == b',' {
                *at += 1;
            }
            index += 1;
        }
    }
}

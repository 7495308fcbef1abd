//! A source file and its line index: byte offsets in, 1-based line and
//! column (in characters) out.

/// One `.netc` file as text, with the name diagnostics should print.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

/// A 1-based position as editors show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line and column of a byte offset. Offsets past the end, or inside
    /// a multi-byte character, are clamped rather than trusted.
    pub fn line_col(&self, offset: u32) -> LineCol {
        let offset = (offset as usize).min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line];
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        LineCol {
            line: line + 1,
            column: self.text[start..end].chars().count() + 1,
        }
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self.line_starts.get(line).map_or(self.text.len(), |&next| next - 1);
        self.text[start..end].trim_end_matches('\r')
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let file = SourceFile::new("t.netc", "ab\n\"é\" x\n");
        assert_eq!(file.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(file.line_col(3), LineCol { line: 2, column: 1 });
        // `x` is after a two-byte character: byte 8, column 5.
        assert_eq!(file.line_col(8), LineCol { line: 2, column: 5 });
        assert_eq!(file.line_text(2), "\"é\" x");
        assert_eq!(file.line_col(999), LineCol { line: 3, column: 1 });
    }

    #[test]
    fn offsets_inside_a_character_do_not_panic() {
        let file = SourceFile::new("t.netc", "é");
        assert_eq!(file.line_col(1), LineCol { line: 1, column: 1 });
    }
}

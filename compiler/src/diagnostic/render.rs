//! Human rendering in the style of rustc: `error[CODE]: message`, the file
//! position, the source lines with carets, then `help:` and notes.
//!
//! Pure and colourless on purpose: the same bytes go to terminals, CI logs
//! and golden files.

use std::fmt::Write;

use super::{Diagnostic, SourceFile};

/// Render every diagnostic, separated by blank lines, plus a summary line
/// (`error: 2 errors, 1 warning in FILE`) when there is anything to report.
pub fn render_all(file: &SourceFile, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(&render(file, diagnostic));
        out.push('\n');
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if !diagnostics.is_empty() {
        let _ = writeln!(
            out,
            "{}: {} in {}",
            if errors > 0 { "error" } else { "warning" },
            summary(errors, warnings),
            file.name()
        );
    }
    out
}

/// `2 errors, 1 warning`.
pub fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) => plural(w, "warning"),
        (e, 0) => plural(e, "error"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

/// Render one diagnostic.
pub fn render(file: &SourceFile, diagnostic: &Diagnostic) -> String {
    let mut out = String::new();
    let primary = file.line_col(diagnostic.primary.span.start);
    let _ = writeln!(
        out,
        "{}[{}]: {}",
        diagnostic.severity.as_str(),
        diagnostic.code,
        diagnostic.message
    );

    // Every label, primary first, ordered by line for display.
    let mut labels: Vec<(usize, usize, usize, char, &str)> = Vec::new();
    let all = std::iter::once((&diagnostic.primary, '^')).chain(diagnostic.secondary.iter().map(|l| (l, '-')));
    for (label, mark) in all {
        let start = file.line_col(label.span.start);
        let end = file.line_col(label.span.end);
        // Multi-line spans are underlined to the end of their first line.
        let line_len = file.line_text(start.line).chars().count();
        let end_col = if end.line == start.line {
            end.column
        } else {
            line_len + 1
        };
        let width = end_col.saturating_sub(start.column).max(1);
        labels.push((start.line, start.column, width, mark, &label.message));
    }
    labels.sort_by_key(|&(line, column, _, mark, _)| (line, column, mark != '^'));

    let gutter = labels.iter().map(|l| l.0).max().unwrap_or(1).to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {}:{}:{}", file.name(), primary.line, primary.column);
    let _ = writeln!(out, "{pad} |");
    let mut last_line: Option<usize> = None;
    for (line, column, width, mark, message) in &labels {
        if last_line != Some(*line) {
            if let Some(previous) = last_line {
                if *line > previous + 1 {
                    let _ = writeln!(out, "{pad}...");
                }
            }
            let text = file.line_text(*line).replace('\t', " ");
            let _ = writeln!(out, "{line:>gutter$} | {text}");
            last_line = Some(*line);
        }
        let underline = mark.to_string().repeat(*width);
        let indent = " ".repeat(column - 1);
        let message = if message.is_empty() {
            String::new()
        } else {
            format!(" {message}")
        };
        let _ = writeln!(out, "{pad} | {indent}{underline}{message}");
    }
    let _ = writeln!(out, "{pad} |");
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
    for note in &diagnostic.notes {
        let _ = writeln!(out, "{pad} = note: {note}");
    }
    let _ = writeln!(
        out,
        "{pad} = note: for more information, run `netc explain {}`",
        diagnostic.code
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;

    #[test]
    fn renders_code_position_caret_and_help() {
        let file = SourceFile::new("demo.netc", "node a {\n  adress 10.0.0.1\n}\n");
        let diagnostic = Diagnostic::error("N0104", Span::new(11, 17), "unknown setting `adress`")
            .label("not a `node` setting")
            .with_secondary(Span::new(5, 6), "in this node")
            .help("did you mean `address`?");
        let expected = "\
error[N0104]: unknown setting `adress`
 --> demo.netc:2:3
  |
1 | node a {
  |      - in this node
2 |   adress 10.0.0.1
  |   ^^^^^^ not a `node` setting
  |
  = help: did you mean `address`?
  = note: for more information, run `netc explain N0104`
";
        assert_eq!(render(&file, &diagnostic), expected);
    }

    #[test]
    fn summary_counts_errors_and_warnings() {
        assert_eq!(summary(1, 0), "1 error");
        assert_eq!(summary(2, 1), "2 errors, 1 warning");
        assert_eq!(summary(0, 3), "3 warnings");
    }
}

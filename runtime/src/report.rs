//! Printing diagnostics in the three formats: human (the compiler's own
//! renderer), JSON lines, and GitHub Actions workflow commands.

use netc_compiler::diagnostic::render;
use netc_compiler::diagnostic::{Diagnostic, SourceFile};
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Format;

/// One diagnostic as a JSON line. The field set only grows.
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: &'a str,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    help: Option<&'a str>,
    notes: &'a [String],
    labels: Vec<JsonLabel<'a>>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    line: usize,
    column: usize,
    message: &'a str,
    primary: bool,
}

/// How many diagnostics of one file are printed by default: a file that is
/// not a topology at all (random bytes, the wrong file) would otherwise
/// print hundreds of thousands. `--error-limit` changes it; 0 prints all.
pub const DEFAULT_ERROR_LIMIT: usize = 100;
static ERROR_LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_ERROR_LIMIT);

/// Set the error limit for this process (`--error-limit`).
pub fn set_error_limit(limit: usize) {
    ERROR_LIMIT.store(limit, Ordering::Relaxed);
}

/// The report for one file's diagnostics, ready to print on stdout: the
/// first `--error-limit` of them (they are sorted by position), then how
/// many more there are (in the human report; on stderr for the machine
/// formats, whose every line stays one diagnostic).
pub fn format(file: &SourceFile, diagnostics: &[Diagnostic], format: Format) -> String {
    let limit = ERROR_LIMIT.load(Ordering::Relaxed);
    let shown = if limit == 0 {
        diagnostics
    } else {
        &diagnostics[..limit.min(diagnostics.len())]
    };
    if !matches!(format, Format::Human) && shown.len() < diagnostics.len() {
        eprintln!(
            "netc: {} more diagnostics in {} not shown (`--error-limit 0` shows all)",
            diagnostics.len() - shown.len(),
            file.name()
        );
    }
    match format {
        Format::Human => render::render_limited(file, diagnostics, limit),
        Format::Json => shown.iter().map(|d| json(file, d) + "\n").collect(),
        Format::Github => shown.iter().map(|d| github(file, d) + "\n").collect(),
    }
}

fn json(file: &SourceFile, d: &Diagnostic) -> String {
    let start = file.line_col(d.primary.span.start);
    let end = file.line_col(d.primary.span.end);
    let labels = std::iter::once((&d.primary, true))
        .chain(d.secondary.iter().map(|l| (l, false)))
        .map(|(label, primary)| {
            let at = file.line_col(label.span.start);
            JsonLabel {
                line: at.line,
                column: at.column,
                message: &label.message,
                primary,
            }
        })
        .collect();
    let value = JsonDiagnostic {
        code: d.code,
        severity: d.severity.as_str(),
        message: &d.message,
        file: file.name(),
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
        help: d.help.as_deref(),
        notes: &d.notes,
        labels,
    };
    serde_json::to_string(&value).expect("diagnostics serialize")
}

/// `::error file=F,line=L,col=C,endLine=..,endColumn=..,title=CODE::message`,
/// with the help folded into the message (GitHub shows it under the line).
fn github(file: &SourceFile, d: &Diagnostic) -> String {
    let start = file.line_col(d.primary.span.start);
    let end = file.line_col(d.primary.span.end);
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}",
        d.severity.as_str(),
        escape_property(file.name()),
        start.line,
        start.column,
        end.line,
        end.column,
        escape_property(&format!("netc {}", d.code)),
        escape_data(&message)
    )
}

// GitHub's workflow-command escaping: data escapes `%`, CR and LF;
// properties also `:` and `,`.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use netc_compiler::diagnostic::Span;

    #[test]
    fn github_annotations_escape_their_syntax() {
        let file = SourceFile::new("a,b:c.netc", "vni 1\n");
        let d = Diagnostic::error("N0301", Span::new(4, 5), "100% wrong").help("set `vni 4096`");
        assert_eq!(
            github(&file, &d),
            "::error file=a%2Cb%3Ac.netc,line=1,col=5,endLine=1,endColumn=6,title=netc N0301::100%25 wrong%0Ahelp: set `vni 4096`"
        );
    }

    #[test]
    fn json_lines_carry_position_and_help() {
        let file = SourceFile::new("t.netc", "x\nvni 1\n");
        let d = Diagnostic::error("N0301", Span::new(6, 7), "bad").help("fix");
        let value: serde_json::Value = serde_json::from_str(&json(&file, &d)).unwrap();
        assert_eq!(value["code"], "N0301");
        assert_eq!(value["severity"], "error");
        assert_eq!(value["line"], 2);
        assert_eq!(value["column"], 5);
        assert_eq!(value["help"], "fix");
        assert_eq!(value["file"], "t.netc");
    }
}

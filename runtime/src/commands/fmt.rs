//! `netc fmt [--check] FILE...`: canonical layout, written atomically.
//! A file with syntax errors is never rewritten.

use std::path::PathBuf;

use netc_compiler::diagnostic::render;

use crate::{files, Outcome};

pub fn run(paths: &[PathBuf], check: bool) -> Outcome {
    let mut outcome = Outcome::Clean;
    for path in paths {
        let Some(source) = super::read_or_report(path, &mut outcome) else {
            continue;
        };
        let formatted = match netc_compiler::format(&source) {
            Ok(text) => text,
            Err(diagnostics) => {
                print!("{}", render::render_all(&source, &diagnostics));
                eprintln!("error: not formatting `{}`: fix its syntax errors first", source.name());
                outcome = outcome.max(Outcome::Problems);
                continue;
            }
        };
        if source.name() == "-" {
            print!("{formatted}");
        } else if formatted == source.text() {
            continue;
        } else if check {
            println!("{}: not formatted (run `netc fmt {}`)", source.name(), source.name());
            outcome = outcome.max(Outcome::Problems);
        } else if let Err(message) = files::write_atomic(path, formatted.as_bytes()) {
            eprintln!("error: {message}");
            outcome = outcome.max(Outcome::Failure);
        } else {
            eprintln!("formatted {}", source.name());
        }
    }
    outcome
}

//! One module per subcommand.

pub mod adopt;
pub mod agent;
pub mod apply;
pub mod check;
pub mod compile;
pub mod deploy;
pub mod diff;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod windows;

use std::path::Path;

use netc_compiler::diagnostic::SourceFile;

use crate::{files, Outcome};

/// The source at `path`; when it cannot be read, the reason printed and
/// `outcome` raised to a failure (commands that take several files go on
/// with the next).
fn read_or_report(path: &Path, outcome: &mut Outcome) -> Option<SourceFile> {
    match files::read_source(path) {
        Ok(source) => Some(source),
        Err(message) => {
            eprintln!("error: {message}");
            *outcome = (*outcome).max(Outcome::Failure);
            None
        }
    }
}

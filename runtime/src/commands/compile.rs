//! `netc compile FILE -o DIR [--locked]`: check, then write every artifact.
//!
//! Nothing is written when the topology has errors, when the lock file
//! beside it cannot be read, or (with `--locked`) when the allocation would
//! change the lock file. Otherwise DIR is replaced as a whole and the lock
//! file is updated, each atomically.

use std::path::{Path, PathBuf};

use netc_compiler::diagnostic::SourceFile;
use netc_compiler::model::Lock;

use crate::report;
use crate::{files, Format, Outcome};

/// `topology.netc` -> `topology.netc.lock`.
pub fn lock_path(source: &Path) -> PathBuf {
    let mut name = source.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Read and parse the lock file, if there is one. Errors are reported here.
pub fn read_lock(source: &Path, format: Format) -> Result<Option<Lock>, Outcome> {
    let path = lock_path(source);
    if !path.exists() {
        return Ok(None);
    }
    let lock_source = files::read_source(&path).map_err(|message| {
        eprintln!("error: {message}");
        Outcome::Failure
    })?;
    let (lock, diagnostics) = Lock::parse(lock_source.text());
    if !diagnostics.is_empty() {
        print!("{}", report::format(&lock_source, &diagnostics, format));
        return Err(Outcome::Problems);
    }
    Ok(Some(lock))
}

pub fn run(path: &Path, out: &Path, locked: bool, format: Format) -> Outcome {
    let source = match files::read_source(path) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::Failure;
        }
    };
    let previous = match read_lock(path, format) {
        Ok(lock) => lock,
        Err(outcome) => return outcome,
    };
    let compilation = netc_compiler::compile(&source, previous.as_ref().unwrap_or(&Lock::default()));
    print!("{}", report::format(&source, &compilation.diagnostics, format));
    let (Some(artifacts), Some(lock)) = (compilation.artifacts, compilation.lock) else {
        eprintln!("error: `{}` has errors; nothing was written", source.name());
        return Outcome::Problems;
    };
    if locked && previous.as_ref() != Some(&lock) {
        explain_lock_change(&source, previous.as_ref(), &lock);
        return Outcome::Problems;
    }
    if let Err(message) = files::replace_dir(out, &artifacts.files) {
        eprintln!("error: {message}");
        return Outcome::Failure;
    }
    if previous.as_ref() != Some(&lock) {
        if let Err(message) = files::write_atomic(&lock_path(path), lock.render().as_bytes()) {
            eprintln!("error: {message}");
            return Outcome::Failure;
        }
        eprintln!("updated {}", lock_path(path).display());
    }
    eprintln!(
        "compiled {} -> {} ({} files)",
        source.name(),
        out.display(),
        artifacts.files.len()
    );
    Outcome::Clean
}

/// Why `--locked` refused: which nodes the lock file would add, drop or move.
fn explain_lock_change(source: &SourceFile, previous: Option<&Lock>, next: &Lock) {
    let empty = Lock::default();
    let previous = previous.unwrap_or(&empty);
    eprintln!(
        "error: the lock file of `{}` would change, and `--locked` forbids it; nothing was written",
        source.name()
    );
    for (name, subnets) in &next.nodes {
        match previous.nodes.get(name) {
            None => eprintln!("  + {name} {}", join(subnets)),
            Some(old) if old != subnets => eprintln!("  ~ {name} {} -> {}", join(old), join(subnets)),
            Some(_) => {}
        }
    }
    for (name, subnets) in &previous.nodes {
        if !next.nodes.contains_key(name) {
            eprintln!("  - {name} {}", join(subnets));
        }
    }
    eprintln!("help: run `netc compile` without `--locked` and commit the updated lock file");
}

fn join(subnets: &[ipnet::IpNet]) -> String {
    subnets.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

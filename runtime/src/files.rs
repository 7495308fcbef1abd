//! File access at the edge: reading sources with errors that name the path,
//! and writing files atomically (temporary file, fsync, rename) so that a
//! failed write never leaves half a file.

use std::fs;
use std::io::Write;
use std::path::Path;

use netc_compiler::diagnostic::SourceFile;

/// Read a `.netc` file; `-` reads standard input.
pub fn read_source(path: &Path) -> Result<SourceFile, String> {
    let name = path.display().to_string();
    let bytes = if name == "-" {
        let mut buffer = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buffer)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        buffer
    } else {
        fs::read(path).map_err(|e| format!("cannot read `{name}`: {e}"))?
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "cannot read `{name}`: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(SourceFile::new(name, text))
}

/// Replace `path` with `contents` atomically.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), String> {
    let name = path.display();
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| format!("cannot write `{name}`: not a file path"))?
        .to_string_lossy();
    let temp = dir.join(format!(".{file_name}.netc-tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&temp, meta.permissions())?;
        }
        fs::rename(&temp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&temp);
        format!("cannot write `{name}`: {e}")
    })
}

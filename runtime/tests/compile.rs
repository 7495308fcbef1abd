//! `netc compile` as a user runs it: the output tree appears atomically and
//! only for a clean topology, a foreign directory is never replaced, the
//! lock file is written and honoured, `--locked` refuses changes, a damaged
//! lock file is reported with nothing written, and the bytes do not depend
//! on the working directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::tree;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn netc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("netc runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn copy_example(name: &str, into: &Path) -> PathBuf {
    let target = into.join(name);
    std::fs::copy(repo().join("examples").join(name), &target).unwrap();
    target
}

#[test]
fn compile_writes_the_tree_and_the_lock_file() {
    let work = tempfile::tempdir().unwrap();
    copy_example("vxlan-mixed.netc", work.path());
    let output = netc_in(work.path(), &["compile", "vxlan-mixed.netc", "-o", "out"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let files = tree(&work.path().join("out"));
    for expected in [
        "index.json",
        "net-conf.json",
        "nodes/win-1/cni.conf",
        "nodes/master/subnet.env",
    ] {
        assert!(files.contains_key(expected), "missing {expected}: {:?}", files.keys());
    }
    let index = String::from_utf8(files["index.json"].clone()).unwrap();
    assert!(index.contains("\"path\": \"net-conf.json\""));
    let lock = std::fs::read_to_string(work.path().join("vxlan-mixed.netc.lock")).unwrap();
    assert!(lock.contains("\nmaster   10.244.0.0/24\n"), "{lock}");
    // Nothing is left behind beside the output.
    let siblings: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings.len(), 3, "{siblings:?}");
}

#[test]
fn the_same_input_gives_the_same_bytes_from_any_directory() {
    let work = tempfile::tempdir().unwrap();
    let source = copy_example("static-vxlan.netc", work.path());
    let elsewhere = tempfile::tempdir().unwrap();
    let first = netc_in(work.path(), &["compile", "static-vxlan.netc", "-o", "a"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let b = work.path().join("b");
    let second = netc_in(
        elsewhere.path(),
        &["compile", source.to_str().unwrap(), "-o", b.to_str().unwrap()],
    );
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(tree(&work.path().join("a")), tree(&b));
}

#[test]
fn errors_leave_the_previous_output_untouched() {
    let work = tempfile::tempdir().unwrap();
    let source = copy_example("vxlan-mixed.netc", work.path());
    assert_eq!(
        netc_in(work.path(), &["compile", "vxlan-mixed.netc", "-o", "out"])
            .status
            .code(),
        Some(0)
    );
    let before = tree(&work.path().join("out"));

    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(&source, text.replace("vni  4096", "vni  1")).unwrap();
    let failed = netc_in(work.path(), &["compile", "vxlan-mixed.netc", "-o", "out"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stdout).contains("error[N0301]"));
    assert!(stderr(&failed).contains("nothing was written"));
    assert_eq!(tree(&work.path().join("out")), before);
}

#[test]
fn a_directory_that_is_not_netc_output_is_never_replaced() {
    let work = tempfile::tempdir().unwrap();
    copy_example("vxlan-mixed.netc", work.path());
    let precious = work.path().join("home");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), "keep me").unwrap();
    let refused = netc_in(work.path(), &["compile", "vxlan-mixed.netc", "-o", "home"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("not a netc output directory"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read_to_string(precious.join("notes.txt")).unwrap(), "keep me");
}

#[test]
fn locked_refuses_to_change_the_lock_file() {
    let work = tempfile::tempdir().unwrap();
    let source = copy_example("host-gw-mixed.netc", work.path());
    // No lock file yet: --locked cannot create one.
    let first = netc_in(work.path(), &["compile", "--locked", "host-gw-mixed.netc", "-o", "out"]);
    assert_eq!(first.status.code(), Some(1));
    assert!(!work.path().join("out").exists());

    assert_eq!(
        netc_in(work.path(), &["compile", "host-gw-mixed.netc", "-o", "out"])
            .status
            .code(),
        Some(0)
    );
    let lock_path = work.path().join("host-gw-mixed.netc.lock");
    let lock = std::fs::read_to_string(&lock_path).unwrap();
    assert_eq!(
        netc_in(work.path(), &["compile", "--locked", "host-gw-mixed.netc", "-o", "out"])
            .status
            .code(),
        Some(0)
    );

    // Growing the range adds worker-4: the lock would change.
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(&source, text.replace("nodes worker count 3", "nodes worker count 4")).unwrap();
    let grown = netc_in(work.path(), &["compile", "--locked", "host-gw-mixed.netc", "-o", "out"]);
    assert_eq!(grown.status.code(), Some(1));
    assert!(stderr(&grown).contains("+ worker-4 "), "{}", stderr(&grown));
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), lock);

    // Without --locked the new node is added and no other node moves.
    assert_eq!(
        netc_in(work.path(), &["compile", "host-gw-mixed.netc", "-o", "out"])
            .status
            .code(),
        Some(0)
    );
    let updated = std::fs::read_to_string(&lock_path).unwrap();
    for line in lock.lines().filter(|l| !l.starts_with('#')) {
        assert!(updated.contains(line), "line `{line}` changed:\n{updated}");
    }
}

#[test]
fn a_damaged_lock_file_is_reported_and_nothing_is_written() {
    let work = tempfile::tempdir().unwrap();
    copy_example("host-gw-mixed.netc", work.path());
    std::fs::write(
        work.path().join("host-gw-mixed.netc.lock"),
        "version 1\nmaster 10.244.0.7/24\n",
    )
    .unwrap();
    let output = netc_in(work.path(), &["compile", "host-gw-mixed.netc", "-o", "out"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("error[N0207]"));
    assert!(!work.path().join("out").exists());
}

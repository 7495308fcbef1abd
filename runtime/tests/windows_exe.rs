//! The Windows build of netc (`netc.exe`, x86_64-pc-windows-gnu) run under
//! Wine beside the Linux build, as a user on a Windows workstation or the
//! Windows agent would run it:
//! - `netc.exe compile` of every example (`.netc`, YAML and JSON) writes
//!   the same bytes as the Linux build, the output tree and the lock file
//!   (line endings, path separators and order included);
//! - `netc.exe plan` of every Windows node of the golden outputs prints the
//!   golden apply and observe scripts (`golden/windows-plan/`);
//! - `netc.exe diff` of a repository reads git objects as the Linux build
//!   does and prints the same markdown.
//!
//! `.ci/run` builds `netc.exe` and Wine's prefix (`runtime/tests/consumers/
//! wine/setup.sh`) and sets `NETC_WINDOWS_NETC` (the exe) and `NETC_WINE`
//! (the runner). Without them the tests skip with a printed reason, or fail
//! under `NETC_REQUIRE_TOOLS=1`. The compiler's tests and the CLI tests
//! also run whole under Wine in CI (cargo's target runner); this file is
//! what needs both builds at once.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{run_within, text, tree};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The Wine runner and `netc.exe`, or a printed reason to skip.
fn windows_build() -> Option<(String, String)> {
    let wine = std::env::var("NETC_WINE").ok().filter(|p| Path::new(p).exists());
    let exe = std::env::var("NETC_WINDOWS_NETC")
        .ok()
        .filter(|p| Path::new(p).exists());
    match (wine, exe) {
        (Some(wine), Some(exe)) => Some((wine, exe)),
        _ => {
            assert!(
                std::env::var("NETC_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "NETC_WINE and NETC_WINDOWS_NETC must name Wine's runner and netc.exe (NETC_REQUIRE_TOOLS=1)"
            );
            eprintln!("skipped: set NETC_WINE and NETC_WINDOWS_NETC (.ci/run builds both) to run netc.exe under Wine");
            None
        }
    }
}

/// `netc.exe ARGS` under Wine, bounded in time. Paths are absolute: Wine
/// maps them through drive Z: (the Unix root). The tests share one Wine
/// prefix, and a client that connects just as the previous wineserver
/// exits gets "wine client error: ... Connection reset by peer" before
/// netc.exe starts: Wine's own race, not netc's; that start is retried,
/// at most twice.
fn windows(build: &(String, String), args: &[&str]) -> Output {
    let mut all = vec![build.0.as_str(), build.1.as_str()];
    all.extend_from_slice(args);
    let mut output = run_within("120", &all, None, &[]);
    for _ in 0..2 {
        if !String::from_utf8_lossy(&output.stderr).starts_with("wine client error") {
            break;
        }
        output = run_within("120", &all, None, &[]);
    }
    output
}

/// The Linux `netc ARGS`.
fn linux(args: &[&str]) -> Output {
    let mut all = vec![env!("CARGO_BIN_EXE_netc")];
    all.extend_from_slice(args);
    run_within("60", &all, None, &[])
}

fn examples() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in ["examples", "examples/structured"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
            if ["netc", "yaml", "json"].contains(&extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn netc_exe_compiles_every_example_to_the_linux_bytes() {
    let Some(build) = windows_build() else {
        return;
    };
    let examples = examples();
    assert!(examples.len() >= 10, "{examples:?}");
    for example in examples {
        let name = example.file_name().unwrap().to_str().unwrap().to_owned();
        let mut trees = Vec::new();
        for side in ["linux", "windows"] {
            // Each side in a directory of its own, with the example and
            // (when it has one) its lock file, named by relative paths.
            let work = tempfile::tempdir().unwrap();
            std::fs::copy(&example, work.path().join(&name)).unwrap();
            let lock = example.with_file_name(format!("{name}.lock"));
            if lock.exists() {
                std::fs::copy(&lock, work.path().join(format!("{name}.lock"))).unwrap();
            }
            let source = work.path().join(&name);
            let out = work.path().join("out");
            let args = ["compile", source.to_str().unwrap(), "-o", out.to_str().unwrap()];
            let output = match side {
                "linux" => linux(&args),
                _ => windows(&build, &args),
            };
            assert_eq!(output.status.code(), Some(0), "{side} {name}: {}", text(&output));
            let mut files = tree(&out);
            files.insert(
                "(lock file)".into(),
                std::fs::read(work.path().join(format!("{name}.lock"))).unwrap_or_default(),
            );
            trees.push(files);
        }
        let (linux_tree, windows_tree) = (&trees[0], &trees[1]);
        assert_eq!(
            linux_tree.keys().collect::<Vec<_>>(),
            windows_tree.keys().collect::<Vec<_>>(),
            "{name}: the two builds write different files"
        );
        for (path, bytes) in linux_tree {
            assert!(
                windows_tree[path] == *bytes,
                "{name}: {path} differs between netc and netc.exe"
            );
        }
    }
}

#[test]
fn netc_exe_plans_every_windows_node_as_the_goldens() {
    let Some(build) = windows_build() else {
        return;
    };
    let mut checked = 0;
    let plans = repo().join("golden/windows-plan");
    for example in std::fs::read_dir(&plans).unwrap() {
        let example = example.unwrap().path();
        let name = example.file_name().unwrap().to_str().unwrap().to_owned();
        // `drift` is planned against a drifted host the CLI cannot observe.
        if name == "drift" {
            continue;
        }
        for node in std::fs::read_dir(&example).unwrap() {
            let node = node.unwrap().path();
            let node_name = node.file_name().unwrap().to_str().unwrap().to_owned();
            let state = tempfile::tempdir().unwrap();
            let from = repo().join("golden").join(&name);
            for (format, golden) in [("powershell", "apply.ps1"), ("observe-script", "observe.ps1")] {
                let output = windows(
                    &build,
                    &[
                        "plan",
                        "--node",
                        &node_name,
                        "--from",
                        from.to_str().unwrap(),
                        "--state-dir",
                        state.path().to_str().unwrap(),
                        "--format",
                        format,
                    ],
                );
                assert_eq!(output.status.code(), Some(0), "{name}/{node_name}: {}", text(&output));
                assert!(
                    output.stdout == std::fs::read(node.join(golden)).unwrap(),
                    "{name}/{node_name}: netc.exe plan --format {format} differs from golden/windows-plan/{name}/{node_name}/{golden}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} Windows nodes planned");
}

#[test]
fn netc_exe_diffs_a_repository_as_the_linux_build() {
    let Some(build) = windows_build() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let git = |args: &[&str]| {
        let mut all = vec![
            "git",
            "-C",
            dir.to_str().unwrap(),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
        ];
        all.extend_from_slice(args);
        let output = run_within(
            "30",
            &all,
            None,
            &[
                ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z".into()),
                ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z".into()),
                ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ],
        );
        assert!(output.status.success(), "git {args:?}: {}", text(&output));
    };
    git(&["init", "-q", "-b", "main"]);
    let example = std::fs::read_to_string(repo().join("examples/vxlan-mixed.netc")).unwrap();
    std::fs::write(dir.join("cluster.netc"), &example).unwrap();
    git(&["add", "cluster.netc"]);
    git(&["commit", "-q", "-m", "base"]);
    let changed = example.replace("underlay-mtu     1500", "underlay-mtu     1400");
    assert_ne!(changed, example);
    std::fs::write(dir.join("cluster.netc"), changed).unwrap();
    git(&["commit", "-q", "-am", "mtu"]);
    let args = [
        "diff",
        "--repo",
        dir.to_str().unwrap(),
        "--base",
        "main~1",
        "--head",
        "main",
        "--path",
        "cluster.netc",
        "--format",
        "markdown",
    ];
    let linux_diff = linux(&args);
    let windows_diff = windows(&build, &args);
    assert_eq!(linux_diff.status.code(), Some(2), "{}", text(&linux_diff));
    assert_eq!(
        windows_diff.status.code(),
        linux_diff.status.code(),
        "{}",
        text(&windows_diff)
    );
    assert!(
        String::from_utf8_lossy(&linux_diff.stdout).contains("MTU"),
        "{}",
        text(&linux_diff)
    );
    assert_eq!(
        String::from_utf8_lossy(&windows_diff.stdout),
        String::from_utf8_lossy(&linux_diff.stdout)
    );
}

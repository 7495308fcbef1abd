//! Hostile and broken repositories, for `netc diff` and the agent's git
//! source (`agent::source::Source`, what every node's agent fetches and
//! reads with): a topology blob of 300 MiB, a topology that is a symbolic
//! link, a submodule or a directory, a binary lock file, 20,000 commits
//! between two revisions, a shallow clone and a corrupt object. Each is a
//! clear error or a correct answer, within bounded time and memory: peak
//! memory is measured with GNU time and printed with the time taken (the
//! README quotes the figures). The agent's whole round on such commits
//! (recorded as invalid, the host left at its last good program) is in
//! `agent.rs`.

// The repositories are made with the host's `git` command: Linux only.
#![cfg(unix)]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use netc_runtime::agent::source::Source;

mod common;
use common::repo::{base_repo, example, two_commits, Repo};
use common::text;

/// `netc diff --repo REPO ARGS` under GNU time: its output, peak resident
/// memory in KiB and seconds taken.
fn measured_diff(repo: &Path, args: &[&str]) -> (Output, u64, f64) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(report.path())
        .arg(env!("CARGO_BIN_EXE_netc"))
        .args(["diff", "--path", "cluster.netc", "--repo"])
        .arg(repo)
        .args(args)
        .output()
        .expect("GNU time (Debian's `time`) runs netc");
    let seconds = started.elapsed().as_secs_f64();
    let kib = fs::read_to_string(report.path())
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no figure from GNU time: {}", text(&output)));
    (output, kib, seconds)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The agent's source over `repo` (a `file://` remote), fetched once into
/// a state directory of its own; the head it fetched.
fn fetched(repo: &Repo, state: &Path) -> (Source, String) {
    let source = Source::new(&format!("file://{}", repo.dir.display()), "main", state);
    let head = source.fetch().unwrap_or_else(|e| panic!("fetch: {e}"));
    (source, head)
}

#[test]
fn a_topology_of_300_mib_is_refused_from_its_header() {
    let (mut repo, base) = base_repo();
    // Zeros compress to a small object: the repository stays small, the
    // blob claims 300 MiB.
    let file = fs::File::create(repo.dir.join("cluster.netc")).unwrap();
    file.set_len(300 << 20).unwrap();
    let head = repo.commit(&[], "a 300 MiB topology");

    let (output, kib, seconds) = measured_diff(&repo.dir, &["--base", &base, "--head", &head]);
    eprintln!(
        "netc diff, 300 MiB topology blob: {seconds:.2} s, peak RSS {} MiB",
        kib / 1024
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stderr(&output).contains("is 314572800 bytes, larger than netc's input limit of 8 MiB"),
        "{}",
        text(&output)
    );
    assert!(kib < 64 * 1024, "netc diff took {kib} KiB for a blob it refuses");

    let state = tempfile::tempdir().unwrap();
    let (source, fetched_head) = fetched(&repo, state.path());
    assert_eq!(fetched_head, head);
    let error = source
        .read(&head, "cluster.netc")
        .expect_err("the agent refuses it too")
        .to_string();
    assert!(error.contains("larger than netc's input limit"), "{error}");
    assert!(source.read(&base, "cluster.netc").is_ok(), "the base stays readable");
}

#[test]
fn a_link_a_submodule_or_a_directory_is_not_a_topology() {
    let (mut repo, base) = base_repo();
    let mut cases = Vec::new();

    fs::remove_file(repo.dir.join("cluster.netc")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", repo.dir.join("cluster.netc")).unwrap();
    cases.push((repo.commit(&[], "a link"), "is a symbolic link"));

    fs::remove_file(repo.dir.join("cluster.netc")).unwrap();
    repo.git(&["rm", "-q", "--cached", "cluster.netc"]);
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{base},cluster.netc"),
    ]);
    repo.git(&["commit", "-q", "-m", "a submodule"]);
    repo.commits += 1;
    cases.push((repo.git(&["rev-parse", "HEAD"]), "is a submodule"));

    repo.git(&["rm", "-q", "--cached", "cluster.netc"]);
    cases.push((
        repo.commit(&[("cluster.netc/inner.netc", "x")], "a directory"),
        "is a directory",
    ));

    let state = tempfile::tempdir().unwrap();
    let (source, _) = fetched(&repo, state.path());
    for (commit, said) in cases {
        let output = repo_diff(&repo, &base, &commit);
        assert_eq!(output.status.code(), Some(1), "{said}: {}", text(&output));
        assert!(stderr(&output).contains(said), "{said}: {}", text(&output));
        let error = source
            .read(&commit, "cluster.netc")
            .expect_err("the agent refuses it")
            .to_string();
        assert!(error.contains(said), "{error}");
    }
}

fn repo_diff(repo: &Repo, base: &str, head: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["diff", "--path", "cluster.netc", "--repo"])
        .arg(&repo.dir)
        .args(["--base", base, "--head", head])
        .output()
        .unwrap()
}

#[test]
fn a_binary_lock_file_is_a_clear_error() {
    let (mut repo, base) = base_repo();
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    fs::write(repo.dir.join("cluster.netc.lock"), &binary).unwrap();
    let head = repo.commit(&[], "a binary lock file");
    let output = repo_diff(&repo, &base, &head);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stderr(&output).contains("`cluster.netc.lock` at `") && stderr(&output).contains("is not a valid lock file"),
        "{}",
        text(&output)
    );
}

/// 20,000 commits written with `git fast-import` (each changes a comment),
/// then the topology's MTU changed.
fn long_history(count: u32) -> (Repo, String, String) {
    let (repo, base) = base_repo();
    let topology = example("static-vxlan.netc");
    let mut stream = Vec::new();
    for i in 0..count {
        let content = format!("{topology}# revision {i}\n");
        let content = if i + 1 == count {
            content.replace("underlay-mtu     1500", "underlay-mtu     1450")
        } else {
            content
        };
        write!(
            stream,
            "commit refs/heads/main\ncommitter netc test <test@netc.invalid> {} +0000\ndata 2\nr\n",
            1_767_225_600 + u64::from(i)
        )
        .unwrap();
        if i == 0 {
            writeln!(stream, "from {base}").unwrap();
        }
        write!(
            stream,
            "M 100644 inline cluster.netc\ndata {}\n{content}\n",
            content.len()
        )
        .unwrap();
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet", "--force"])
        .current_dir(&repo.dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success());
    let head = repo.git(&["rev-parse", "main"]);
    (repo, base, head)
}

#[test]
fn twenty_thousand_commits_between_base_and_head() {
    assert!(
        example("static-vxlan.netc").contains("underlay-mtu     1500"),
        "the example's MTU line moved; update this test"
    );
    let (repo, base, head) = long_history(20_000);

    let (output, kib, seconds) = measured_diff(&repo.dir, &["--base", &base, "--head", &head]);
    eprintln!(
        "netc diff across 20,000 commits: {seconds:.2} s, peak RSS {} MiB",
        kib / 1024
    );
    assert_eq!(output.status.code(), Some(2), "a change: {}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1450"),
        "{}",
        text(&output)
    );

    let state = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (source, fetched_head) = fetched(&repo, state.path());
    let fetch = started.elapsed().as_secs_f64();
    assert_eq!(fetched_head, head);
    let started = Instant::now();
    assert!(source.descends_from(&head, &base).unwrap(), "head descends from base");
    assert!(
        !source.descends_from(&base, &head).unwrap(),
        "base does not descend from head"
    );
    let walk = started.elapsed().as_secs_f64();
    eprintln!("the agent's source, 20,000 commits: clone {fetch:.2} s, both ancestry checks {walk:.2} s");
    assert!(walk < 60.0, "the ancestry checks took {walk:.1} s");
}

#[test]
fn a_shallow_clone_without_the_base_is_a_clear_error() {
    let (repo, base, head) = two_commits();
    let shallow = tempfile::tempdir().unwrap();
    let clone = shallow.path().join("clone");
    let output = Command::new("git")
        .args(["clone", "-q", "--depth", "1"])
        .arg(format!("file://{}", repo.dir.display()))
        .arg(&clone)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let output = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["diff", "--path", "cluster.netc", "--repo"])
        .arg(&clone)
        .args(["--base", &base, "--head", &head])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stderr(&output).contains(&base[..12]) || stderr(&output).contains(&base),
        "{}",
        text(&output)
    );
}

#[test]
fn a_corrupt_object_is_a_clear_error() {
    let (repo, base, head) = two_commits();
    let blob = repo.git(&["rev-parse", &format!("{head}:cluster.netc")]);
    let object = repo.dir.join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    let mut permissions = fs::metadata(&object).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)] // a scratch repository's object, made writable to corrupt it
    permissions.set_readonly(false);
    fs::set_permissions(&object, permissions).unwrap();
    fs::write(&object, b"not zlib at all").unwrap();
    let output = repo_diff(&repo, &base, &head);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stderr(&output).contains("cannot read `cluster.netc` at `"),
        "{}",
        text(&output)
    );
}

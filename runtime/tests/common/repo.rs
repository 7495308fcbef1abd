//! A git repository made with the host's `git` command, with a fixed
//! identity and fixed commit dates (so commit ids are the same on every
//! run), and the usual first commit: `netc diff`'s tests and the hostile
//! repositories'.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::text;

/// A git repository with a fixed identity and fixed commit dates.
pub struct Repo {
    _temp: tempfile::TempDir,
    pub dir: PathBuf,
    pub commits: u32,
}

impl Repo {
    pub fn new() -> Repo {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("repo");
        fs::create_dir(&dir).unwrap();
        let repo = Repo {
            _temp: temp,
            dir,
            commits: 0,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn git(&self, args: &[&str]) -> String {
        let date = format!("2026-01-01T00:00:{:02}Z", self.commits);
        let output = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_AUTHOR_NAME", "netc test")
            .env("GIT_AUTHOR_EMAIL", "test@netc.invalid")
            .env("GIT_COMMITTER_NAME", "netc test")
            .env("GIT_COMMITTER_EMAIL", "test@netc.invalid")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.dir.parent().unwrap())
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Write files, commit them as `message`, return the commit id.
    pub fn commit(&mut self, files: &[(&str, &str)], message: &str) -> String {
        for (path, content) in files {
            let path = self.dir.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.commits += 1;
        self.git(&["rev-parse", "HEAD"])
    }
}

/// An example topology's text (`examples/NAME`).
pub fn example(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    fs::read_to_string(root.join("examples").join(name)).unwrap()
}

/// static-vxlan with its lock file, as the first commit; its id.
pub fn base_repo() -> (Repo, String) {
    let mut repo = Repo::new();
    let base = repo.commit(
        &[
            ("cluster.netc", &example("static-vxlan.netc")),
            ("cluster.netc.lock", &example("static-vxlan.netc.lock")),
        ],
        "base",
    );
    (repo, base)
}

/// `base_repo` plus a second commit that adds a fourth node; both ids.
pub fn two_commits() -> (Repo, String, String) {
    let (mut repo, base) = base_repo();
    let head = repo.commit(
        &[(
            "cluster.netc",
            &example("static-vxlan.netc").replace("count 3", "count 4"),
        )],
        "a fourth node",
    );
    (repo, base, head)
}

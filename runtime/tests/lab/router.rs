//! The top-of-rack router of the tor scenario: FRR's zebra and staticd run
//! inside a lab namespace with netc's compiled `frr.conf`.
//!
//! Everything FRR would put under /var/run/frr (pid files, vty sockets, the
//! zserv socket) goes to a temporary directory of its own, so the daemons
//! cannot meet another FRR on this machine. They run as the `frr` user of
//! Debian's package: FRR refuses a user outside its vty group (`frrvty`),
//! and root is not in it. Each daemon runs under coreutils `timeout`, so it
//! dies even if the test process is killed before `Drop` runs; `Drop` stops
//! them (SIGTERM to `timeout`, which forwards it; SIGKILL if that is not
//! enough).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::fixture::ip_json;

/// The longest a daemon may live: far beyond a test's run.
const DAEMON_SECONDS: &str = "300";
/// How long to wait for a socket or for routes to appear.
const STARTUP: Duration = Duration::from_secs(30);

pub const ZEBRA: &str = "/usr/lib/frr/zebra";
pub const STATICD: &str = "/usr/lib/frr/staticd";

/// The running daemons and their directory.
pub struct Router {
    children: Vec<(String, Child)>,
    pub dir: tempfile::TempDir,
}

impl Router {
    /// Start zebra, then staticd with `frr_conf`, inside the namespace `ns`.
    ///
    /// staticd owns `ip route` lines in FRR 8, so it reads the compiled
    /// file; zebra gets an empty configuration (given `frr.conf` it only
    /// logs "No such command" for each route).
    pub fn start(ns: &str, frr_conf: &Path) -> Router {
        let dir = tempfile::Builder::new().prefix("netc-lab-frr").tempdir().unwrap();
        let frr = nix::unistd::User::from_name("frr")
            .unwrap()
            .unwrap_or_else(|| panic!("no `frr` user"));
        std::os::unix::fs::chown(dir.path(), Some(frr.uid.as_raw()), Some(frr.gid.as_raw())).unwrap();
        std::fs::copy(frr_conf, dir.path().join("frr.conf")).unwrap();
        std::fs::write(dir.path().join("zebra.conf"), "").unwrap();
        for file in ["frr.conf", "zebra.conf"] {
            std::fs::set_permissions(dir.path().join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let mut router = Router {
            children: Vec::new(),
            dir,
        };
        let zserv = router.path("zserv.api");
        router.spawn(ns, "zebra", ZEBRA, "zebra.conf");
        wait_for(|| zserv.exists(), STARTUP)
            .unwrap_or_else(|| panic!("zebra made no {}: {}", zserv.display(), router.logs()));
        router.spawn(ns, "staticd", STATICD, "frr.conf");
        router
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spawn(&mut self, ns: &str, name: &str, program: &str, config: &str) {
        let out = std::fs::File::create(self.path(&format!("{name}.out"))).unwrap();
        let args = [
            "netns",
            "exec",
            ns,
            "timeout",
            "--kill-after=5",
            DAEMON_SECONDS,
            program,
            "-u",
            "frr",
            "-g",
            "frr",
            "-i",
            &self.path(&format!("{name}.pid")).display().to_string(),
            "-z",
            &self.path("zserv.api").display().to_string(),
            "--vty_socket",
            &self.dir.path().display().to_string(),
            // No vty TCP port: nothing listens outside the directory.
            "-P",
            "0",
            "-f",
            &self.path(config).display().to_string(),
            "--log",
            &format!("file:{}", self.path(&format!("{name}.log")).display()),
        ]
        .map(|s| s.to_string());
        let child = Command::new("ip")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        self.children.push((name.to_string(), child));
    }

    /// Every daemon's output and log, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for (name, _) in &self.children {
            for suffix in ["out", "log"] {
                let file = self.path(&format!("{name}.{suffix}"));
                text += &format!(
                    "--- {}\n{}\n",
                    file.display(),
                    std::fs::read_to_string(&file).unwrap_or_default()
                );
            }
        }
        text
    }

    /// Wait until the main table of `ns` holds every prefix of `prefixes`
    /// with FRR's protocol (`static`, or `zebra`), each via its `via`.
    pub fn wait_for_routes(&self, ns: &str, prefixes: &[(String, String)]) {
        let installed = || {
            let routes = ip_json(&["-n", ns, "route", "show", "table", "main"]);
            prefixes.iter().all(|(prefix, via)| {
                routes.as_array().into_iter().flatten().any(|r| {
                    r["dst"] == prefix.as_str()
                        && r["gateway"] == via.as_str()
                        && (r["protocol"] == "static" || r["protocol"] == "zebra")
                })
            })
        };
        wait_for(installed, STARTUP).unwrap_or_else(|| {
            panic!(
                "FRR did not install {prefixes:?} in {ns}: {}\n{}",
                super::fixture::must(&["ip", "-n", ns, "route"]),
                self.logs()
            )
        });
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let dir = self.dir.path().to_path_buf();
        for (name, child) in self.children.iter_mut().rev() {
            // SIGTERM to our own `timeout` process, which passes it on (and
            // sends SIGKILL itself after --kill-after).
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).output();
            let stopped = wait_for(|| matches!(child.try_wait(), Ok(Some(_))), Duration::from_secs(10));
            if stopped.is_none() {
                // The daemon we started, by the pid it wrote, then `timeout`.
                if let Ok(pid) = std::fs::read_to_string(dir.join(format!("{name}.pid"))) {
                    let _ = Command::new("kill").args(["-KILL", pid.trim()]).output();
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Poll `done` every 50 ms until it holds or `limit` passes.
fn wait_for(mut done: impl FnMut() -> bool, limit: Duration) -> Option<()> {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return Some(());
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

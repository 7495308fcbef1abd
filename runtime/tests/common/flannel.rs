//! Real flanneld in the lab: one per node namespace, configured exactly as
//! the deployed DaemonSet and ConfigMap say, talking to the test control
//! plane (`common::control_plane`) with the flannel ServiceAccount's token.
//!
//! The API server listens on 127.0.0.1 of the root namespace, which a node
//! namespace cannot reach, and the root namespace must not gain routes or
//! addresses. So each node namespace gets a forwarder: a listening socket
//! made inside the node namespace (on its own 127.0.0.1) whose connections
//! the test relays to the API server from the root namespace. Sockets keep
//! the namespace they were made in, so one thread can do both.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;

/// How long a forwarder serves at most: longer than any lab scenario.
const FORWARD_LIMIT: Duration = Duration::from_secs(600);

/// Relays connections made to `127.0.0.1:PORT` inside a node namespace to
/// the API server; stops when dropped (or after `FORWARD_LIMIT`).
pub struct Forwarder {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn set_namespace(file: &std::fs::File) {
    nix::sched::setns(file, CloneFlags::CLONE_NEWNET).unwrap();
}

/// Copy one direction until end of stream or error, then shut the writer.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buffer) {
        if n == 0 || to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Forwarder {
    pub fn new(ns: &str, api_port: u16) -> Forwarder {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready, port) = std::sync::mpsc::channel();
        let ns_path = format!("/run/netns/{ns}");
        let flag = stop.clone();
        std::thread::spawn(move || {
            let root = std::fs::File::open("/proc/thread-self/ns/net").unwrap();
            set_namespace(&std::fs::File::open(&ns_path).unwrap());
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            set_namespace(&root);
            listener.set_nonblocking(true).unwrap();
            ready.send(listener.local_addr().unwrap().port()).unwrap();
            let start = Instant::now();
            while !flag.load(Ordering::SeqCst) && start.elapsed() < FORWARD_LIMIT {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        // Connected from the root namespace (this thread's).
                        let Ok(upstream) = TcpStream::connect(("127.0.0.1", api_port)) else {
                            continue;
                        };
                        let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                        std::thread::spawn(move || pump(client, upstream));
                        std::thread::spawn(move || pump(u2, c2));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Forwarder {
            port: port.recv_timeout(Duration::from_secs(10)).unwrap(),
            stop,
        }
    }
}

/// The DaemonSet container as kubelet would run it on one node: arguments
/// with `$(VAR)` expanded, and the environment filled in.
pub struct Container {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// A flanneld process in a node namespace; killed on drop.
pub struct Flanneld {
    child: Child,
    pub log: PathBuf,
    pub subnet_file: PathBuf,
}

impl Flanneld {
    /// Start `flanneld` in `ns` as the DaemonSet's `container`, plus
    /// `NODE_NAME` (the lab's flanneld has no pod object to look its node up
    /// from) and the paths a pod would get from its mounts: the kubeconfig
    /// (the ServiceAccount token a pod would have mounted), the net-conf of
    /// the ConfigMap, and a per-node subnet file (the lab's nodes share one
    /// filesystem). `--healthz-ip` keeps the health endpoint the DaemonSet
    /// enables on the namespace's 127.0.0.1.
    pub fn start(
        flanneld: &Path,
        ns: &str,
        node: &str,
        dir: &Path,
        container: &Container,
        kubeconfig: &Path,
        net_conf: &Path,
    ) -> Flanneld {
        let subnet_file = dir.join("subnet.env");
        let log = dir.join("flanneld.log");
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns, "timeout", "--kill-after=5", "600"])
            .arg(flanneld)
            .args(&container.args)
            .arg(format!("--kubeconfig-file={}", kubeconfig.display()))
            .arg(format!("--net-config-path={}", net_conf.display()))
            .arg(format!("--subnet-file={}", subnet_file.display()))
            .arg("--healthz-ip=127.0.0.1")
            .envs(container.env.iter().map(|(k, v)| (k, v)))
            .env("NODE_NAME", node)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap());
        Flanneld {
            child: command.spawn().unwrap(),
            log,
            subnet_file,
        }
    }

    /// The subnet file once flanneld wrote it (at most `limit`), or a panic
    /// with its log.
    pub fn wait_subnet_file(&mut self, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.subnet_file) {
                if text.contains("FLANNEL_IPMASQ") {
                    return text;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("flanneld exited with {status}:\n{}", self.log_text());
            }
            assert!(
                start.elapsed() < limit,
                "flanneld wrote no subnet file in {limit:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Flanneld {
    fn drop(&mut self) {
        // `ip netns exec` execs `timeout`, which passes SIGTERM on.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! A real Kubernetes control plane for tests: etcd, kube-apiserver and
//! kube-controller-manager, built from their Go modules by
//! `runtime/tests/consumers/build.sh` into `$NETC_TOOLS_DIR/bin` (default
//! `/opt/netc-tools/bin`).
//!
//! Everything binds to 127.0.0.1 on ports the kernel hands out. The API
//! server serves TLS from a self-signed certificate it makes in `--cert-dir`,
//! authorizes with Node and RBAC, signs ServiceAccount tokens with a key
//! made here, and knows one static admin token (group `system:masters`).
//! Start-up waits are bounded; on drop every process is stopped and the
//! directory deleted, and when the test failed the logs' tails are printed
//! and the directory kept for a look.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the real consumers live: `$NETC_TOOLS_DIR/bin` (default
/// `/opt/netc-tools/bin`).
pub fn tools_bin() -> PathBuf {
    let tools = std::env::var_os("NETC_TOOLS_DIR").map_or_else(|| PathBuf::from("/opt/netc-tools"), PathBuf::from);
    tools.join("bin")
}

/// The real consumers `names` from `tools_bin()`, or `None` after printing
/// why the test is skipped; under `NETC_REQUIRE_TOOLS=1` (CI) a missing one
/// fails the test.
pub fn real_consumers(names: &[&str]) -> Option<Vec<PathBuf>> {
    let bin = tools_bin();
    let missing: Vec<&str> = names.iter().copied().filter(|n| !bin.join(n).is_file()).collect();
    if missing.is_empty() {
        return Some(names.iter().map(|n| bin.join(n)).collect());
    }
    let reason = format!(
        "missing in {}: {} (build them with runtime/tests/consumers/build.sh, or set NETC_TOOLS_DIR)",
        bin.display(),
        missing.join(", ")
    );
    if std::env::var("NETC_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("required (NETC_REQUIRE_TOOLS=1) but {reason}");
    }
    eprintln!("skipped: {reason}");
    None
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The static token of the control plane's administrator.
const ADMIN_TOKEN: &str = "netc-test-admin-token";

pub struct ControlPlane {
    dir: Option<tempfile::TempDir>,
    processes: Vec<(String, Child)>,
    /// `https://127.0.0.1:PORT`
    pub server: String,
    /// A kubeconfig for the administrator (`system:masters`).
    pub admin_kubeconfig: PathBuf,
}

impl ControlPlane {
    /// etcd and kube-apiserver, ready to serve; `None` when the binaries
    /// are missing (and the test may skip). Add controllers with
    /// `start_controller_manager`.
    pub fn start() -> Option<ControlPlane> {
        let tools = real_consumers(&["etcd", "kube-apiserver"])?;
        let dir = tempfile::Builder::new()
            .prefix("netc-control-plane-")
            .tempdir()
            .unwrap();
        let root = dir.path().to_path_buf();
        let mut plane = ControlPlane {
            dir: Some(dir),
            processes: Vec::new(),
            server: String::new(),
            admin_kubeconfig: root.join("admin.kubeconfig"),
        };

        let (client_port, peer_port) = (free_port(), free_port());
        let etcd_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        plane.spawn(
            "etcd",
            &tools[0],
            &[
                "--name=netc-test".into(),
                format!("--data-dir={}", root.join("etcd").display()),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=netc-test={peer_url}"),
                "--listen-metrics-urls=".into(),
                "--log-level=warn".into(),
                // A test's cluster lives for seconds: durability buys nothing.
                "--unsafe-no-fsync".into(),
            ],
        );
        plane.wait_for("etcd", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", client_port)).is_ok()
        });

        for args in [
            vec!["genrsa", "-out", "sa.key", "2048"],
            vec!["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"],
        ] {
            let output = Command::new("openssl").args(args).current_dir(&root).output().unwrap();
            assert!(
                output.status.success(),
                "openssl: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::fs::write(
            root.join("tokens.csv"),
            format!("{ADMIN_TOKEN},netc-test-admin,netc-test-admin,\"system:masters\"\n"),
        )
        .unwrap();

        let api_port = free_port();
        plane.server = format!("https://127.0.0.1:{api_port}");
        plane.spawn(
            "kube-apiserver",
            &tools[1],
            &[
                format!("--etcd-servers={etcd_url}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={api_port}"),
                format!("--cert-dir={}", root.join("certs").display()),
                "--authorization-mode=Node,RBAC".into(),
                format!("--token-auth-file={}", root.join("tokens.csv").display()),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                format!("--service-account-key-file={}", root.join("sa.pub").display()),
                format!("--service-account-signing-key-file={}", root.join("sa.key").display()),
                // Inside the test-safe range (198.18.0.0/15), apart from the
                // pod networks the examples use.
                "--service-cluster-ip-range=198.19.0.0/16".into(),
                // flannel's and netc's DaemonSets run privileged containers.
                "--allow-privileged=true".into(),
                "--profiling=false".into(),
            ],
        );
        plane.write_kubeconfig(&plane.admin_kubeconfig.clone(), ADMIN_TOKEN);
        let kubeconfig = plane.admin_kubeconfig.clone();
        plane.wait_for("kube-apiserver", Duration::from_secs(120), || {
            // `/readyz` only answers 200 once the bootstrap controllers (RBAC
            // roles, priority classes) are done.
            block_on(async {
                let client = client(&kubeconfig).await;
                let request = http::Request::get("/readyz").body(Vec::new()).unwrap();
                client.request_text(request).await.is_ok_and(|text| text.trim() == "ok")
            })
        });
        Some(plane)
    }

    /// kube-controller-manager with only `controllers` (e.g. `daemonset`),
    /// as the administrator, not allocating node CIDRs unless `extra` says
    /// so.
    pub fn start_controller_manager(&mut self, controllers: &[&str], extra: &[&str]) {
        let tool = real_consumers(&["kube-controller-manager"]).expect("kube-controller-manager");
        let mut args = vec![
            format!("--kubeconfig={}", self.admin_kubeconfig.display()),
            format!("--controllers={}", controllers.join(",")),
            "--leader-elect=false".into(),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={}", free_port()),
            format!("--cert-dir={}", self.root().join("kcm-certs").display()),
            "--authentication-skip-lookup=true".into(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        self.spawn("kube-controller-manager", &tool[0], &args);
    }

    /// The API server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn root(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    /// A kubeconfig for `token` (a ServiceAccount's, say), in the plane's
    /// directory.
    pub fn kubeconfig_for(&self, name: &str, token: &str) -> PathBuf {
        let path = self.root().join(format!("{name}.kubeconfig"));
        self.write_kubeconfig(&path, token);
        path
    }

    fn write_kubeconfig(&self, path: &Path, token: &str) {
        write_kubeconfig(path, &self.server, token);
    }

    /// A token the API server issues for the ServiceAccount
    /// `namespace/name` (a TokenRequest, as kubelet asks for a pod's).
    pub fn service_account_token(&self, namespace: &str, name: &str) -> String {
        block_on(async {
            let client = client(&self.admin_kubeconfig).await;
            let request: k8s_openapi::api::authentication::v1::TokenRequest =
                serde_json::from_value(serde_json::json!({"spec": {"audiences": [], "expirationSeconds": 3600}}))
                    .unwrap();
            kube::Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(client, namespace)
                .create_token_request(name, &Default::default(), &request)
                .await
                .unwrap_or_else(|e| panic!("a token for {namespace}/{name}: {e}"))
                .status
                .unwrap()
                .token
        })
    }

    fn spawn(&mut self, name: &str, program: &Path, args: &[String]) {
        let log = std::fs::File::create(self.root().join(format!("{name}.log"))).unwrap();
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        self.processes.push((name.to_owned(), child));
    }

    /// Poll `ready` every 200 ms until it holds, for at most `limit`; panic
    /// (keeping the logs) if it never does or the process died.
    fn wait_for(&mut self, name: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        loop {
            if ready() {
                return;
            }
            if let Some((_, child)) = self.processes.iter_mut().find(|(n, _)| n == name) {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("{name} exited during start-up with {status}");
                }
            }
            assert!(start.elapsed() < limit, "{name} not ready after {limit:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last lines of every process's log, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.processes {
            let text = std::fs::read_to_string(self.root().join(format!("{name}.log"))).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(30)..];
            out += &format!("--- {name}.log (last {} lines)\n{}\n", tail.len(), tail.join("\n"));
        }
        out
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // Controllers first, etcd last.
        for (_, child) in self.processes.iter_mut().rev() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let logs = self.logs();
            let kept = self.dir.take().unwrap().keep();
            let _ = writeln!(
                std::io::stderr(),
                "{logs}control plane directory kept: {}",
                kept.display()
            );
        }
    }
}

/// Write a kubeconfig for `server` with `token`. The serving certificate is
/// self-signed by the API server, and tests talk to 127.0.0.1 only.
pub fn write_kubeconfig(path: &Path, server: &str, token: &str) {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\nusers:\n- name: user\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: user\ncurrent-context: test\n"
    );
    std::fs::write(path, text).unwrap();
}

/// Register a Node as kubelet does (the well-known labels; on Windows the
/// build label too; and the annotation kubelet always sets: flanneld 0.28.9
/// panics on a Node without annotations).
pub async fn register_node(client: &kube::Client, name: &str, os: &str, windows_build: Option<&str>) {
    let mut labels = serde_json::json!({
        "kubernetes.io/os": os,
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "beta.kubernetes.io/os": os,
        "beta.kubernetes.io/arch": "amd64",
    });
    if let Some(build) = windows_build {
        labels["node.kubernetes.io/windows-build"] = serde_json::json!(build);
    }
    let annotations = serde_json::json!({"volumes.kubernetes.io/controller-managed-attach-detach": "true"});
    let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(
        serde_json::json!({"metadata": {"name": name, "labels": labels, "annotations": annotations}}),
    )
    .unwrap();
    kube::Api::<k8s_openapi::api::core::v1::Node>::all(client.clone())
        .create(&Default::default(), &node)
        .await
        .unwrap();
}

/// A client from a kubeconfig file.
pub async fn client(kubeconfig: &Path) -> kube::Client {
    netc_runtime::cluster::client(Some(kubeconfig)).await.unwrap()
}

/// Run a future on a fresh current-thread runtime.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

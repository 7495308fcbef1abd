//! The lab's fixture: a topology compiled by the real `netc` binary, an
//! "underlay" namespace holding a Linux bridge (the shared L2 segment), one
//! namespace per node joined to that bridge by a veth and programmed by
//! `netc apply --netns`, and pod namespaces attached the way a container
//! runtime does it: the conflist `netc apply` wrote under the node's root,
//! run plugin by plugin inside the node namespace from the node's own plugin
//! directory (the program's `cni-plugins` directory under the root, linked
//! to Debian's containernetworking-plugins; `netc apply` checks it).
//!
//! Safety: every namespace is named `netc-lab-<tag>-<pid>-<n>-<role>` and
//! deleted by `Namespaces`' `Drop` (also when a test panics); veth pairs are
//! created directly inside the namespaces, so the root namespace never
//! gains a link, address or route; the fixture refuses a topology whose node
//! addresses are outside 198.51.100.0/24 or whose pod subnets are outside
//! 198.18.0.0/15; every command runs under coreutils `timeout`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Output;

use ipnet::Ipv4Net;
use serde_json::{json, Value};

pub use crate::common::compile;
pub use crate::common::text;
use crate::common::{run_within, Namespaces};

/// The time limit of any one command, in seconds: far above what a plugin,
/// `ip` or `netc apply` needs, low enough that a hang fails the test.
const COMMAND_SECONDS: &str = "60";

/// Run a program within `COMMAND_SECONDS`, optional standard input and
/// extra environment.
pub fn run_bounded(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, String)]) -> Output {
    run_within(COMMAND_SECONDS, args, stdin, env)
}

/// Run a command that must succeed (bounded); its standard output.
pub fn must(args: &[&str]) -> String {
    let output = run_bounded(args, None, &[]);
    assert!(output.status.success(), "{}: {}", args.join(" "), text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `ip -j ARGS` parsed; an empty answer (some `ip` versions print nothing
/// for an empty list) is `[]`.
pub fn ip_json(args: &[&str]) -> Value {
    let text = must(&[&["ip", "-j"], args].concat());
    if text.trim().is_empty() {
        return json!([]);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("ip -j {args:?}: {e}: {text}"))
}

/// A pod: a namespace whose `eth0` the CNI chain set up.
pub struct Pod {
    pub ns: String,
    pub address: Ipv4Addr,
    pub mtu: u64,
}

/// A node: its namespace, its underlay address, its pod subnet and vxlan MAC
/// (from `peers.json`), and the root and state directories `netc apply` uses.
pub struct Node {
    pub name: String,
    pub ns: String,
    pub address: Ipv4Addr,
    pub subnet: Ipv4Net,
    pub mac: Option<String>,
    pub root: PathBuf,
    pub state: PathBuf,
    pub ipam: PathBuf,
    pub pods: Vec<Pod>,
}

/// One lab; see the module header. Fields drop in order: namespaces go
/// first, then the temporary directory.
pub struct Lab {
    namespaces: Namespaces,
    pub dir: tempfile::TempDir,
    pub cni: PathBuf,
    pub out: PathBuf,
    pub underlay: String,
    pub nodes: Vec<Node>,
}

/// Run the built `netc` (bounded); its output.
pub fn netc(args: &[&str]) -> Output {
    run_bounded(&[&[env!("CARGO_BIN_EXE_netc")], args].concat(), None, &[])
}

impl Lab {
    /// Compile `text`, then build the underlay and one namespace per node of
    /// its `peers.json`; nothing is applied yet.
    pub fn new(tag: &str, cni: &Path, text: &str, lock: Option<&str>) -> Lab {
        let mut namespaces = Namespaces::new(&format!("lab-{tag}"));
        let dir = tempfile::tempdir().unwrap();
        let out = compile(dir.path(), "lab", text, lock);
        let peers: Value = serde_json::from_str(&std::fs::read_to_string(out.join("peers.json")).unwrap()).unwrap();

        let underlay_net: Ipv4Net = "198.51.100.0/24".parse().unwrap();
        let pod_net: Ipv4Net = "198.18.0.0/15".parse().unwrap();
        let underlay = namespaces.add("underlay");
        must(&["ip", "-n", &underlay, "link", "add", "br0", "type", "bridge"]);
        must(&["ip", "-n", &underlay, "link", "set", "br0", "up"]);

        let mut nodes = Vec::new();
        for (index, peer) in peers["nodes"].as_array().unwrap().iter().enumerate() {
            let name = peer["name"].as_str().unwrap().to_string();
            let address: Ipv4Addr = peer["address"].as_str().unwrap().parse().unwrap();
            let subnet: Ipv4Net = peer["subnets"][0].as_str().unwrap().parse().unwrap();
            // Refuse to put anything on the wire outside the test ranges.
            assert!(
                underlay_net.contains(&address),
                "{name}: {address} outside {underlay_net}"
            );
            assert!(pod_net.contains(&subnet), "{name}: {subnet} outside {pod_net}");
            let ns = namespaces.add(&name);
            let port = format!("port{index}");
            must(&[
                "ip", "link", "add", "under0", "netns", &ns, "type", "veth", "peer", "name", &port, "netns", &underlay,
            ]);
            must(&["ip", "-n", &underlay, "link", "set", &port, "master", "br0"]);
            must(&["ip", "-n", &underlay, "link", "set", &port, "up"]);
            must(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                "under0",
            ]);
            must(&["ip", "-n", &ns, "link", "set", "under0", "up"]);
            // Like a node running Docker, firewalld or ufw: forwarded traffic
            // is dropped unless a rule accepts it (netc's NETC-FWD chain, or
            // flanneld's FLANNEL-FWD).
            for tool in ["iptables", "ip6tables"] {
                must(&["ip", "netns", "exec", &ns, tool, "-w", "-P", "FORWARD", "DROP"]);
            }
            let node_dir = dir.path().join(&name);
            nodes.push(Node {
                name,
                ns,
                address,
                subnet,
                mac: peer["mac"].as_str().map(str::to_string),
                root: node_dir.join("root"),
                state: node_dir.join("state"),
                ipam: node_dir.join("ipam"),
                pods: Vec::new(),
            });
        }
        Lab {
            namespaces,
            dir,
            cni: cni.to_path_buf(),
            out,
            underlay,
            nodes,
        }
    }

    /// A further namespace of this lab (deleted with the others).
    pub fn add_namespace(&mut self, role: &str) -> String {
        self.namespaces.add(role)
    }

    /// `netc COMMAND --node NAME --from OUT --netns NS --root ROOT
    /// --state-dir STATE` for node `index`.
    pub fn netc_on(&self, command: &str, index: usize, out: &Path) -> Output {
        let node = &self.nodes[index];
        netc(&[
            command,
            "--node",
            &node.name,
            "--from",
            out.to_str().unwrap(),
            "--netns",
            &node.ns,
            "--root",
            node.root.to_str().unwrap(),
            "--state-dir",
            node.state.to_str().unwrap(),
        ])
    }

    /// `netc apply` of `out` on node `index`, which must succeed; its stdout.
    pub fn apply(&self, index: usize, out: &Path) -> String {
        let applied = self.netc_on("apply", index, out);
        assert_eq!(
            applied.status.code(),
            Some(0),
            "netc apply on {}: {}",
            self.nodes[index].name,
            text(&applied)
        );
        String::from_utf8_lossy(&applied.stdout).into_owned()
    }

    /// Node `index`'s program (`OUT/nodes/NAME/program.json`).
    pub fn program(&self, index: usize) -> Value {
        let path = self
            .out
            .join("nodes")
            .join(&self.nodes[index].name)
            .join("program.json");
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// The node's CNI plugin directory under its root (the program's
    /// `cni-plugins` check names it; `netc apply` refuses to run while a
    /// plugin is missing there), with every plugin the program needs linked
    /// to the installed one, as a node's package installation would provide.
    pub fn install_cni_plugins(&self, index: usize) -> PathBuf {
        let program = self.program(index);
        let check = program["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|op| op["op"] == "cni-plugins")
            .unwrap_or_else(|| panic!("no cni-plugins check in {}'s program", self.nodes[index].name));
        let dir = self.nodes[index]
            .root
            .join(check["dir"].as_str().unwrap().trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        for plugin in check["plugins"].as_array().unwrap() {
            let plugin = plugin.as_str().unwrap();
            let link = dir.join(plugin);
            // Debian packages no flannel plugin; the real one is built with
            // the other consumers (`tests/consumers/build.sh`).
            let installed = match plugin {
                "flannel" => crate::common::control_plane::tools_bin().join(plugin),
                _ => self.cni.join(plugin),
            };
            if !link.exists() {
                std::os::unix::fs::symlink(installed, &link).unwrap();
            }
        }
        dir
    }

    /// Apply the lab's own compiled output on every node, then check that
    /// `netc plan` has nothing left to do.
    pub fn apply_all(&self) {
        for index in 0..self.nodes.len() {
            self.install_cni_plugins(index);
            self.apply(index, &self.out);
            self.assert_plan_empty(index, &self.out);
        }
    }

    /// `netc plan` of `out` on node `index` plans nothing.
    pub fn assert_plan_empty(&self, index: usize, out: &Path) {
        let plan = self.netc_on("plan", index, out);
        assert_eq!(
            String::from_utf8_lossy(&plan.stdout),
            "Plan: 0 to create, 0 to update, 0 to recreate, 0 to delete.\n",
            "netc plan on {}: {}",
            self.nodes[index].name,
            text(&plan)
        );
    }

    /// The conflist `netc apply` wrote for node `index` (the program's file
    /// operation whose path ends in `.conflist`, under the node's root); with
    /// `dataplane flannel`, where flannel's DaemonSet installs it, the
    /// compiled `nodes/NAME/10-flannel.conflist`.
    pub fn conflist(&self, index: usize) -> Value {
        let node = &self.nodes[index];
        let program = self.program(index);
        let written = program["operations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|op| op["op"] == "file")
            .filter_map(|op| op["path"].as_str())
            .find(|path| path.ends_with(".conflist"));
        let file = match written {
            Some(path) => node.root.join(path.trim_start_matches('/')),
            None => self.out.join("nodes").join(&node.name).join("10-flannel.conflist"),
        };
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        serde_json::from_str(&text).unwrap()
    }

    /// Attach `count` pods to every node.
    pub fn add_pods(&mut self, count: usize) {
        for index in 0..self.nodes.len() {
            for _ in 0..count {
                self.add_pod(index);
            }
        }
    }

    /// A new pod namespace on node `index`, attached by running the node's
    /// conflist (ADD, plugins in order) inside the node namespace, as a
    /// container runtime on that node would; host-local keeps its leases in
    /// the lab's directory (one per node, so the node's pods get distinct
    /// addresses) instead of /var/lib/cni.
    pub fn add_pod(&mut self, index: usize) {
        let conflist = self.conflist(index);
        // The node's own plugin directory, where its runtime looks.
        let plugins = self.install_cni_plugins(index);
        let role = format!("{}-pod{}", self.nodes[index].name, self.nodes[index].pods.len());
        let pod_ns = self.namespaces.add(&role);
        let node = &self.nodes[index];
        let env = [
            ("CNI_COMMAND", "ADD".to_string()),
            ("CNI_CONTAINERID", format!("netc-lab-{pod_ns}")),
            ("CNI_NETNS", format!("/run/netns/{pod_ns}")),
            ("CNI_IFNAME", "eth0".to_string()),
            ("CNI_PATH", plugins.display().to_string()),
        ];
        let mut previous: Option<Value> = None;
        for plugin in conflist["plugins"].as_array().unwrap() {
            let mut config = plugin.clone();
            config["name"] = conflist["name"].clone();
            config["cniVersion"] = conflist["cniVersion"].clone();
            if config["ipam"]["type"] == "host-local" {
                config["ipam"]["dataDir"] = json!(node.ipam);
            }
            if config["type"] == "flannel" {
                // The lab's nodes share one filesystem: the node's own
                // flanneld subnet file, scratch directory and leases.
                config["subnetFile"] = json!(node.root.join("run/flannel/subnet.env"));
                config["dataDir"] = json!(node.root.join("var/lib/cni/flannel"));
                config["ipam"] = json!({"dataDir": node.ipam});
            }
            if let Some(previous) = &previous {
                config["prevResult"] = previous.clone();
            }
            let program = plugins.join(plugin["type"].as_str().unwrap());
            let input = serde_json::to_vec(&config).unwrap();
            let output = run_bounded(
                &["ip", "netns", "exec", &node.ns, program.to_str().unwrap()],
                Some(&input),
                &env,
            );
            assert!(
                output.status.success(),
                "CNI ADD {} for {pod_ns} on {}: {}\nconfig: {config}",
                plugin["type"],
                node.name,
                text(&output)
            );
            previous = Some(serde_json::from_slice(&output.stdout).unwrap());
        }
        let result = previous.unwrap_or_else(|| panic!("{}'s conflist has no plugins", node.name));
        let address: Ipv4Net = result["ips"][0]["address"]
            .as_str()
            .unwrap_or_else(|| panic!("no address in the CNI result {result}"))
            .parse()
            .unwrap();
        assert!(
            node.subnet.contains(&address.addr()) && address.prefix_len() == node.subnet.prefix_len(),
            "pod {pod_ns} got {address}, outside {}'s subnet {}",
            node.name,
            node.subnet
        );
        let eth0 = &ip_json(&["-n", &pod_ns, "link", "show", "dev", "eth0"])[0];
        let mtu = eth0["mtu"].as_u64().unwrap();
        self.nodes[index].pods.push(Pod {
            ns: pod_ns,
            address: address.addr(),
            mtu,
        });
    }
}

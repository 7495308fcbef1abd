//! The host driver: observes and applies the kinds that are not netlink
//! objects: files, sysctls, kernel modules and the iptables chains (the
//! masquerade chain here, the forward chain in `forward.rs`).
//!
//! Design:
//! - Files live under a root prefix (`/` on a node; a temporary directory
//!   in tests): the object path `/etc/x` is `ROOT/etc/x`. A write is a
//!   temporary file in the same directory, `fsync`, `chmod`, `rename`, so a
//!   failed write never leaves half a file. A delete of a missing file
//!   succeeds.
//! - Sysctls are `/proc/sys` files: the key's `.` separators become `/` and
//!   a `/` inside a component (an interface name with a dot) becomes `.`
//!   (`net.ipv6.conf.flannel/4096.accept_ra` is
//!   `/proc/sys/net/ipv6/conf/flannel.4096/accept_ra`). `/proc/sys/net`
//!   shows the network namespace of the reading thread, so every sysctl
//!   access runs on a short-lived thread that entered the target namespace
//!   with `setns(2)` first (the rest of the process never moves). A missing
//!   key is observed as absent; applying a `best_effort` sysctl whose key
//!   is missing succeeds.
//! - Modules are global (not per namespace). A module is loaded when
//!   `/proc/modules` lists it or `/sys/module/NAME` exists; a kernel without
//!   `/proc/modules` has no loadable modules, so every module counts as
//!   built in. Applying one runs `modprobe NAME`; modules are never removed.
//! - The masquerade chain is an iptables `nat` chain, written as a whole
//!   with `iptables-restore --noflush` (the same rules as `host.sh`) and
//!   hooked into `POSTROUTING`; inside a namespace the tools run from a
//!   thread that entered it (`Host::output`). It is observed with `iptables -t nat -S` (exit 1:
//!   no such chain; any other failure, such as not being root, is an error).

use std::collections::BTreeSet;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use crate::driver::Error;
use netc_compiler::emit::program::types::{Operation, Program};
use netc_plan::engine::{Action, Object, ObjectKey, Observed, Step};

/// The comment on every masquerade rule, as `host.sh` writes it.
const MASQ_COMMENT: &str = "netc masq";

/// Files under `root`; sysctls and iptables in the network namespace
/// `/run/netns/NAME` (or the current one).
pub struct Host {
    root: PathBuf,
    netns: Option<String>,
}

impl Host {
    pub fn new(root: &Path, netns: Option<&str>) -> Host {
        Host {
            root: root.to_path_buf(),
            netns: netns.map(str::to_owned),
        }
    }

    /// `ROOT/etc/x` for the object path `/etc/x`.
    pub fn file_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// The `interface-address` checks of `program` that fail in the
    /// namespace (the named interface does not carry the address), each as
    /// what is wrong. A check, never a change.
    pub fn interface_problems(&self, program: &Program) -> Result<Vec<String>, Error> {
        let checks: Vec<(&String, &String)> = program
            .operations
            .iter()
            .filter_map(|op| match op {
                Operation::InterfaceAddress { interface, address } => Some((interface, address)),
                _ => None,
            })
            .collect();
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        let listing = self.run(self.namespaced("ip").args(["-o", "addr", "show"]))?;
        Ok(checks
            .into_iter()
            .filter_map(|(interface, address)| {
                let carrier = interface_carrying(&listing, address);
                (carrier != Some(interface.as_str())).then(|| {
                    let found = carrier.map_or("no interface carries it".to_string(), |c| format!("it is on {c}"));
                    format!(
                        "the topology names interface {interface} for this node, but {address} is not on it ({found}): flanneld advertises the interface carrying the node's address, so fix the node's `interface` or `address`"
                    )
                })
            })
            .collect())
    }

    /// The `cni-plugins` checks of `program`: every plugin binary its CNI
    /// configuration calls must be in the directory (under the root), except
    /// those a DaemonSet copies there when its pod starts (flannel's). The
    /// paths of the missing ones; a check, never something netc installs.
    pub fn missing_cni_plugins(&self, program: &Program) -> Vec<String> {
        let mut missing = Vec::new();
        for operation in &program.operations {
            if let Operation::CniPlugins {
                dir,
                plugins,
                installed_by_daemon_set,
            } = operation
            {
                let dir = self.file_path(dir);
                missing.extend(
                    plugins
                        .iter()
                        .filter(|plugin| !installed_by_daemon_set.contains(plugin))
                        .map(|plugin| dir.join(plugin))
                        .filter(|path| !path.exists())
                        .map(|path| path.display().to_string()),
                );
            }
        }
        missing
    }

    /// The live state of every file, sysctl, module and masquerade chain
    /// whose key is in `keys`. Keys of other kinds are ignored.
    pub fn observe(&self, keys: &BTreeSet<ObjectKey>) -> Result<Observed, Error> {
        let mut observed = Observed::new();
        let sysctls: Vec<String> = keys
            .iter()
            .filter_map(|k| match k {
                ObjectKey::Sysctl(key) => Some(key.clone()),
                _ => None,
            })
            .collect();
        if !sysctls.is_empty() {
            let values = self.in_namespace(move || {
                sysctls
                    .into_iter()
                    .map(|key| read_sysctl(&key).map(|value| (key, value)))
                    .collect::<Result<Vec<_>, Error>>()
            })??;
            for (key, value) in values {
                if let Some(value) = value {
                    observed.insert(Object::Sysctl {
                        key,
                        value,
                        best_effort: false,
                    });
                }
            }
        }
        for key in keys {
            match key {
                ObjectKey::File(path) => {
                    if let Some(object) = self.read_file(path)? {
                        observed.insert(object);
                    }
                }
                ObjectKey::Module(name) if module_loaded(name) => {
                    observed.insert(Object::Module { name: name.clone() });
                }
                ObjectKey::Masquerade(chain) => {
                    if let Some(object) = self.read_masquerade(chain)? {
                        observed.insert(object);
                    }
                }
                ObjectKey::ForwardAccept(chain) => {
                    if let Some(object) = super::forward::read(self, chain)? {
                        observed.insert(object);
                    }
                }
                _ => {}
            }
        }
        Ok(observed)
    }

    /// Applies one step of a plan, for the kinds this driver handles.
    pub fn apply(&self, step: &Step) -> Result<(), Error> {
        self.apply_inner(step)
            .map_err(|e| Error(format!("{:?} {}: {e}", step.action, step.object)))
    }

    fn apply_inner(&self, step: &Step) -> Result<(), Error> {
        match (&step.object, step.action) {
            (Object::File { path, .. }, Action::Delete) => match fs::remove_file(self.file_path(path)) {
                Err(e) if e.kind() != ErrorKind::NotFound => Err(Error(e.to_string())),
                _ => Ok(()),
            },
            (Object::File { path, content, mode }, _) => {
                let mode = match mode {
                    Some(mode) => {
                        Some(u32::from_str_radix(mode, 8).map_err(|_| Error(format!("bad file mode `{mode}`")))?)
                    }
                    None => None,
                };
                let target = self.file_path(path);
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).map_err(|e| Error(format!("creating {}: {e}", parent.display())))?;
                }
                crate::files::write_atomic_with_mode(&target, content.as_bytes(), mode)
                    .map_err(|e| Error(e.to_string()))
            }
            // Sysctls are never deleted (see `engine::plan`).
            (Object::Sysctl { .. }, Action::Delete) => Ok(()),
            (
                Object::Sysctl {
                    key,
                    value,
                    best_effort,
                },
                _,
            ) => {
                let (key, value, best_effort) = (key.clone(), value.clone(), *best_effort);
                self.in_namespace(move || write_sysctl(&key, &value, best_effort))?
            }
            (Object::Module { .. }, Action::Delete) => Ok(()),
            (Object::Module { name }, _) => run(Command::new("modprobe").arg(name)).map(drop),
            (Object::Masquerade { chain, .. }, Action::Delete) => self.delete_masquerade(chain),
            (Object::Masquerade { chain, source, except }, action) => {
                self.write_masquerade(chain, source, except, action == Action::Create)
            }
            (Object::ForwardAccept { chain, .. }, Action::Delete) => super::forward::delete(self, chain),
            (Object::ForwardAccept { chain, networks }, action) => {
                super::forward::write(self, chain, networks, action == Action::Create)
            }
            (object, _) => Err(Error(format!("not a host object: {object}"))),
        }
    }

    /// Runs `f` inside the network namespace: on a thread that entered it
    /// (`setns` moves only the calling thread), or here when there is none.
    fn in_namespace<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, Error> {
        let Some(name) = &self.netns else {
            return Ok(f());
        };
        let path = format!("/run/netns/{name}");
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("netc-host-ns".into())
                .spawn_scoped(scope, || {
                    super::enter_namespace(&path)?;
                    Ok(f())
                })
                .map_err(|e| Error(format!("starting a thread: {e}")))?
                .join()
                .map_err(|_| Error("the namespace thread panicked".into()))?
        })
    }

    /// Runs `command` inside the network namespace with `input` on its
    /// standard input; its output, whatever its exit status. The child is
    /// started from a thread that entered the namespace, and a child is
    /// born in its creator's: one process per command, where
    /// `ip netns exec` took two and a mount namespace.
    pub(super) fn output(&self, command: &mut Command, input: Option<&str>) -> Result<Output, Error> {
        let program = command.get_program().to_string_lossy().into_owned();
        let failed = |e: std::io::Error| Error(format!("running {program}: {e}"));
        self.in_namespace(|| {
            let stdin = if input.is_some() { Stdio::piped() } else { Stdio::null() };
            let mut child = command
                .stdin(stdin)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(failed)?;
            if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
                stdin.write_all(input.as_bytes()).map_err(failed)?;
            }
            child.wait_with_output().map_err(failed)
        })?
    }

    /// Runs `command` inside the network namespace; its standard output,
    /// or its standard error as the error.
    pub(super) fn run(&self, command: &mut Command) -> Result<String, Error> {
        let output = self.output(command, None)?;
        checked(command, output)
    }

    fn read_file(&self, path: &str) -> Result<Option<Object>, Error> {
        let target = self.file_path(path);
        let bytes = match fs::read(&target) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error(format!("reading {}: {e}", target.display()))),
        };
        let mode = fs::metadata(&target)
            .map_err(|e| Error(format!("reading {}: {e}", target.display())))?
            .permissions()
            .mode();
        Ok(Some(Object::File {
            path: path.to_owned(),
            content: String::from_utf8_lossy(&bytes).into_owned(),
            mode: Some(format!("{:04o}", mode & 0o7777)),
        }))
    }

    /// `PROGRAM ...` (iptables, ip), to run inside the namespace with
    /// `run` or `output`.
    pub(super) fn namespaced(&self, program: &str) -> Command {
        Command::new(program)
    }

    /// `iptables -t nat ACTION POSTROUTING ... -j CHAIN`: the rule that
    /// hooks netc's chain in (`-C` checks, `-A` adds, `-D` deletes it).
    fn hook(&self, action: &str, chain: &str) -> Command {
        let mut command = self.namespaced("iptables");
        command.args([
            "-w",
            "-t",
            "nat",
            action,
            "POSTROUTING",
            "-m",
            "comment",
            "--comment",
            MASQ_COMMENT,
            "-j",
            chain,
        ]);
        command
    }

    fn read_masquerade(&self, chain: &str) -> Result<Option<Object>, Error> {
        let output = self.output(self.namespaced("iptables").args(["-w", "-t", "nat", "-S", chain]), None)?;
        match output.status.code() {
            Some(0) => {}
            // No such chain.
            Some(1) => return Ok(None),
            _ => {
                return Err(Error(format!(
                    "reading iptables chain {chain}: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )))
            }
        }
        let mut source = String::new();
        let mut except = Vec::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = |flag: &str| {
                words
                    .windows(2)
                    .find(|w| w[0] == flag && !line.contains(&format!("! {flag}")))
                    .map(|w| w[1].to_owned())
            };
            if line.ends_with("-j MASQUERADE") {
                source = after("-s").unwrap_or_default();
            } else if line.ends_with("-j RETURN") {
                if let Some(destination) = after("-d") {
                    except.push(destination);
                }
            }
        }
        let hooked = self.run(&mut self.hook("-C", chain)).is_ok();
        if !hooked {
            source = format!("{source} (not hooked into POSTROUTING)");
        }
        Ok(Some(Object::Masquerade {
            chain: chain.to_owned(),
            source,
            except,
        }))
    }

    /// Writes the chain and hooks it in. `fresh`: the chain did not exist
    /// when the host was observed (a create), so no rule can jump to it yet
    /// (iptables refuses a jump to a missing chain, and a chain something
    /// jumps to cannot be deleted): the hook is added without checking.
    fn write_masquerade(&self, chain: &str, source: &str, except: &[String], fresh: bool) -> Result<(), Error> {
        let mut rules = format!("*nat\n:{chain} - [0:0]\n");
        rules.push_str(&format!(
            "-A {chain} -m mark --mark 0x4000/0x4000 -m comment --comment \"{MASQ_COMMENT}\" -j RETURN\n"
        ));
        for destination in except {
            rules.push_str(&format!(
                "-A {chain} -d {destination} -m comment --comment \"{MASQ_COMMENT}\" -j RETURN\n"
            ));
        }
        rules.push_str(&format!(
            "-A {chain} -s {source} ! -d 224.0.0.0/4 -m comment --comment \"{MASQ_COMMENT}\" -j MASQUERADE\nCOMMIT\n"
        ));
        self.restore("iptables-restore", &rules)?;
        if fresh || self.run(&mut self.hook("-C", chain)).is_err() {
            self.run(&mut self.hook("-A", chain))?;
        }
        Ok(())
    }

    /// `TOOL --noflush` with `rules` on stdin (`iptables-restore` or
    /// `ip6tables-restore`): the chains it names are replaced as a whole.
    pub(super) fn restore(&self, tool: &str, rules: &str) -> Result<(), Error> {
        let output = self.output(self.namespaced(tool).args(["-w", "--noflush"]), Some(rules))?;
        if !output.status.success() {
            return Err(Error(format!(
                "{tool}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(())
    }

    fn delete_masquerade(&self, chain: &str) -> Result<(), Error> {
        let _ = self.run(&mut self.hook("-D", chain));
        if self.read_masquerade(chain)?.is_none() {
            return Ok(());
        }
        self.run(self.namespaced("iptables").args(["-w", "-t", "nat", "-F", chain]))?;
        self.run(self.namespaced("iptables").args(["-w", "-t", "nat", "-X", chain]))
            .map(drop)
    }
}

/// The interface that `ip -o addr show` lists with `address`, if any
/// (`2: eth0    inet 198.51.100.11/24 ...`: the second field, without a
/// `@peer` suffix).
fn interface_carrying<'a>(listing: &'a str, address: &str) -> Option<&'a str> {
    listing.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let carries = fields.get(3)?.split('/').next() == Some(address);
        carries.then(|| fields[1].split('@').next().unwrap_or(fields[1]))
    })
}

/// `net.ipv6.conf.flannel/4096.accept_ra` ->
/// `/proc/sys/net/ipv6/conf/flannel.4096/accept_ra`.
pub fn sysctl_path(key: &str) -> PathBuf {
    let mut path = PathBuf::from("/proc/sys");
    for component in key.split('.') {
        path.push(component.replace('/', "."));
    }
    path
}

fn read_sysctl(key: &str) -> Result<Option<String>, Error> {
    let path = sysctl_path(key);
    match fs::read_to_string(&path) {
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error(format!("reading {}: {e}", path.display()))),
    }
}

fn write_sysctl(key: &str, value: &str, best_effort: bool) -> Result<(), Error> {
    let path = sysctl_path(key);
    match fs::write(&path, format!("{value}\n")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound && best_effort => Ok(()),
        Err(e) => Err(Error(format!("writing {}: {e}", path.display()))),
    }
}

fn module_loaded(name: &str) -> bool {
    let name = name.replace('-', "_");
    match fs::read_to_string("/proc/modules") {
        Ok(modules) => {
            modules
                .lines()
                .any(|line| line.split(' ').next() == Some(name.as_str()))
                || Path::new("/sys/module").join(&name).exists()
        }
        // No loadable module support: everything is built in.
        Err(_) => true,
    }
}

/// Runs a command here (modprobe: modules are global); its standard error
/// is the error.
pub(super) fn run(command: &mut Command) -> Result<String, Error> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error(format!("running {:?}: {e}", command.get_program())))?;
    checked(command, output)
}

/// A command's standard output if it succeeded; its standard error as the
/// error otherwise.
fn checked(command: &Command, output: Output) -> Result<String, Error> {
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error(format!(
            "{:?} failed: {}",
            command.get_program(),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_paths_keep_dots_inside_names() {
        assert_eq!(
            sysctl_path("net.ipv6.conf.flannel/4096.accept_ra"),
            PathBuf::from("/proc/sys/net/ipv6/conf/flannel.4096/accept_ra")
        );
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward"),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
    }

    #[test]
    fn files_round_trip_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        let host = Host::new(root.path(), None);
        let file = Object::File {
            path: "/etc/cni/net.d/x.conf".into(),
            content: "hello\n".into(),
            mode: Some("0640".into()),
        };
        let step = Step {
            action: Action::Create,
            key: file.key(),
            object: file.clone(),
            reason: String::new(),
            disruption: netc_plan::engine::Disruption::Hitless,
        };
        host.apply(&step).unwrap();
        let keys: BTreeSet<ObjectKey> = [file.key()].into();
        assert_eq!(host.observe(&keys).unwrap().get(&file.key()), Some(&file));
        host.apply(&Step {
            action: Action::Delete,
            ..step
        })
        .unwrap();
        assert!(host.observe(&keys).unwrap().get(&file.key()).is_none());
    }

    #[test]
    fn the_interface_carrying_an_address_is_found_in_ip_o_addr_show() {
        let listing = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
                       2: under0@if3    inet 198.51.100.11/24 scope global under0\\       valid_lft forever\n\
                       4: mgmt0    inet 198.51.100.211/32 scope global mgmt0\\       valid_lft forever\n";
        assert_eq!(interface_carrying(listing, "198.51.100.11"), Some("under0"));
        assert_eq!(interface_carrying(listing, "198.51.100.211"), Some("mgmt0"));
        // A prefix of another address is not that address.
        assert_eq!(interface_carrying(listing, "198.51.100.1"), None);
    }
}

//! The netlink driver: observes and applies links (vxlan, bridge),
//! addresses, routes, neighbours and FDB entries in one network namespace.
//!
//! - `mod.rs` (this file): the connection. One dedicated thread per
//!   `Netlink` enters the namespace (`setns(2)` only changes the calling
//!   thread, so nothing else in the process moves), opens the sockets there
//!   and runs a current-thread tokio runtime. Callers use a synchronous
//!   API: each call sends a job over a channel and waits for its answer.
//!   Dropping the `Netlink` ends the thread.
//! - `codec`: objects to netlink messages and back, and errno handling.
//! - `observe`: the dumps that give the live state of the keys asked for.
//! - `links`: creating, updating and deleting vxlan and bridge links.
//! - `apply`: one step, and whole runs of steps pipelined in batches.
//!
//! Invariants:
//! - Objects are printed exactly as `engine::desired` prints them (MACs
//!   lowercase, addresses as `std::net`/`ipnet` print them), so planning
//!   the result of an apply is empty.
//! - Routes are main-table routes; netc's carry the protocol
//!   `NETC_ROUTE_PROTOCOL`. Routes with another protocol are foreign: they
//!   are still observed (the plan must see them, and never prunes what the
//!   inventory does not list), and a route delete only removes a route with
//!   netc's protocol.
//! - Replace semantics wherever netlink has them (`NLM_F_REPLACE` for
//!   addresses, neighbours, FDB entries and routes; a create of a link that
//!   already exists becomes an in-place update; deleting what is already
//!   gone succeeds), so a retried apply is harmless.
//! - A pipelined run reports the outcome of every step it sent, in step
//!   order, and sends nothing after the batch in which a step failed, so
//!   the caller undoes exactly what was applied.

mod apply;
mod codec;
mod links;
mod observe;

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_proto::ConnectionHandle;
use rtnetlink::Handle;

pub use crate::driver::Error;
use netc_plan::engine::{ObjectKey, Observed, Step};

/// The route protocol (`rtm_protocol`) netc puts on its routes, so it can
/// tell them from others. 211 is not taken: the kernel interprets no
/// protocol above `RTPROT_STATIC` (4) and names up to 192 (`eigrp`), and
/// `/etc/iproute2/rt_protos` on the development machine lists nothing
/// between 193 and 255. `ip route` shows it as `proto 211`.
pub const NETC_ROUTE_PROTOCOL: u8 = 211;

fn err(what: impl fmt::Display, e: impl fmt::Display) -> Error {
    Error(format!("{what}: {e}"))
}

/// The two sockets of a connection, both inside the namespace: rtnetlink's
/// handle for dumps and single requests, and a bare connection that hands
/// back every acknowledgement, for batches of changes (`apply::apply_all`).
struct Sockets {
    handle: Handle,
    batches: ConnectionHandle<RouteNetlinkMessage>,
}

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime, &Sockets) + Send>;

/// An rtnetlink connection inside one network namespace.
pub struct Netlink {
    /// Steps sent to the kernel (each one or more change requests); reads
    /// are not counted. A no-op apply must leave it at zero.
    writes: AtomicUsize,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    namespace: String,
}

impl Netlink {
    /// A connection inside the network namespace `/run/netns/NAME`, or the
    /// current one for `None`.
    pub fn in_namespace(name: Option<&str>) -> Result<Netlink, Error> {
        let namespace = match name {
            Some(name) => {
                if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                    return Err(Error(format!("`{name}` is not a network namespace name")));
                }
                format!("/run/netns/{name}")
            }
            None => "the current network namespace".to_owned(),
        };
        let path = name.map(|name| format!("/run/netns/{name}"));
        let (jobs, receive) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::channel::<Result<(), Error>>();
        let thread = std::thread::Builder::new()
            .name("netc-netlink".into())
            .spawn(move || {
                let (runtime, sockets) = match connect(path.as_deref()) {
                    Ok(connection) => {
                        let _ = ready.send(Ok(()));
                        connection
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = receive.recv() {
                    job(&runtime, &sockets);
                }
            })
            .map_err(|e| err("starting the netlink thread", e))?;
        match started.recv() {
            Ok(Ok(())) => Ok(Netlink {
                writes: AtomicUsize::new(0),
                jobs: Some(jobs),
                thread: Some(thread),
                namespace,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error("the netlink thread ended while starting".into()))
            }
        }
    }

    /// Runs `f` on the namespace's thread and waits for its result.
    fn call<T, F, Fut>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(Handle, ConnectionHandle<RouteNetlinkMessage>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Error>>,
    {
        let (answer, result) = mpsc::channel();
        let job: Job = Box::new(move |runtime, sockets| {
            let _ = answer.send(runtime.block_on(f(sockets.handle.clone(), sockets.batches.clone())));
        });
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| Error("netlink connection closed".into()))?;
        jobs.send(job)
            .map_err(|_| Error(format!("the netlink thread for {} has ended", self.namespace)))?;
        result
            .recv()
            .map_err(|_| Error(format!("the netlink thread for {} has ended", self.namespace)))?
    }

    /// The live state of the objects this driver handles: every link,
    /// address, neighbour and FDB entry whose key is in `keys`, and every
    /// main-table route with a gateway (netc's and foreign ones). Keys of
    /// other kinds are ignored.
    pub fn observe(&self, keys: &BTreeSet<ObjectKey>) -> Result<Observed, Error> {
        let keys = keys.clone();
        self.call(move |handle, _| async move { observe::observe(&handle, &keys).await })
    }

    /// Applies one step of a plan, for the kinds this driver handles (a
    /// run of one: `apply_all`).
    pub fn apply(&self, step: &Step) -> Result<(), Error> {
        self.apply_all(std::slice::from_ref(step))
            .pop()
            .unwrap_or_else(|| Err(Error("the step was not sent".into())))
    }

    /// Applies consecutive steps of a plan, in order, the addresses,
    /// routes, neighbours and FDB entries among them pipelined in batches
    /// (`apply::apply_all`). The answer has one outcome per step sent, in
    /// step order: a prefix of `steps`, which ends with the batch in which
    /// a step failed. Steps after it were not sent.
    pub fn apply_all(&self, steps: &[Step]) -> Vec<Result<(), Error>> {
        let owned = steps.to_vec();
        let outcomes = self
            .call(move |handle, batches| async move { Ok(apply::apply_all(&handle, &batches, &owned).await) })
            .unwrap_or_else(|e| vec![Err(e)]);
        self.writes.fetch_add(outcomes.len(), Ordering::Relaxed);
        outcomes
    }

    /// How many steps this connection has sent to the kernel.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// On the dedicated thread: enter the namespace, start the runtime and the
/// two connections.
fn connect(path: Option<&str>) -> Result<(tokio::runtime::Runtime, Sockets), Error> {
    if let Some(path) = path {
        super::enter_namespace(path)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| err("starting the tokio runtime", e))?;
    let sockets = {
        let _context = runtime.enter();
        let (connection, handle, _) = rtnetlink::new_connection().map_err(|e| err("opening rtnetlink", e))?;
        runtime.spawn(connection);
        let (mut connection, batches, _) = netlink_proto::new_connection(netlink_sys::protocols::NETLINK_ROUTE)
            .map_err(|e| err("opening rtnetlink", e))?;
        // Every request of a batch gets exactly one answer, so answers
        // match requests by sequence number.
        connection.set_forward_ack(true);
        runtime.spawn(connection);
        Sockets { handle, batches }
    };
    Ok((runtime, sockets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use netc_plan::engine::{Action, Object};

    #[test]
    fn namespace_names_are_checked() {
        assert!(Netlink::in_namespace(Some("../x")).is_err());
        assert!(Netlink::in_namespace(Some("")).is_err());
    }

    /// A link deleted and created again behind netc's back (so it has a
    /// new index) does not fail a later step: link indexes are looked up
    /// for each step or batch, and the route lands on the new link. Needs
    /// root; skipped otherwise (fails
    /// under `NETC_REQUIRE_ROOT_TESTS=1`). Everything happens in a
    /// namespace of its own, deleted by a guard.
    #[test]
    fn a_link_created_again_is_found_by_its_new_index() {
        use std::process::Command;

        struct Namespace(String);
        impl Drop for Namespace {
            fn drop(&mut self) {
                let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
            }
        }
        fn ip(args: &[&str]) -> String {
            let output = Command::new("ip").args(args).output().unwrap();
            assert!(output.status.success(), "ip {args:?}: {output:?}");
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
        fn route(destination: &str) -> Step {
            let object = Object::Route {
                destination: destination.parse().unwrap(),
                via: "198.18.0.1".parse().unwrap(),
                device: Some("d0".into()),
                onlink: true,
            };
            Step {
                action: Action::Create,
                key: object.key(),
                object,
                reason: "test".into(),
                disruption: netc_plan::engine::Disruption::Hitless,
            }
        }

        if !nix::unistd::geteuid().is_root() {
            assert_ne!(
                std::env::var("NETC_REQUIRE_ROOT_TESTS").as_deref(),
                Ok("1"),
                "NETC_REQUIRE_ROOT_TESTS=1 but not root"
            );
            eprintln!("skipped: not root");
            return;
        }
        let ns = Namespace(format!("netc-nlcache-{}", std::process::id()));
        ip(&["netns", "add", &ns.0]);
        let veth = |ns: &str| {
            ip(&[
                "link", "add", "d0", "netns", ns, "type", "veth", "peer", "name", "d1", "netns", ns,
            ]);
            // An onlink route needs a device with an address and carrier.
            ip(&["-n", ns, "addr", "add", "198.51.100.1/24", "dev", "d0"]);
            ip(&["-n", ns, "link", "set", "d0", "up"]);
            ip(&["-n", ns, "link", "set", "d1", "up"]);
        };
        veth(&ns.0);
        let netlink = Netlink::in_namespace(Some(&ns.0)).unwrap();
        netlink.apply(&route("198.18.1.0/24")).unwrap();
        let old = ip(&["-n", &ns.0, "-o", "link", "show", "d0"]);
        ip(&["-n", &ns.0, "link", "del", "d0"]);
        veth(&ns.0);
        let new = ip(&["-n", &ns.0, "-o", "link", "show", "d0"]);
        assert_ne!(old.split(':').next(), new.split(':').next(), "d0 has a new index");

        netlink.apply(&route("198.18.2.0/24")).unwrap();
        let routes = ip(&["-n", &ns.0, "route", "show", "proto", "211"]);
        assert!(routes.contains("198.18.2.0/24 via 198.18.0.1 dev d0"), "{routes}");
        assert!(!routes.contains("198.18.1.0/24"), "went with the old d0: {routes}");
    }
}

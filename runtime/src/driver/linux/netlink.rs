//! The netlink driver: observes and applies links (vxlan, bridge),
//! addresses, routes, neighbours and FDB entries in one network namespace.
//!
//! Design:
//! - One dedicated thread per `Netlink`. It enters the namespace
//!   (`setns(2)` only changes the calling thread, so nothing else in the
//!   process moves), opens the rtnetlink socket there and runs a
//!   current-thread tokio runtime. Callers use a synchronous API: each call
//!   sends a job over a channel and waits for its answer. Dropping the
//!   `Netlink` ends the thread.
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

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::thread::JoinHandle;

use futures::TryStreamExt;
use ipnet::IpNet;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteType,
};
use netlink_packet_route::AddressFamily;
use nix::sched::CloneFlags;
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVxlan, RouteMessageBuilder};

pub use crate::driver::Error;
use crate::engine::{Action, Object, ObjectKey, Observed, Step};

/// The route protocol (`rtm_protocol`) netc puts on its routes, so it can
/// tell them from others. 211 is not taken: the kernel interprets no
/// protocol above `RTPROT_STATIC` (4) and names up to 192 (`eigrp`), and
/// `/etc/iproute2/rt_protos` on the development machine lists nothing
/// between 193 and 255. `ip route` shows it as `proto 211`.
pub const NETC_ROUTE_PROTOCOL: u8 = 211;

const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const ENODEV: i32 = 19;
const EADDRNOTAVAIL: i32 = 99;

fn err(what: impl fmt::Display, e: impl fmt::Display) -> Error {
    Error(format!("{what}: {e}"))
}

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime, &Handle) + Send>;

/// An rtnetlink connection inside one network namespace.
pub struct Netlink {
    /// Steps sent to the kernel (each one or more change requests); reads
    /// are not counted. A no-op apply must leave it at zero.
    writes: std::sync::atomic::AtomicUsize,
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
                let (runtime, handle) = match connect(path.as_deref()) {
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
                    job(&runtime, &handle);
                }
            })
            .map_err(|e| err("starting the netlink thread", e))?;
        match started.recv() {
            Ok(Ok(())) => Ok(Netlink {
                writes: std::sync::atomic::AtomicUsize::new(0),
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
        F: FnOnce(Handle) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Error>>,
    {
        let (answer, result) = mpsc::channel();
        let job: Job = Box::new(move |runtime, handle| {
            let _ = answer.send(runtime.block_on(f(handle.clone())));
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
        self.call(move |handle| async move { observe(&handle, &keys).await })
    }

    /// Applies one step of a plan, for the kinds this driver handles.
    pub fn apply(&self, step: &Step) -> Result<(), Error> {
        self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let step = step.clone();
        self.call(move |handle| async move {
            apply_remembering_links(&handle, &step)
                .await
                .map_err(|e| Error(format!("{:?} {}: {e}", step.action, step.object)))
        })
    }
}

impl Netlink {
    /// How many steps this connection has sent to the kernel.
    pub fn writes(&self) -> usize {
        self.writes.load(std::sync::atomic::Ordering::Relaxed)
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
/// connection.
fn connect(path: Option<&str>) -> Result<(tokio::runtime::Runtime, Handle), Error> {
    if let Some(path) = path {
        let file = File::open(path).map_err(|e| err(format!("opening {path}"), e))?;
        nix::sched::setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| err(format!("entering {path}"), e))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| err("starting the tokio runtime", e))?;
    let handle = {
        let _context = runtime.enter();
        let (connection, handle, _) = rtnetlink::new_connection().map_err(|e| err("opening rtnetlink", e))?;
        runtime.spawn(connection);
        handle
    };
    Ok((runtime, handle))
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|c| -c.get()),
        _ => None,
    }
}

fn ignore_missing(result: Result<(), rtnetlink::Error>) -> Result<(), rtnetlink::Error> {
    match result {
        Err(e) if matches!(errno(&e), Some(ENOENT | ESRCH | ENODEV | EADDRNOTAVAIL)) => Ok(()),
        other => other,
    }
}

fn mac_string(bytes: &[u8]) -> String {
    // One allocation: this runs for every neighbour and FDB entry observed.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 3);
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            text.push(':');
        }
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    text
}

fn mac_bytes(text: &str) -> Result<Vec<u8>, Error> {
    let bytes: Result<Vec<u8>, _> = text.split(':').map(|p| u8::from_str_radix(p, 16)).collect();
    match bytes {
        Ok(bytes) if bytes.len() == 6 => Ok(bytes),
        _ => Err(Error(format!("`{text}` is not a MAC address"))),
    }
}

fn parse_ip(text: &str) -> Result<IpAddr, Error> {
    text.parse()
        .map_err(|_| Error(format!("`{text}` is not an IP address")))
}

fn parse_net(text: &str) -> Result<IpNet, Error> {
    text.parse()
        .map_err(|_| Error(format!("`{text}` is not an address with a prefix")))
}

async fn links(handle: &Handle) -> Result<Vec<LinkMessage>, Error> {
    handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(|e| err("listing links", e))
}

fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

thread_local! {
    /// Link indexes by name, remembered between steps on this connection's
    /// thread (each `Netlink` has its own thread, so this is per
    /// connection). Without it every route, neighbour and FDB step costs a
    /// second round trip (`RTM_GETLINK`) and applying peers takes about 1.5
    /// times as long (runtime/benches/apply.rs). Kept correct by
    /// `apply_remembering_links`: only creates and updates of addresses,
    /// neighbours, FDB entries and routes use it (`active`); a link step or
    /// a delete empties it and looks up live indexes, and so does
    /// `observe`; a step that fails after using it (perhaps a link was
    /// deleted behind netc's back) is retried once with fresh lookups.
    static LINK_INDEXES: RefCell<LinkIndexes> = RefCell::new(LinkIndexes::default());
}

#[derive(Default)]
struct LinkIndexes {
    by_name: BTreeMap<String, u32>,
    /// Whether `link_index` may answer from and fill `by_name` now.
    active: bool,
    /// Whether `link_index` answered from `by_name` during this step.
    used: bool,
}

fn forget_link_indexes() {
    LINK_INDEXES.with(|cache| *cache.borrow_mut() = LinkIndexes::default());
}

/// `apply`, with link indexes remembered between steps where that is safe
/// (see `LINK_INDEXES`).
async fn apply_remembering_links(handle: &Handle, step: &Step) -> Result<(), Error> {
    let remembers = step.action != Action::Delete
        && matches!(
            step.object,
            Object::Address { .. } | Object::Neighbour { .. } | Object::Fdb { .. } | Object::Route { .. }
        );
    if !remembers {
        forget_link_indexes();
        return apply(handle, step).await;
    }
    LINK_INDEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        cache.active = true;
        cache.used = false;
    });
    let mut result = apply(handle, step).await;
    if result.is_err() && LINK_INDEXES.with(|cache| cache.borrow().used) {
        // Perhaps a remembered index is stale: look again. Harmless, as
        // every step has replace semantics.
        forget_link_indexes();
        result = apply(handle, step).await;
    }
    LINK_INDEXES.with(|cache| cache.borrow_mut().active = false);
    result
}

async fn link_index(handle: &Handle, name: &str) -> Result<Option<u32>, Error> {
    let (active, remembered) = LINK_INDEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let remembered = cache.by_name.get(name).copied().filter(|_| cache.active);
        cache.used |= remembered.is_some();
        (cache.active, remembered)
    });
    if remembered.is_some() {
        return Ok(remembered);
    }
    let index = look_up_link_index(handle, name).await?;
    if let (true, Some(index)) = (active, index) {
        LINK_INDEXES.with(|cache| cache.borrow_mut().by_name.insert(name.to_owned(), index));
    }
    Ok(index)
}

async fn look_up_link_index(handle: &Handle, name: &str) -> Result<Option<u32>, Error> {
    let result: Result<Vec<LinkMessage>, _> = handle
        .link()
        .get()
        .match_name(name.to_owned())
        .execute()
        .try_collect()
        .await;
    match result {
        Ok(links) => Ok(links.first().map(|l| l.header.index)),
        Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
        Err(e) => Err(err(format!("looking up link {name}"), e)),
    }
}

async fn require_link(handle: &Handle, name: &str) -> Result<u32, Error> {
    link_index(handle, name)
        .await?
        .ok_or_else(|| Error(format!("link {name} does not exist")))
}

/// A link as an `Object`, if it is a vxlan device or a bridge.
fn link_object(link: &LinkMessage, names: &BTreeMap<u32, String>) -> Option<Object> {
    let name = link_name(link)?.to_owned();
    let mut mtu = 0;
    let mut mac = String::new();
    let mut kind = None;
    let mut data = None;
    for attribute in &link.attributes {
        match attribute {
            LinkAttribute::Mtu(m) => mtu = *m,
            LinkAttribute::Address(bytes) => mac = mac_string(bytes),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(k) => kind = Some(k.clone()),
                        LinkInfo::Data(d) => data = Some(d.clone()),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let up = link.header.flags.contains(LinkFlags::Up);
    match kind? {
        InfoKind::Bridge => Some(Object::Bridge { name, mtu, up }),
        InfoKind::Vxlan => {
            let (mut vni, mut port, mut local, mut underlay, mut learning) = (0, 0, String::new(), None, true);
            if let Some(InfoData::Vxlan(infos)) = data {
                for info in infos {
                    match info {
                        InfoVxlan::Id(id) => vni = id,
                        InfoVxlan::Port(p) => port = u32::from(p),
                        InfoVxlan::Local(ip) => local = ip.to_string(),
                        InfoVxlan::Local6(ip) => local = ip.to_string(),
                        InfoVxlan::Link(index) => underlay = names.get(&index).cloned(),
                        InfoVxlan::Learning(l) => learning = l,
                        _ => {}
                    }
                }
            }
            Some(Object::VxlanLink {
                name,
                vni,
                port,
                local,
                underlay,
                mac,
                mtu,
                learning,
                up,
            })
        }
        _ => None,
    }
}

fn address_object(message: &AddressMessage, names: &BTreeMap<u32, String>) -> Option<Object> {
    let device = names.get(&message.header.index)?.clone();
    let mut local = None;
    let mut address = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    // IPv4: IFA_LOCAL is the interface's own address (IFA_ADDRESS is the
    // peer on point-to-point links); IPv6 has only IFA_ADDRESS.
    let ip = local.or(address)?;
    let cidr = IpNet::new(ip, message.header.prefix_len).ok()?;
    Some(Object::Address {
        device,
        cidr: cidr.to_string(),
    })
}

fn route_ip(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

fn route_object(message: &RouteMessage, names: &BTreeMap<u32, String>) -> Option<Object> {
    let header = &message.header;
    let mut table = u32::from(header.table);
    let mut destination = None;
    let mut via = None;
    let mut device = None;
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(a) => destination = route_ip(a),
            RouteAttribute::Gateway(a) => via = route_ip(a),
            RouteAttribute::Via(netlink_packet_route::route::RouteVia::Inet(ip)) => via = Some(IpAddr::V4(*ip)),
            RouteAttribute::Via(netlink_packet_route::route::RouteVia::Inet6(ip)) => via = Some(IpAddr::V6(*ip)),
            RouteAttribute::Oif(index) => device = names.get(index).cloned(),
            _ => {}
        }
    }
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) || header.kind != RouteType::Unicast {
        return None;
    }
    let via = via?;
    let destination = match destination {
        Some(ip) => IpNet::new(ip, header.destination_prefix_length).ok()?,
        None => IpNet::new(
            match header.address_family {
                AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            },
            0,
        )
        .ok()?,
    };
    Some(Object::Route {
        destination: destination.to_string(),
        via: via.to_string(),
        device,
        onlink: header.flags.contains(RouteFlags::Onlink),
    })
}

fn neighbour_parts(message: &NeighbourMessage) -> (Option<IpAddr>, Option<String>) {
    let mut ip = None;
    let mut mac = None;
    for attribute in &message.attributes {
        match attribute {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => ip = Some(IpAddr::V4(*a)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => ip = Some(IpAddr::V6(*a)),
            // FDB entries (family `AF_BRIDGE`) come back unparsed.
            NeighbourAttribute::Destination(NeighbourAddress::Other(bytes)) => {
                ip = match bytes.len() {
                    4 => <[u8; 4]>::try_from(bytes.as_slice()).ok().map(|b| IpAddr::V4(b.into())),
                    16 => <[u8; 16]>::try_from(bytes.as_slice())
                        .ok()
                        .map(|b| IpAddr::V6(b.into())),
                    _ => None,
                }
            }
            NeighbourAttribute::LinkLayerAddress(bytes) => mac = Some(mac_string(bytes)),
            _ => {}
        }
    }
    (ip, mac)
}

async fn observe(handle: &Handle, keys: &BTreeSet<ObjectKey>) -> Result<Observed, Error> {
    // What is observed next is applied against fresh link indexes.
    forget_link_indexes();
    let mut observed = Observed::new();
    let links = links(handle).await?;
    let names: BTreeMap<u32, String> = links
        .iter()
        .filter_map(|l| Some((l.header.index, link_name(l)?.to_owned())))
        .collect();
    let wanted = |object: &Object| keys.contains(&object.key());

    for link in &links {
        if let Some(object) = link_object(link, &names).filter(|o| wanted(o)) {
            observed.insert(object);
        }
    }
    if keys.iter().any(|k| matches!(k, ObjectKey::Address { .. })) {
        let addresses: Vec<AddressMessage> = handle
            .address()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| err("listing addresses", e))?;
        for object in addresses.iter().filter_map(|a| address_object(a, &names)) {
            if wanted(&object) {
                observed.insert(object);
            }
        }
    }
    if keys.iter().any(|k| matches!(k, ObjectKey::Neighbour { .. })) {
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let neighbours: Vec<NeighbourMessage> = handle
                .neighbours()
                .get()
                .set_address_family(family)
                .execute()
                .try_collect()
                .await
                .map_err(|e| err("listing neighbours", e))?;
            for message in &neighbours {
                // Only permanent entries: a learned one expires, so it is
                // not the object netc wants (a create makes it permanent).
                if message.header.state != NeighbourState::Permanent {
                    continue;
                }
                let (Some(ip), Some(mac)) = neighbour_parts(message) else {
                    continue;
                };
                let Some(device) = names.get(&message.header.ifindex) else {
                    continue;
                };
                let object = Object::Neighbour {
                    device: device.clone(),
                    ip: ip.to_string(),
                    mac,
                };
                if wanted(&object) {
                    observed.insert(object);
                }
            }
        }
    }
    if keys.iter().any(|k| matches!(k, ObjectKey::Fdb { .. })) {
        let entries: Vec<NeighbourMessage> = handle
            .neighbours()
            .get()
            .set_address_family(AddressFamily::Bridge)
            .execute()
            .try_collect()
            .await
            .map_err(|e| err("listing FDB entries", e))?;
        for message in &entries {
            if message.header.state != NeighbourState::Permanent || !message.header.flags.contains(NeighbourFlags::Own)
            {
                continue;
            }
            let (Some(dst), Some(mac)) = neighbour_parts(message) else {
                continue;
            };
            let Some(device) = names.get(&message.header.ifindex) else {
                continue;
            };
            let object = Object::Fdb {
                device: device.clone(),
                mac,
                dst: dst.to_string(),
            };
            // Several destinations for one MAC (`bridge fdb append`): the
            // first one seen is reported.
            if wanted(&object) && observed.get(&object.key()).is_none() {
                observed.insert(object);
            }
        }
    }
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut query = RouteMessage::default();
        query.header.address_family = family;
        let routes: Vec<RouteMessage> = handle
            .route()
            .get(query)
            .execute()
            .try_collect()
            .await
            .map_err(|e| err("listing routes", e))?;
        for object in routes.iter().filter_map(|r| route_object(r, &names)) {
            observed.insert(object);
        }
    }
    Ok(observed)
}

async fn apply(handle: &Handle, step: &Step) -> Result<(), Error> {
    match (&step.object, step.action) {
        (Object::VxlanLink { name, .. } | Object::Bridge { name, .. }, Action::Delete) => {
            delete_link(handle, name).await
        }
        (Object::VxlanLink { name, .. } | Object::Bridge { name, .. }, Action::Recreate) => {
            delete_link(handle, name).await?;
            create_link(handle, &step.object).await
        }
        (Object::VxlanLink { .. } | Object::Bridge { .. }, Action::Create) => create_link(handle, &step.object).await,
        (Object::VxlanLink { .. } | Object::Bridge { .. }, Action::Update) => update_link(handle, &step.object).await,
        (Object::Address { device, cidr }, action) => {
            let net = parse_net(cidr)?;
            let Some(index) = link_index(handle, device).await? else {
                // The address went with its device.
                return if action == Action::Delete {
                    Ok(())
                } else {
                    Err(Error(format!("link {device} does not exist")))
                };
            };
            if action == Action::Delete {
                let mut message = AddressMessage::default();
                message.header.family = match net {
                    IpNet::V4(_) => AddressFamily::Inet,
                    IpNet::V6(_) => AddressFamily::Inet6,
                };
                message.header.prefix_len = net.prefix_len();
                message.header.index = index;
                message.attributes.push(AddressAttribute::Local(net.addr()));
                message.attributes.push(AddressAttribute::Address(net.addr()));
                ignore_missing(handle.address().del(message).execute().await).map_err(|e| err("deleting", e))
            } else {
                handle
                    .address()
                    .add(index, net.addr(), net.prefix_len())
                    .replace()
                    .execute()
                    .await
                    .map_err(|e| err("adding", e))
            }
        }
        (Object::Neighbour { device, ip, mac }, action) => {
            let ip = parse_ip(ip)?;
            let Some(index) = link_index(handle, device).await? else {
                return missing_device(device, action);
            };
            if action == Action::Delete {
                let mut message = NeighbourMessage::default();
                message.header.family = family_of(ip);
                message.header.ifindex = index;
                message
                    .attributes
                    .push(NeighbourAttribute::Destination(neighbour_address(ip)));
                ignore_missing(handle.neighbours().del(message).execute().await).map_err(|e| err("deleting", e))
            } else {
                handle
                    .neighbours()
                    .add(index, ip)
                    .link_layer_address(&mac_bytes(mac)?)
                    .state(NeighbourState::Permanent)
                    .replace()
                    .execute()
                    .await
                    .map_err(|e| err("adding", e))
            }
        }
        (Object::Fdb { device, mac, dst }, action) => {
            let dst = parse_ip(dst)?;
            let mac = mac_bytes(mac)?;
            let Some(index) = link_index(handle, device).await? else {
                return missing_device(device, action);
            };
            if action == Action::Delete {
                let mut message = NeighbourMessage::default();
                message.header.family = AddressFamily::Bridge;
                message.header.ifindex = index;
                message.header.flags = NeighbourFlags::Own;
                message.attributes.push(NeighbourAttribute::LinkLayerAddress(mac));
                message
                    .attributes
                    .push(NeighbourAttribute::Destination(neighbour_address(dst)));
                ignore_missing(handle.neighbours().del(message).execute().await).map_err(|e| err("deleting", e))
            } else {
                handle
                    .neighbours()
                    .add_bridge(index, &mac)
                    .flags(NeighbourFlags::Own)
                    .state(NeighbourState::Permanent)
                    .destination(dst)
                    .replace()
                    .execute()
                    .await
                    .map_err(|e| err("adding", e))
            }
        }
        (
            Object::Route {
                destination,
                via,
                device,
                onlink,
            },
            action,
        ) => {
            let destination = parse_net(destination)?;
            let via = parse_ip(via)?;
            if action == Action::Delete {
                // Only netc's route at this destination (the kernel matches
                // the protocol when it is given).
                let message = route_message(destination, None, None, false)?;
                return ignore_missing(handle.route().del(message).execute().await).map_err(|e| err("deleting", e));
            }
            let index = match device {
                Some(device) => Some(require_link(handle, device).await?),
                None => None,
            };
            let message = route_message(destination, Some(via), index, *onlink)?;
            handle
                .route()
                .add(message)
                .replace()
                .execute()
                .await
                .map_err(|e| err("adding", e))
        }
        (object, _) => Err(Error(format!("not a netlink object: {object}"))),
    }
}

fn missing_device(device: &str, action: Action) -> Result<(), Error> {
    if action == Action::Delete {
        Ok(())
    } else {
        Err(Error(format!("link {device} does not exist")))
    }
}

fn family_of(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn neighbour_address(ip: IpAddr) -> NeighbourAddress {
    match ip {
        IpAddr::V4(ip) => NeighbourAddress::Inet(ip),
        IpAddr::V6(ip) => NeighbourAddress::Inet6(ip),
    }
}

/// A main-table route with netc's protocol.
fn route_message(
    destination: IpNet,
    via: Option<IpAddr>,
    index: Option<u32>,
    onlink: bool,
) -> Result<RouteMessage, Error> {
    if let Some(via) = via.filter(|via| via.is_ipv4() != destination.addr().is_ipv4()) {
        return Err(Error(format!(
            "route to {destination} via {via}: mixed address families"
        )));
    }
    // One builder for both families: the destination sets the family.
    let mut builder = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(destination.addr(), destination.prefix_len())
        .map_err(|e| err(format!("route to {destination}"), e))?
        .protocol(RouteProtocol::from(NETC_ROUTE_PROTOCOL));
    if let Some(via) = via {
        builder = builder
            .gateway(via)
            .map_err(|e| err(format!("route to {destination} via {via}"), e))?;
    }
    if let Some(index) = index {
        builder = builder.output_interface(index);
    }
    if onlink {
        builder = builder.onlink();
    }
    Ok(builder.build())
}

async fn delete_link(handle: &Handle, name: &str) -> Result<(), Error> {
    match link_index(handle, name).await? {
        Some(index) => ignore_missing(handle.link().del(index).execute().await).map_err(|e| err("deleting", e)),
        None => Ok(()),
    }
}

/// The interface carrying `local`, for a vxlan link without an underlay.
async fn interface_with(handle: &Handle, local: IpAddr) -> Result<u32, Error> {
    let addresses: Vec<AddressMessage> = handle
        .address()
        .get()
        .set_address_filter(local)
        .execute()
        .try_collect()
        .await
        .map_err(|e| err("listing addresses", e))?;
    addresses
        .iter()
        .find(|a| {
            a.attributes
                .iter()
                .any(|attr| matches!(attr, AddressAttribute::Local(ip) | AddressAttribute::Address(ip) if *ip == local))
        })
        .map(|a| a.header.index)
        .ok_or_else(|| Error(format!("no interface carries the local address {local}")))
}

async fn create_link(handle: &Handle, object: &Object) -> Result<(), Error> {
    let (Object::VxlanLink { name, .. } | Object::Bridge { name, .. }) = object else {
        return Err(Error(format!("not a link: {object}")));
    };
    // A link that already exists (a retried apply) is updated in place.
    if link_index(handle, name).await?.is_some() {
        return update_link(handle, object).await;
    }
    let message = match object {
        Object::VxlanLink {
            name,
            vni,
            port,
            local,
            underlay,
            mac,
            mtu,
            learning,
            up,
        } => {
            let local = parse_ip(local)?;
            let underlay = match underlay {
                Some(underlay) => require_link(handle, underlay).await?,
                None => interface_with(handle, local).await?,
            };
            let port = u16::try_from(*port).map_err(|_| Error(format!("vxlan port {port} is out of range")))?;
            let mut builder = LinkVxlan::new(name, *vni)
                .dev(underlay)
                .port(port)
                .learning(*learning)
                .address(mac_bytes(mac)?)
                .mtu(*mtu);
            builder = match local {
                IpAddr::V4(local) => builder.local(local),
                IpAddr::V6(local) => builder.local6(local),
            };
            if *up {
                builder = builder.up();
            }
            builder.build()
        }
        Object::Bridge { name, mtu, up } => {
            let mut builder = LinkBridge::new(name).mtu(*mtu);
            if *up {
                builder = builder.up();
            }
            builder.build()
        }
        _ => unreachable!("checked above"),
    };
    handle
        .link()
        .add(message)
        .execute()
        .await
        .map_err(|e| err("creating", e))
}

/// MTU, MAC, learning and up, in place. `up: false` leaves the state alone.
async fn update_link(handle: &Handle, object: &Object) -> Result<(), Error> {
    let (name, mtu, mac, learning, up) = match object {
        Object::VxlanLink {
            name,
            mtu,
            mac,
            learning,
            up,
            ..
        } => (name, *mtu, Some(mac), Some(*learning), *up),
        Object::Bridge { name, mtu, up } => (name, *mtu, None, None, *up),
        _ => return Err(Error(format!("not a link: {object}"))),
    };
    let index = require_link(handle, name).await?;
    // Only what differs: setting even the same MAC is a NETDEV_CHANGEADDR,
    // on which the kernel flushes the device's neighbours, permanent ones
    // included.
    let current = {
        let links = links(handle).await?;
        let names = BTreeMap::new();
        links
            .iter()
            .find(|l| l.header.index == index)
            .and_then(|l| link_object(l, &names))
    };
    let (mac, learning) = match current {
        Some(Object::VxlanLink {
            mac: mac0,
            learning: learning0,
            ..
        }) => (mac.filter(|m| **m != mac0), learning.filter(|l| *l != learning0)),
        _ => (mac, learning),
    };
    if let Some(learning) = learning {
        let message = LinkMessageBuilder::<LinkVxlan>::new_with_info_kind(InfoKind::Vxlan)
            .index(index)
            .append_info_data(InfoVxlan::Learning(learning))
            .build();
        handle
            .link()
            .change(message)
            .execute()
            .await
            .map_err(|e| err("changing learning", e))?;
    }
    let mut builder = LinkUnspec::new_with_index(index).mtu(mtu);
    if let Some(mac) = mac {
        builder = builder.address(mac_bytes(mac)?);
    }
    if up {
        builder = builder.up();
    }
    handle
        .link()
        .set(builder.build())
        .execute()
        .await
        .map_err(|e| err("setting", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_round_trip_lowercase() {
        let bytes = mac_bytes("02:00:C6:12:01:0a").unwrap();
        assert_eq!(mac_string(&bytes), "02:00:c6:12:01:0a");
        assert!(mac_bytes("02:00:c6:12:01").is_err());
        assert!(mac_bytes("zz:00:c6:12:01:00").is_err());
    }

    #[test]
    fn namespace_names_are_checked() {
        assert!(Netlink::in_namespace(Some("../x")).is_err());
        assert!(Netlink::in_namespace(Some("")).is_err());
    }

    #[test]
    fn routes_carry_netc_protocol_in_main_table() {
        let message = route_message(
            "198.18.2.0/24".parse().unwrap(),
            Some("198.18.2.0".parse().unwrap()),
            Some(7),
            true,
        )
        .unwrap();
        assert_eq!(u8::from(message.header.protocol), NETC_ROUTE_PROTOCOL);
        assert_eq!(message.header.table, RouteHeader::RT_TABLE_MAIN);
        assert!(message.header.flags.contains(RouteFlags::Onlink));
        let names = BTreeMap::from([(7, "flannel.4096".to_owned())]);
        assert_eq!(
            route_object(&message, &names).unwrap().to_string(),
            "route 198.18.2.0/24 via 198.18.2.0 dev flannel.4096 onlink"
        );
        assert!(route_message(
            "198.18.2.0/24".parse().unwrap(),
            Some("2001:db8::1".parse().unwrap()),
            None,
            false
        )
        .is_err());
    }

    /// A remembered link index that went stale (the link was deleted and
    /// created again behind netc's back) costs a retry, not a failure: the
    /// route lands on the new link. Needs root; skipped otherwise (fails
    /// under `NETC_REQUIRE_ROOT_TESTS=1`). Everything happens in a
    /// namespace of its own, deleted by a guard.
    #[test]
    fn stale_remembered_link_index_is_looked_up_again() {
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
                destination: destination.into(),
                via: "198.18.0.1".into(),
                device: Some("d0".into()),
                onlink: true,
            };
            Step {
                action: Action::Create,
                key: object.key(),
                object,
                reason: "test".into(),
                disruption: crate::engine::Disruption::Hitless,
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

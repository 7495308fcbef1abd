//! Objects to netlink messages and back: what a dumped link, address,
//! route or neighbour is as an `Object`, the messages that change one, and
//! which kernel errors mean "already gone".

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use netlink_packet_core::{NetlinkMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{Handle, RouteMessageBuilder};

use super::{err, Error, NETC_ROUTE_PROTOCOL};
use netc_plan::engine::{Action, Mac, Object, Step, VxlanLink};

const ENOENT: i32 = 2;

const ESRCH: i32 = 3;

pub(super) const ENODEV: i32 = 19;

const EADDRNOTAVAIL: i32 = 99;

pub(super) fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|c| -c.get()),
        _ => None,
    }
}

pub(super) fn ignore_missing(result: Result<(), rtnetlink::Error>) -> Result<(), rtnetlink::Error> {
    match result {
        Err(e) if matches!(errno(&e), Some(ENOENT | ESRCH | ENODEV | EADDRNOTAVAIL)) => Ok(()),
        other => other,
    }
}

/// The MAC address in a link-layer address attribute, if it is one.
pub(super) fn mac(bytes: &[u8]) -> Option<Mac> {
    <[u8; 6]>::try_from(bytes).ok().map(Mac)
}

pub(super) fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

/// A link as an `Object`, if it is a vxlan device or a bridge.
pub(super) fn link_object(link: &LinkMessage, names: &BTreeMap<u32, String>) -> Option<Object> {
    let name = link_name(link)?.to_owned();
    let mut mtu = 0;
    // A device without a 6-byte address would be no vxlan link netc made.
    let mut mac = Mac([0; 6]);
    let mut kind = None;
    let mut data = None;
    for attribute in &link.attributes {
        match attribute {
            LinkAttribute::Mtu(m) => mtu = *m,
            LinkAttribute::Address(bytes) => mac = self::mac(bytes).unwrap_or(mac),
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
            // What the kernel leaves out is its default: learning on.
            let mut link = VxlanLink {
                name,
                mac,
                mtu,
                up,
                learning: true,
                vni: 0,
                port: 0,
                // Unset: no local address, which no program asks for.
                local: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                underlay: None,
            };
            if let Some(InfoData::Vxlan(infos)) = data {
                for info in infos {
                    match info {
                        InfoVxlan::Id(id) => link.vni = id,
                        InfoVxlan::Port(p) => link.port = u32::from(p),
                        InfoVxlan::Local(ip) => link.local = IpAddr::V4(ip),
                        InfoVxlan::Local6(ip) => link.local = IpAddr::V6(ip),
                        InfoVxlan::Link(index) => link.underlay = names.get(&index).cloned(),
                        InfoVxlan::Learning(l) => link.learning = l,
                        _ => {}
                    }
                }
            }
            Some(Object::VxlanLink(link))
        }
        _ => None,
    }
}

pub(super) fn address_object(message: &AddressMessage, names: &BTreeMap<u32, String>) -> Option<Object> {
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
    Some(Object::Address { device, cidr })
}

fn route_ip(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

pub(super) fn route_object(message: &RouteMessage, names: &BTreeMap<u32, String>) -> Option<Object> {
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
        destination,
        via,
        device,
        onlink: header.flags.contains(RouteFlags::Onlink),
    })
}

pub(super) fn neighbour_parts(message: &NeighbourMessage) -> (Option<IpAddr>, Option<Mac>) {
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
            NeighbourAttribute::LinkLayerAddress(bytes) => mac = self::mac(bytes),
            _ => {}
        }
    }
    (ip, mac)
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
pub(super) fn route_message(
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

/// The device whose index the request of a step needs: an address's,
/// neighbour's or FDB entry's, and a route's that leaves through a named
/// device (a route delete matches on the destination alone).
pub(super) fn device_of(step: &Step) -> Option<&str> {
    match &step.object {
        Object::Address { device, .. } | Object::Neighbour { device, .. } | Object::Fdb { device, .. } => Some(device),
        Object::Route { device, .. } if step.action != Action::Delete => device.as_deref(),
        _ => None,
    }
}

/// Whether a step is one change request on a device object (address,
/// route, neighbour, FDB entry), as opposed to a link step.
pub(super) fn is_device_step(step: &Step) -> bool {
    matches!(
        step.object,
        Object::Address { .. } | Object::Route { .. } | Object::Neighbour { .. } | Object::Fdb { .. }
    )
}

/// The one request that carries out a device step.
pub(super) struct Change {
    pub message: NetlinkMessage<RouteNetlinkMessage>,
    /// A delete: "already gone" counts as done.
    pub delete: bool,
}

/// What the kernel's answer to a change means: `answer` is its error, if
/// any; `delete`: the change was a delete.
pub(super) fn outcome(delete: bool, answer: Option<rtnetlink::Error>) -> Result<(), Error> {
    match answer {
        None => Ok(()),
        Some(e) if delete => ignore_missing(Err(e)).map_err(|e| err("deleting", e)),
        Some(e) => Err(err("adding", e)),
    }
}

/// The request for a device step (`is_device_step`), as rtnetlink's
/// builders make it, given the index of `device_of(step)` (`None`: no such
/// device). `Ok(None)`: nothing to send (a delete on a device that is gone
/// took its objects with it).
pub(super) fn change(handle: &Handle, step: &Step, index: Option<u32>) -> Result<Option<Change>, Error> {
    let delete = step.action == Action::Delete;
    let missing = |device: &str| missing_device(device, step.action).map(|()| None);
    let payload = match &step.object {
        Object::Address { device, cidr } => {
            let net = *cidr;
            let Some(index) = index else { return missing(device) };
            if delete {
                let mut message = AddressMessage::default();
                message.header.family = match net {
                    IpNet::V4(_) => AddressFamily::Inet,
                    IpNet::V6(_) => AddressFamily::Inet6,
                };
                message.header.prefix_len = net.prefix_len();
                message.header.index = index;
                message.attributes.push(AddressAttribute::Local(net.addr()));
                message.attributes.push(AddressAttribute::Address(net.addr()));
                RouteNetlinkMessage::DelAddress(message)
            } else {
                let mut request = handle.address().add(index, net.addr(), net.prefix_len());
                RouteNetlinkMessage::NewAddress(request.message_mut().clone())
            }
        }
        Object::Neighbour { device, ip, mac } => {
            let ip = *ip;
            let Some(index) = index else { return missing(device) };
            if delete {
                let mut message = NeighbourMessage::default();
                message.header.family = family_of(ip);
                message.header.ifindex = index;
                message
                    .attributes
                    .push(NeighbourAttribute::Destination(neighbour_address(ip)));
                RouteNetlinkMessage::DelNeighbour(message)
            } else {
                let mut request = handle
                    .neighbours()
                    .add(index, ip)
                    .link_layer_address(&mac.0)
                    .state(NeighbourState::Permanent);
                RouteNetlinkMessage::NewNeighbour(request.message_mut().clone())
            }
        }
        Object::Fdb { device, mac, dst } => {
            let (dst, mac) = (*dst, mac.0.to_vec());
            let Some(index) = index else { return missing(device) };
            if delete {
                let mut message = NeighbourMessage::default();
                message.header.family = AddressFamily::Bridge;
                message.header.ifindex = index;
                message.header.flags = NeighbourFlags::Own;
                message.attributes.push(NeighbourAttribute::LinkLayerAddress(mac));
                message
                    .attributes
                    .push(NeighbourAttribute::Destination(neighbour_address(dst)));
                RouteNetlinkMessage::DelNeighbour(message)
            } else {
                let mut request = handle
                    .neighbours()
                    .add_bridge(index, &mac)
                    .flags(NeighbourFlags::Own)
                    .state(NeighbourState::Permanent)
                    .destination(dst);
                RouteNetlinkMessage::NewNeighbour(request.message_mut().clone())
            }
        }
        Object::Route {
            destination,
            via,
            device,
            onlink,
        } => {
            let (destination, via) = (*destination, *via);
            if delete {
                // Only netc's route at this destination (the kernel matches
                // the protocol when it is given).
                RouteNetlinkMessage::DelRoute(route_message(destination, None, None, false)?)
            } else {
                if let (Some(device), None) = (device, index) {
                    return Err(Error(format!("link {device} does not exist")));
                }
                RouteNetlinkMessage::NewRoute(route_message(destination, Some(via), index, *onlink)?)
            }
        }
        object => return Err(Error(format!("not a netlink object: {object}"))),
    };
    let mut message = NetlinkMessage::from(payload);
    // As rtnetlink's `add(...).replace()` and `del(...)` requests set them.
    message.header.flags = if delete {
        NLM_F_REQUEST | NLM_F_ACK
    } else {
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | NLM_F_CREATE
    };
    Ok(Some(Change { message, delete }))
}

fn missing_device(device: &str, action: Action) -> Result<(), Error> {
    if action == Action::Delete {
        Ok(())
    } else {
        Err(Error(format!("link {device} does not exist")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_six_bytes_printed_lowercase() {
        let mac = mac(&[0x02, 0x00, 0xC6, 0x12, 0x01, 0x0a]).unwrap();
        assert_eq!(mac.to_string(), "02:00:c6:12:01:0a");
        assert_eq!("02:00:C6:12:01:0A".parse::<Mac>(), Ok(mac));
        assert!(self::mac(&[0x02, 0x00, 0xc6, 0x12, 0x01]).is_none());
        assert!("02:00:c6:12:01".parse::<Mac>().is_err());
        assert!("zz:00:c6:12:01:00".parse::<Mac>().is_err());
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
}

//! Links: creating, updating in place and deleting the vxlan devices and
//! bridges netc owns, and looking up link indexes by name.

use std::collections::BTreeMap;
use std::net::IpAddr;

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoKind, InfoVxlan, LinkMessage};
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVxlan};

use super::codec::{errno, ignore_missing, link_object, ENODEV};
use super::observe::links;
use super::{err, Error};
use netc_plan::engine::{Object, VxlanLink};

/// The index of link `name`, looked up now; `None`: no such link.
pub(super) async fn link_index(handle: &Handle, name: &str) -> Result<Option<u32>, Error> {
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

pub(super) async fn require_link(handle: &Handle, name: &str) -> Result<u32, Error> {
    link_index(handle, name)
        .await?
        .ok_or_else(|| Error(format!("link {name} does not exist")))
}

pub(super) async fn delete_link(handle: &Handle, name: &str) -> Result<(), Error> {
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

pub(super) async fn create_link(handle: &Handle, object: &Object) -> Result<(), Error> {
    let (Object::VxlanLink(VxlanLink { name, .. }) | Object::Bridge { name, .. }) = object else {
        return Err(Error(format!("not a link: {object}")));
    };
    // A link that already exists (a retried apply) is updated in place.
    if link_index(handle, name).await?.is_some() {
        return update_link(handle, object).await;
    }
    let message = match object {
        Object::VxlanLink(link) => {
            let local = link.local;
            let underlay = match &link.underlay {
                Some(underlay) => require_link(handle, underlay).await?,
                None => interface_with(handle, local).await?,
            };
            let port =
                u16::try_from(link.port).map_err(|_| Error(format!("vxlan port {} is out of range", link.port)))?;
            let mut builder = LinkVxlan::new(&link.name, link.vni)
                .dev(underlay)
                .port(port)
                .learning(link.learning)
                .address(link.mac.0.to_vec())
                .mtu(link.mtu);
            builder = match local {
                IpAddr::V4(local) => builder.local(local),
                IpAddr::V6(local) => builder.local6(local),
            };
            if link.up {
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
pub(super) async fn update_link(handle: &Handle, object: &Object) -> Result<(), Error> {
    let (name, mtu, mac, learning, up) = match object {
        Object::VxlanLink(link) => (&link.name, link.mtu, Some(&link.mac), Some(link.learning), link.up),
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
        Some(Object::VxlanLink(live)) => (
            mac.filter(|m| **m != live.mac),
            learning.filter(|l| *l != live.learning),
        ),
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
        builder = builder.address(mac.0.to_vec());
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

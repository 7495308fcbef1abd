//! The live state: the dumps that give every link, address, neighbour, FDB
//! entry and route of the keys asked for, as `Object`s.

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::neighbour::{NeighbourFlags, NeighbourMessage, NeighbourState};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::AddressFamily;
use rtnetlink::Handle;

use super::codec::{address_object, link_name, link_object, neighbour_parts, route_object};
use super::{err, Error};
use netc_plan::engine::{Object, ObjectKey, Observed};

pub(super) async fn links(handle: &Handle) -> Result<Vec<LinkMessage>, Error> {
    handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(|e| err("listing links", e))
}

pub(super) async fn observe(handle: &Handle, keys: &BTreeSet<ObjectKey>) -> Result<Observed, Error> {
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
                    ip,
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
                dst,
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

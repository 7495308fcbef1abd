//! Applying steps: one at a time, and runs of steps pipelined.
//!
//! A run of consecutive device steps (addresses, routes, neighbours, FDB
//! entries) is sent in batches of up to `BATCH` requests, each batch one
//! datagram, and the kernel's answers are matched to the requests by
//! sequence number. The kernel handles the requests of a datagram one after
//! another, in order, as if they had come one by one, and answers every
//! one (the batch socket hands back acknowledgements too), so a run costs
//! one round trip per batch instead of one per step. Link steps go one at
//! a time: creating or updating a link looks at the host between requests.

use std::collections::BTreeMap;

use futures::StreamExt;
use netlink_packet_core::{ErrorMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_proto::sys::SocketAddr;
use netlink_proto::ConnectionHandle;
use rtnetlink::Handle;

use super::codec::{change, device_of, is_device_step, outcome, Change};
use super::links::{create_link, delete_link, link_index, update_link};
use super::{err, Error};
use netc_plan::engine::{Action, Object, Step, VxlanLink};

/// Requests per datagram. Every answer waits in the socket's receive
/// buffer until the datagram has been handled whole, and an answer that
/// does not fit is dropped by the kernel (`ENOBUFS`): 128 answers stay far
/// below the default buffer (`net.core.rmem_default`, 208 KiB), also when
/// each carries an error with the request echoed.
const BATCH: usize = 128;

/// A step's error, saying which step.
fn about(step: &Step, e: Error) -> Error {
    Error(format!("{:?} {}: {e}", step.action, step.object))
}

/// Applies one link step (vxlan or bridge), looking up the link's index
/// now; device steps go through `pipeline`, also one at a time.
async fn apply_link(handle: &Handle, step: &Step) -> Result<(), Error> {
    match (&step.object, step.action) {
        (Object::VxlanLink(VxlanLink { name, .. }) | Object::Bridge { name, .. }, Action::Delete) => {
            delete_link(handle, name).await
        }
        (Object::VxlanLink(VxlanLink { name, .. }) | Object::Bridge { name, .. }, Action::Recreate) => {
            delete_link(handle, name).await?;
            create_link(handle, &step.object).await
        }
        (Object::VxlanLink(_) | Object::Bridge { .. }, Action::Create) => create_link(handle, &step.object).await,
        (Object::VxlanLink(_) | Object::Bridge { .. }, Action::Update) => update_link(handle, &step.object).await,
        (object, _) => Err(Error(format!("not a netlink object: {object}"))),
    }
}

/// Applies `steps` in order, device steps pipelined (module header). One
/// outcome per step sent, in step order; after a failed step nothing past
/// its batch is sent.
pub(super) async fn apply_all(
    handle: &Handle,
    batches: &ConnectionHandle<RouteNetlinkMessage>,
    steps: &[Step],
) -> Vec<Result<(), Error>> {
    let mut outcomes = Vec::with_capacity(steps.len());
    let mut rest = steps;
    while let Some(first) = rest.first() {
        let run = rest.iter().take_while(|step| is_device_step(step)).count();
        let (sent, all_applied) = if run == 0 {
            let outcome = apply_link(handle, first).await.map_err(|e| about(first, e));
            let applied = outcome.is_ok();
            outcomes.push(outcome);
            (1, applied)
        } else {
            let before = outcomes.len();
            let applied = pipeline(handle, batches, &rest[..run], &mut outcomes).await;
            (outcomes.len() - before, applied)
        };
        if !all_applied {
            break;
        }
        rest = &rest[sent..];
    }
    outcomes
}

/// What became of one step of a batch.
enum Slot {
    /// Its request is the datagram's `n`th; the kernel's answer decides
    /// (`delete`: whether "already gone" counts as done).
    Sent { n: usize, delete: bool },
    /// Decided without a request (nothing to send, or it cannot be sent).
    Decided(Result<(), Error>),
}

/// Sends a run of device steps in batches, pushing one outcome per step
/// sent; `false` when a step failed.
async fn pipeline(
    handle: &Handle,
    batches: &ConnectionHandle<RouteNetlinkMessage>,
    run: &[Step],
    outcomes: &mut Vec<Result<(), Error>>,
) -> bool {
    // Every device the run names, looked up once, now: the run changes no
    // link, so the indexes hold for all of it.
    let mut indexes: BTreeMap<&str, Result<Option<u32>, Error>> = BTreeMap::new();
    for device in run.iter().filter_map(device_of) {
        if !indexes.contains_key(device) {
            indexes.insert(device, link_index(handle, device).await);
        }
    }
    let mut steps = run.iter().peekable();
    while steps.peek().is_some() {
        // Build one batch, up to and including a step that cannot be sent.
        let mut slots: Vec<(&Step, Slot)> = Vec::new();
        let mut messages = Vec::new();
        let mut blocked = false;
        while messages.len() < BATCH && !blocked {
            let Some(step) = steps.next() else { break };
            let index = match device_of(step).map(|device| &indexes[device]) {
                Some(Err(e)) => Err(e.clone()),
                Some(Ok(index)) => Ok(*index),
                None => Ok(None),
            };
            let slot = match index.and_then(|index| change(handle, step, index)) {
                Ok(Some(Change { message, delete })) => {
                    messages.push(message);
                    Slot::Sent {
                        n: messages.len() - 1,
                        delete,
                    }
                }
                Ok(None) => Slot::Decided(Ok(())),
                Err(e) => {
                    blocked = true;
                    Slot::Decided(Err(e))
                }
            };
            slots.push((step, slot));
        }
        let answers = send(batches, messages).await;
        let mut all_applied = !blocked;
        for (step, slot) in slots {
            let outcome = match slot {
                Slot::Decided(outcome) => outcome,
                Slot::Sent { n, delete } => match &answers {
                    Err(e) => Err(e.clone()),
                    Ok(answers) => match &answers[n] {
                        Some(Ok(())) => Ok(()),
                        Some(Err(e)) => outcome(delete, Some(rtnetlink::Error::NetlinkError(e.clone()))),
                        None => Err(Error("the kernel did not answer".into())),
                    },
                },
            };
            all_applied &= outcome.is_ok();
            outcomes.push(outcome.map_err(|e| about(step, e)));
        }
        if !all_applied {
            return false;
        }
    }
    true
}

/// Sends `messages` as one datagram and collects the kernel's answer to
/// each, by sequence number: `Some(Ok)` an acknowledgement, `Some(Err)` an
/// error, `None` no answer.
async fn send(
    batches: &ConnectionHandle<RouteNetlinkMessage>,
    messages: Vec<netlink_packet_core::NetlinkMessage<RouteNetlinkMessage>>,
) -> Result<Vec<Option<Result<(), ErrorMessage>>>, Error> {
    let count = messages.len();
    let mut answers = vec![None; count];
    if count == 0 {
        return Ok(answers);
    }
    let mut stream = batches
        .request_batch(messages, SocketAddr::new(0, 0))
        .map_err(|e| err("sending", e))?;
    // The requests got consecutive sequence numbers, and the kernel
    // answers them in order, so the first answer is the first request's.
    let mut first = None;
    while let Some(message) = stream.next().await {
        let sequence = message.header.sequence_number;
        let n = sequence.wrapping_sub(*first.get_or_insert(sequence)) as usize;
        if let (NetlinkPayload::Error(e), Some(answer)) = (message.payload, answers.get_mut(n)) {
            *answer = Some(match e.code {
                None => Ok(()),
                Some(_) => Err(e),
            });
        }
    }
    Ok(answers)
}

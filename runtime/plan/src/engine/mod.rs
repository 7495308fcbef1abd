//! The pure planning core of the node runtime: data in, data out; no
//! filesystem, netlink, processes or clock.
//!
//! - `objects`: the host objects netc owns (`Object`) and their identity
//!   (`ObjectKey`).
//! - `desired`: a host program plus its peer table expanded into the
//!   objects it wants, in program order.
//! - `plan`: desired vs observed (the live state a driver reads) vs owned
//!   (the inventory of what netc created before) gives an ordered `Plan` of
//!   create, update, recreate and delete steps, each with a reason and a
//!   disruption class.
//!
//! Invariants: pure and deterministic (only `BTreeMap`/`BTreeSet`, ordered
//! output); never plans the deletion of an object netc does not own;
//! planning is O(n log n) in the number of objects.

pub mod desired;
pub mod objects;
pub mod plan;

pub use desired::{desired, Error};
pub use objects::{Mac, Object, ObjectKey, VxlanLink};
pub use plan::{plan, Action, Conflict, Disruption, Inventory, Observed, Plan, Step};

//! Pure rules between the lookup and the kill: what each owner is to the port (`roles`),
//! which processes only forward a port for a container (`forwarder`), and the per-port
//! verdict (`verdict`). Nothing here reads the system; every rule is unit-tested on facts.

mod forwarder;
mod roles;
mod verdict;

pub(crate) use forwarder::{Forwarder, classify as classify_forwarder, may_be as may_forward};
pub(crate) use roles::{
    Circumstances, Decision, Forwarding, Include, MANY, Relation, Role, classify, may_be_outgoing,
};
pub(crate) use verdict::{HiddenSocket, Place, PortVerdict, Recheck, Settle, Status, Verdict};

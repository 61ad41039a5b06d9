//! The kernel's socket state numbers (include/net/tcp_states.h), which /proc/net and
//! sock_diag both use, for UDP too. The neutral [`State`] knows nothing of them.

use crate::model::{Protocol, State};
use crate::query::{CLOSING_STATES, Query};

/// The state for a Linux `sk_state` value.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn from_code(protocol: Protocol, code: u8) -> Option<State> {
    Some(match code {
        1 => State::Established,
        2 => State::SynSent,
        3 => State::SynRecv,
        4 => State::FinWait1,
        5 => State::FinWait2,
        6 => State::TimeWait,
        // UDP reports a bound, unconnected socket as TCP_CLOSE.
        7 if protocol == Protocol::Udp => State::Unconnected,
        7 => State::Close,
        8 => State::CloseWait,
        9 => State::LastAck,
        10 => State::Listen,
        11 => State::Closing,
        // TCP_BOUND_INACTIVE, the pseudo-state that asks for bound-only sockets (6.8+).
        // The kernel reports those sockets as TCP_CLOSE; the caller that asked maps that.
        BOUND_INACTIVE if protocol == Protocol::Tcp => State::Bound,
        _ => return None,
    })
}

/// The Linux `sk_state` number of `state`.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn code(state: State) -> u8 {
    match state {
        State::Established => 1,
        State::SynSent => 2,
        State::SynRecv => 3,
        State::FinWait1 => 4,
        State::FinWait2 => 5,
        State::TimeWait => 6,
        State::Close | State::Unconnected => 7,
        State::CloseWait => 8,
        State::LastAck => 9,
        State::Listen => 10,
        State::Closing => 11,
        State::Bound => BOUND_INACTIVE,
    }
}

/// `TCP_BOUND_INACTIVE` (include/net/tcp_states.h, Linux 6.8): not a state any socket is
/// in, but a bit of `idiag_states` that makes inet_diag walk the bind table for sockets
/// that are bound and neither listening nor connected. The kernel reports each of them
/// with its real state, TCP_CLOSE (7). Older kernels ignore the bit and return none.
pub(crate) const BOUND_INACTIVE: u8 = 13;

/// The states that match `query` for `protocol`, as the bit mask `idiag_states` takes
/// (`1 << sk_state`). UDP matches in every state, or only unconnected (TCP_CLOSE) when
/// listeners are asked for.
pub(crate) fn mask(query: &Query, protocol: Protocol) -> u32 {
    match protocol {
        Protocol::Tcp => query
            .tcp_states()
            .iter()
            .fold(0, |mask, &s| mask | 1 << code(s)),
        Protocol::Udp if query.listen_only => 1 << code(State::Unconnected),
        Protocol::Udp => u32::MAX,
    }
}

/// The TCP states of the sockets that block a bind() besides those a lookup asks for:
/// bound-only sockets, and connections after a close or shutdown (TIME_WAIT, which is
/// also where a closed socket's FIN_WAIT2 waits, FIN_WAIT1, CLOSING, LAST_ACK).
pub(crate) const BLOCKER_STATES: [State; 6] = [
    State::Bound,
    CLOSING_STATES[0],
    CLOSING_STATES[1],
    CLOSING_STATES[2],
    CLOSING_STATES[3],
    CLOSING_STATES[4],
];

/// [`BLOCKER_STATES`] as an `idiag_states` mask.
pub(crate) fn blocker_mask() -> u32 {
    BLOCKER_STATES
        .iter()
        .fold(0, |mask, &s| mask | 1 << code(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for n in 1..=11u8 {
            let tcp = from_code(Protocol::Tcp, n).unwrap();
            assert_eq!(code(tcp), n);
            assert_eq!(code(from_code(Protocol::Udp, n).unwrap()), n);
        }
        assert_eq!(from_code(Protocol::Udp, 7), Some(State::Unconnected));
        assert_eq!(from_code(Protocol::Tcp, 0), None);
        assert_eq!(from_code(Protocol::Tcp, 12), None);
        assert_eq!(from_code(Protocol::Tcp, 13), Some(State::Bound));
        assert_eq!(code(State::Bound), 13);
        assert_eq!(from_code(Protocol::Udp, 13), None);
        assert_eq!(from_code(Protocol::Tcp, 14), None);
    }

    #[test]
    fn masks_follow_the_listen_flag() {
        let mut q = Query::ports(vec![]);
        assert_eq!(mask(&q, Protocol::Tcp), 1 << 10 | 1 << 1 | 1 << 2 | 1 << 8);
        q.listen_only = true;
        assert_eq!(mask(&q, Protocol::Tcp), 1 << 10);
        assert_eq!(mask(&q, Protocol::Udp), 1 << 7);
        q.listen_only = false;
        assert_eq!(mask(&q, Protocol::Udp), u32::MAX);
        assert_eq!(
            blocker_mask(),
            1 << 13 | 1 << 6 | 1 << 4 | 1 << 5 | 1 << 11 | 1 << 9
        );
    }
}

//! Why a socket has no visible owner, decided for each socket on its own. A run can meet
//! several kinds at once (another user's listener, a VXLAN tunnel's socket, a socket in
//! flight over a unix socket), and one explanation for all of them would be wrong for
//! most. Everything here runs only when a socket is left without an owner after the fd
//! scan (and the scan of threads with fd tables of their own).
//!
//! What each explanation rests on:
//! - without privileges, a socket of another uid (or any socket, when processes could not
//!   be read) belongs to a process we may not inspect; when /proc is mounted with
//!   `hidepid`, such processes are not even listed (`Hidden::HiddenPid`);
//! - with privileges, a process whose fds could not be read (another user namespace, an
//!   LSM) is the likely holder when it runs as the socket's uid;
//! - in a PID namespace of our own (a container sharing the host's network), the holder
//!   may be a process we cannot see at all;
//! - a UDP socket on the port of a vxlan, geneve or bareudp device (from the kernel's
//!   link table) is that tunnel's, the kernel's own;
//! - anything else has no process behind it: a kernel socket of another kind (WireGuard,
//!   NFS) or a socket in flight over a unix socket. Nothing in /proc or sock_diag tells
//!   these two apart, so the explanation says both.

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::OwnedFd;

use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{
    AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, recv, sendto, socket_with,
};

use crate::model::{Hidden, Protocol, Socket, SocketKey, Text};

/// The explanation of each of `hidden`, given the processes whose fds could not be read
/// (`denied`, sorted).
pub(crate) fn explain(hidden: &[Socket], denied: &[u32]) -> BTreeMap<SocketKey, Hidden> {
    let privileged = rustix::process::geteuid().is_root();
    let me = rustix::process::getuid().as_raw();
    let hidepid =
        !privileged && hidepid(&fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    // Whose the unreadable processes are: only worth reading as root, where there are few.
    let denied_uids: Vec<(u32, Option<u32>)> = if privileged {
        denied.iter().map(|&pid| (pid, real_uid(pid))).collect()
    } else {
        Vec::new()
    };
    let nested = fs::read_to_string("/proc/self/status").is_ok_and(|s| in_child_pid_namespace(&s));
    let tunnels = if hidden.iter().any(|s| s.protocol == Protocol::Udp) {
        tunnels().unwrap_or_default()
    } else {
        Vec::new()
    };
    let facts = Facts {
        privileged,
        me,
        hidepid,
        denied: &denied_uids,
        any_denied: !denied.is_empty(),
        nested,
        tunnels: &tunnels,
    };
    hidden.iter().map(|s| (s.key, facts.explain(s))).collect()
}

/// What [`explain`] knows about the machine and the scan.
struct Facts<'a> {
    privileged: bool,
    me: u32,
    /// /proc hides other users' processes from us.
    hidepid: bool,
    /// The processes whose fds could not be read, with their real uids (as root only).
    denied: &'a [(u32, Option<u32>)],
    any_denied: bool,
    /// rekt runs in a child PID namespace.
    nested: bool,
    tunnels: &'a [Tunnel],
}

impl Facts<'_> {
    fn explain(&self, s: &Socket) -> Hidden {
        // A tunnel device on the port is proof: the kernel holds its socket, and no
        // process can share the port with it.
        if s.protocol == Protocol::Udp
            && let Some(t) = self.tunnels.iter().find(|t| t.port == s.port())
        {
            return Hidden::Kernel {
                kind: t.kind.clone(),
                device: t.device.clone(),
            };
        }
        if !self.privileged {
            let theirs = s.uid != Some(self.me);
            if self.hidepid && theirs {
                return Hidden::HiddenPid;
            }
            if self.any_denied {
                return Hidden::OtherUser;
            }
        } else if !self.denied.is_empty() {
            // The socket's creator is the likeliest holder; failing that, any of them.
            let of_uid: Vec<u32> = self
                .denied
                .iter()
                .filter(|(_, uid)| uid.is_some() && *uid == s.uid)
                .map(|&(pid, _)| pid)
                .collect();
            if !of_uid.is_empty() {
                return Hidden::Unreadable { pids: of_uid };
            }
        }
        if self.nested {
            return Hidden::OtherPidNamespace;
        }
        // Unreadable processes of other uids remain, but a socket rarely changes hands
        // across users (its uid is its creator's), and calling it theirs would hide the
        // likelier answer.
        Hidden::NoProcess
    }
}

/// Whether the /proc mount (in `mountinfo`, `/proc/self/mountinfo`) hides other users'
/// processes: `hidepid=1`/`noaccess` (listed, but nothing readable), `2`/`invisible`
/// (not listed) or `4`/`ptraceable` (only those we may ptrace). The option is among the
/// super options, the last field of the line.
pub(crate) fn hidepid(mountinfo: &str) -> bool {
    mountinfo.lines().any(|line| {
        let mut fields = line.split(' ');
        let Some(mount_point) = fields.nth(4) else {
            return false;
        };
        let Some((_, after)) = line.split_once(" - ") else {
            return false;
        };
        let mut after = after.split(' ');
        let fstype = after.next();
        let options = after.nth(1).unwrap_or_default();
        mount_point == "/proc"
            && fstype == Some("proc")
            && options.split(',').any(|o| {
                o.strip_prefix("hidepid=")
                    .is_some_and(|v| !matches!(v, "0" | "off"))
            })
    })
}

/// Whether `status` (`/proc/self/status`) says this process is in a child PID namespace:
/// its `NSpid` line lists one PID per namespace level, outermost first.
pub(crate) fn in_child_pid_namespace(status: &str) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .is_some_and(|pids| pids.split_whitespace().count() > 1)
}

/// The real uid of `pid` (the first number of the `Uid:` line of /proc/PID/status, which
/// stays readable when the fds are not, unless /proc hides the process).
fn real_uid(pid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A UDP tunnel device, whose socket the kernel holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tunnel {
    pub(crate) kind: String,
    /// Its name: chosen by whoever made it (root in some namespace), so printed escaped.
    pub(crate) device: Text,
    pub(crate) port: u16,
}

// rtnetlink (linux/rtnetlink.h, linux/if_link.h).
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
/// The destination (listening) port attribute of each tunnel kind, a big-endian u16.
const TUNNEL_PORTS: [(&str, u16); 3] = [
    ("vxlan", 15),  // IFLA_VXLAN_PORT
    ("geneve", 5),  // IFLA_GENEVE_PORT
    ("bareudp", 1), // IFLA_BAREUDP_PORT
];
const IFINFOMSG_LEN: usize = 16;

/// The UDP tunnel devices of this network namespace and their ports: one RTM_GETLINK dump.
fn tunnels() -> std::io::Result<Vec<Tunnel>> {
    let nl: OwnedFd = socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        // NETLINK_ROUTE is protocol 0.
        None,
    )?;
    let mut request = vec![0u8; 16 + IFINFOMSG_LEN];
    let len = request.len() as u32;
    request[0..4].copy_from_slice(&len.to_ne_bytes());
    request[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    // NLM_F_REQUEST | NLM_F_DUMP
    request[6..8].copy_from_slice(&0x301u16.to_ne_bytes());
    request[8..12].copy_from_slice(&1u32.to_ne_bytes());
    sendto(
        &nl,
        &request,
        SendFlags::empty(),
        &SocketAddrNetlink::new(0, 0),
    )?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut found = Vec::new();
    loop {
        let n = match recv(&nl, &mut buf[..], RecvFlags::empty()) {
            Ok((n, _)) => n.min(buf.len()),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 || parse_links(&buf[..n], &mut found) {
            return Ok(found);
        }
    }
}

/// Parses one buffer of an RTM_GETLINK dump into `out`; true once the dump is over (or
/// the buffer makes no sense, which ends it too: this is a best effort).
pub(crate) fn parse_links(buf: &[u8], out: &mut Vec<Tunnel>) -> bool {
    let mut at = 0;
    while let Some(header) = buf.get(at..at + 16) {
        let len = u32::from_ne_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes([header[4], header[5]]);
        let Some(body) = buf.get(at + 16..at + len.max(16)).filter(|_| len >= 16) else {
            return true;
        };
        match kind {
            NLMSG_DONE | NLMSG_ERROR => return true,
            RTM_NEWLINK => {
                if let Some(t) = body.get(IFINFOMSG_LEN..).and_then(tunnel) {
                    out.push(t);
                }
            }
            _ => {}
        }
        at += len.next_multiple_of(4);
    }
    false
}

/// The tunnel a link's attributes describe, if it is one of [`TUNNEL_PORTS`]' kinds.
fn tunnel(attrs: &[u8]) -> Option<Tunnel> {
    let device = attr(attrs, IFLA_IFNAME)?;
    let device = Text::from_bytes(device.split(|&b| b == 0).next()?);
    let info = attr(attrs, IFLA_LINKINFO)?;
    let kind = attr(info, IFLA_INFO_KIND)?;
    let kind = String::from_utf8_lossy(kind.split(|&b| b == 0).next()?).into_owned();
    let (_, port_attr) = TUNNEL_PORTS.iter().find(|(k, _)| *k == kind)?;
    let port = attr(attr(info, IFLA_INFO_DATA)?, *port_attr)?;
    let port = u16::from_be_bytes(port.get(..2)?.try_into().ok()?);
    Some(Tunnel { kind, device, port })
}

/// The value of the first attribute of type `kind` among `attrs`.
fn attr(mut attrs: &[u8], kind: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let this = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
        let value = attrs.get(4..len.max(4)).filter(|_| len >= 4)?;
        if this == kind {
            return Some(value);
        }
        attrs = attrs.get(len.next_multiple_of(4)..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, State};

    #[test]
    fn hidepid_is_read_from_the_proc_mounts_super_options() {
        let line = |point: &str, fstype: &str, opts: &str| {
            format!("23 1 0:21 / {point} rw,nosuid shared:12 - {fstype} proc {opts}\n")
        };
        assert!(!hidepid(&line("/proc", "proc", "rw")));
        assert!(hidepid(&line("/proc", "proc", "rw,hidepid=2")));
        assert!(hidepid(&line(
            "/proc",
            "proc",
            "rw,hidepid=invisible,gid=4"
        )));
        assert!(hidepid(&line("/proc", "proc", "rw,hidepid=ptraceable")));
        assert!(!hidepid(&line("/proc", "proc", "rw,hidepid=0")));
        assert!(!hidepid(&line("/proc", "proc", "rw,hidepid=off")));
        // Another proc mount, or another file system at /proc, says nothing.
        assert!(!hidepid(&line("/mnt/proc", "proc", "rw,hidepid=2")));
        assert!(!hidepid(&line("/proc", "tmpfs", "rw,hidepid=2")));
        assert!(!hidepid(""));
    }

    #[test]
    fn nspid_with_several_levels_means_a_child_pid_namespace() {
        assert!(!in_child_pid_namespace("Name:\tx\nNSpid:\t1234\n"));
        assert!(in_child_pid_namespace("Name:\tx\nNSpid:\t1234\t7\n"));
        assert!(!in_child_pid_namespace("Name:\tx\n"));
    }

    fn nlattr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    fn link(name: &str, kind: &str, port_attr: u16, port: u16) -> Vec<u8> {
        let data = nlattr(port_attr, &port.to_be_bytes());
        let info = [
            nlattr(IFLA_INFO_KIND, format!("{kind}\0").as_bytes()),
            nlattr(IFLA_INFO_DATA, &data),
        ]
        .concat();
        let body = [
            vec![0u8; IFINFOMSG_LEN],
            nlattr(IFLA_IFNAME, format!("{name}\0").as_bytes()),
            nlattr(IFLA_LINKINFO, &info),
        ]
        .concat();
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
        m.extend_from_slice(&[0u8; 10]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn tunnel_ports_are_read_from_the_link_dump() {
        let mut buf = link("vx0", "vxlan", 15, 4789);
        buf.extend(link("gnv0", "geneve", 5, 6081));
        buf.extend(link("br0", "bridge", 1, 1));
        let mut out = Vec::new();
        assert!(!parse_links(&buf, &mut out));
        let t = |kind: &str, device: &str, port| Tunnel {
            kind: kind.into(),
            device: Text::from(device),
            port,
        };
        assert_eq!(out, [t("vxlan", "vx0", 4789), t("geneve", "gnv0", 6081)]);
        // Cut anywhere, it never panics.
        for cut in 0..buf.len() {
            parse_links(&buf[..cut], &mut Vec::new());
        }
    }

    #[test]
    fn each_socket_gets_its_own_explanation() {
        let socket = |protocol, port, uid| Socket {
            protocol,
            family: Family::V4,
            local: std::net::SocketAddr::from(([0, 0, 0, 0], port)),
            state: State::Listen,
            uid: Some(uid),
            key: SocketKey::Inode(u64::from(port)),
        };
        let tunnels = [Tunnel {
            kind: "vxlan".into(),
            device: Text::from("vx0"),
            port: 4789,
        }];
        let root = Facts {
            privileged: true,
            me: 0,
            hidepid: false,
            denied: &[(77, Some(100_000))],
            any_denied: true,
            nested: false,
            tunnels: &tunnels,
        };
        assert_eq!(
            root.explain(&socket(Protocol::Tcp, 80, 100_000)),
            Hidden::Unreadable { pids: vec![77] }
        );
        assert_eq!(
            root.explain(&socket(Protocol::Udp, 4789, 0)),
            Hidden::Kernel {
                kind: "vxlan".into(),
                device: Text::from("vx0")
            }
        );
        // An unreadable process of another uid is not taken for the holder.
        assert_eq!(
            root.explain(&socket(Protocol::Tcp, 81, 0)),
            Hidden::NoProcess
        );
        let complete = Facts {
            denied: &[],
            any_denied: false,
            ..root
        };
        assert_eq!(
            complete.explain(&socket(Protocol::Udp, 53, 0)),
            Hidden::NoProcess
        );
        assert_eq!(
            complete.explain(&socket(Protocol::Tcp, 4789, 0)),
            Hidden::NoProcess
        );
        let contained = Facts {
            nested: true,
            ..complete
        };
        assert_eq!(
            contained.explain(&socket(Protocol::Tcp, 80, 0)),
            Hidden::OtherPidNamespace
        );
        let user = Facts {
            privileged: false,
            me: 1000,
            denied: &[],
            any_denied: true,
            ..complete
        };
        assert_eq!(
            user.explain(&socket(Protocol::Tcp, 80, 0)),
            Hidden::OtherUser
        );
        let hidden_proc = Facts {
            hidepid: true,
            any_denied: false,
            ..user
        };
        assert_eq!(
            hidden_proc.explain(&socket(Protocol::Tcp, 80, 0)),
            Hidden::HiddenPid
        );
        // Our own socket is not hidden by hidepid; with nothing denied, no process has it.
        assert_eq!(
            hidden_proc.explain(&socket(Protocol::Tcp, 80, 1000)),
            Hidden::NoProcess
        );
    }
}

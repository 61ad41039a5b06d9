//! The platform-neutral vocabulary: sockets, the processes that own them, and what we know
//! about those processes. Platform backends produce these; `output` and `kill` consume them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

pub use crate::text::Text;

/// Transport protocol of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Address family of a socket. A dual-stack `[::]` listener is `V6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

/// Socket state, in the kernel's TCP numbering (which Linux also uses for UDP, and which
/// Windows' MIB_TCP_STATE maps onto). UDP sockets are `Unconnected` or `Established`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    /// A UDP socket that is bound but not connected (Linux reports it as TCP_CLOSE).
    Unconnected,
    /// A TCP socket that called bind() but neither listen() nor connect(). It accepts
    /// nothing, yet it holds its port: a fresh bind() there fails. Linux shows these only
    /// from 6.8 on, in a separate walk of the bind table (`ss -B`); `BOUND` in output.
    Bound,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Established => "ESTABLISHED",
            State::SynSent => "SYN_SENT",
            State::SynRecv => "SYN_RECV",
            State::FinWait1 => "FIN_WAIT1",
            State::FinWait2 => "FIN_WAIT2",
            State::TimeWait => "TIME_WAIT",
            State::Close => "CLOSE",
            State::CloseWait => "CLOSE_WAIT",
            State::LastAck => "LAST_ACK",
            State::Listen => "LISTEN",
            State::Closing => "CLOSING",
            State::Unconnected => "UNCONN",
            State::Bound => "BOUND",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One kernel socket that matched the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub protocol: Protocol,
    pub family: Family,
    pub local: SocketAddr,
    pub state: State,
    /// The uid that created the socket, when the platform reports one (Linux does).
    pub uid: Option<u32>,
    /// What joins the socket to its owners.
    pub key: SocketKey,
}

/// What joins a socket to the processes that hold it. The platforms' tables differ: Linux
/// names a socket by inode and the owners must be found in every `/proc/PID/fd`; Windows
/// names the owning process in the table row itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SocketKey {
    /// The socket's inode (Linux). Unique machine-wide, across network namespaces; 0 for a
    /// socket no file refers to (TIME_WAIT, a request socket).
    Inode(u64),
    /// The owning process, named by the table (Windows).
    Pid(u32),
    /// One process's hold on a socket (macOS, where sockets are found only through the
    /// processes that hold them): the PID, and the kernel's opaque handle for the socket
    /// (`soi_so`), the same in every process that shares it. `pid` is `None`, and
    /// `socket` 0, for a port that a bind() probe found in use while no visible process
    /// holds it. Windows uses `pid: None` too, for its own bind() probe's findings (see
    /// its `probe.rs`).
    Held { pid: Option<u32>, socket: u64 },
}

impl Socket {
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// `tcp`, `tcp6`, `udp` or `udp6`, as fuser and netstat name them.
    pub fn kind(&self) -> &'static str {
        match (self.protocol, self.family) {
            (Protocol::Tcp, Family::V4) => "tcp",
            (Protocol::Tcp, Family::V6) => "tcp6",
            (Protocol::Udp, Family::V4) => "udp",
            (Protocol::Udp, Family::V6) => "udp6",
        }
    }

    /// The local address, written the usual way (`[::1]:8000` for IPv6), with the scope of
    /// a scoped IPv6 address as `ss` writes it (`[fe80::1]%eth0:8000`): the interface name
    /// from `interface`, or the index when it has none.
    pub fn local_display(&self, interface: impl Fn(u32) -> Option<Text>) -> String {
        match self.local {
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            // Only a link-local address needs its scope to mean anything; Windows reports a
            // scope for every IPv6 socket (wine: 4096 for ::1), which is noise there.
            SocketAddr::V6(a) if a.scope_id() != 0 && a.ip().is_unicast_link_local() => {
                let scope = interface(a.scope_id())
                    .map_or_else(|| a.scope_id().to_string(), |name| name.to_string());
                format!("[{}]%{scope}:{}", a.ip(), a.port())
            }
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        }
    }
}

/// A socket that no process holds any more, but that still blocks a plain bind() on its
/// port until the kernel drops it: a TCP connection in TIME_WAIT (or another closing
/// state) after its owner let go. Nothing can be signalled; time ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lingering {
    /// The socket (`SocketKey::Inode(0)` on Linux: it has no file).
    pub socket: Socket,
    /// How long until the kernel drops it, when the platform says (Linux does for
    /// TIME_WAIT and for the FIN_WAIT2 of a closed socket).
    pub ends_in: Option<std::time::Duration>,
}

/// The sockets that block a fresh bind() on TCP ports besides those a lookup asks for
/// (listeners and live connections). Looked for only when they can matter: for a port that
/// nothing else holds, or when asked to be thorough (`-v`, `-t`, `-k`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blockers {
    /// Sockets with owners to find: bound but neither listening nor connected
    /// ([`State::Bound`]), or closing while a process still holds them (after shutdown()).
    pub sockets: Vec<Socket>,
    /// Sockets no process holds any more: TIME_WAIT and other closing connections.
    pub lingering: Vec<Lingering>,
    /// Whether bound-only sockets could be looked for at all.
    pub bound: BoundVisibility,
}

/// Whether the platform shows TCP sockets that are bound but neither listening nor
/// connected. They block a bind() like a listener, but the usual socket tables leave them
/// out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BoundVisibility {
    /// Shown: a socket bound to the port would have been found.
    Shown,
    /// The kernel does not show them (Linux before 6.8).
    OldKernel,
    /// The text tables (/proc/net, rekt's fallback when netlink is refused) never list
    /// them.
    TextTables,
    /// Not looked for, or the platform cannot tell.
    #[default]
    Unknown,
}

/// A process that holds at least one matching socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    /// The matching sockets it holds, each once, in the order of the lookup's socket list.
    pub sockets: Vec<Socket>,
    /// The file descriptors through which it holds them (Linux). Re-read before a signal to
    /// prove the PID still belongs to the process we found. Empty on Windows.
    pub fds: Vec<u32>,
}

impl Owner {
    /// The distinct local ports among this owner's sockets, sorted.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.sockets.iter().map(Socket::port).collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

/// Details of a process, read only for owners and only when they are asked for. Every
/// text field is chosen by whoever started the process, so it is [`Text`]: printed only
/// escaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The executable's file name (or the command name when the executable is unreadable):
    /// what rekt recognises a program by (a forwarder, a shell, a supervisor), because a
    /// process may rename itself but not its executable.
    pub name: Option<Text>,
    /// The name the process goes by, as `ps`, `ss` and `fuser -v` show it: the kernel's
    /// command name (Linux `comm`, macOS `p_comm`), completed from `argv[0]` where the
    /// kernel cut it short. What people recognise, so what rekt shows; `None` where the
    /// platform has no such name (Windows: the image name is the name).
    pub command: Option<Text>,
    /// The executable's full path, when readable.
    pub exe: Option<Text>,
    /// The executable was deleted or replaced on disk since the process started it (a
    /// rebuilt server still running the old binary).
    pub deleted: bool,
    /// The command line, one element per argument.
    pub cmdline: Vec<Text>,
    /// The real uid (Linux).
    pub uid: Option<u32>,
    /// The user name (`DOMAIN\user` on Windows), or the uid as a number when it has no name.
    pub user: Option<Text>,
}

impl ProcessInfo {
    /// The name to show: the one the process goes by, else the executable's.
    pub fn shown_name(&self) -> Option<&Text> {
        self.command.as_ref().or(self.name.as_ref())
    }

    /// The executable's file name, when it tells more than [`shown_name`](Self::shown_name):
    /// the process renamed itself, an interpreter runs a script (`server` runs
    /// `python3.11`), or a link names a multi-call binary (`nc` is `busybox`). Not when it
    /// only completes the shown name (`python3` runs `python3.11`).
    pub fn exe_name_if_telling(&self) -> Option<&Text> {
        let exe = self.name.as_ref()?;
        let shown = self.command.as_ref()?;
        (!exe.as_bytes().starts_with(shown.as_bytes())).then_some(exe)
    }
}

/// The name a process goes by: the kernel's command name `comm`, which the kernel cuts to
/// `cut_at` bytes (15 on Linux, 16 on macOS), completed from the file name of `argv[0]`
/// when that name is cut there and `argv[0]`'s begins with it (`containerd-shim` is
/// `containerd-shim-runc-v2`).
#[cfg(any(unix, test))]
pub(crate) fn completed_comm(comm: &[u8], argv0: Option<&[u8]>, cut_at: usize) -> Vec<u8> {
    if comm.len() == cut_at
        && let Some(argv0) = argv0
    {
        let base = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
        if base.len() > comm.len() && base.starts_with(comm) {
            return base.to_vec();
        }
    }
    comm.to_vec()
}

/// A network namespace (Linux). Sockets in another one are invisible to this one's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetNs {
    /// Its inode: the number in `/proc/PID/ns/net` (`net:[4026531840]`).
    pub inode: u64,
    /// Its name under /var/run/netns (`ip netns add NAME`), if it has one.
    pub name: Option<Text>,
    /// A process inside it, one way in when it has no name.
    pub member: Option<u32>,
}

impl NetNs {
    /// `4026532281` or `4026532281:blue`: one word, for tables and messages.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{}:{name}", self.inode),
            None => self.inode.to_string(),
        }
    }
}

/// What to send. `Terminate` asks (SIGTERM; on Windows a WM_CLOSE to the process's
/// windows); `Kill` forces (SIGKILL; TerminateProcess).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Terminate,
    Kill,
}

impl Signal {
    /// The imperative: `terminate`, `kill` (the `-i` question, JSON's `signal`).
    pub fn verb(self) -> &'static str {
        match self {
            Signal::Terminate => "terminate",
            Signal::Kill => "kill",
        }
    }

    /// The past tense: `terminated 1234 (node)`.
    pub fn past(self) -> &'static str {
        match self {
            Signal::Terminate => "terminated",
            Signal::Kill => "killed",
        }
    }

    /// What a container engine is asked to do: `stop` (`-t`) or `kill` (`-k`).
    pub fn engine_verb(self) -> &'static str {
        match self {
            Signal::Terminate => "stop",
            Signal::Kill => "kill",
        }
    }
}

/// Why a found owner could not be pinned for signalling.
#[derive(Debug)]
pub enum AcquireError {
    /// It exited after the lookup.
    Gone,
    /// It is alive but no longer holds the socket (closed it, or the PID was reused).
    Released,
    Io(std::io::Error),
}

/// Why a signal to a pinned process was not delivered.
#[derive(Debug)]
pub enum SendError {
    /// The process exited after it was pinned: nothing left to do.
    Gone,
    /// The system would not let us (another user's process, without privileges).
    Denied(std::io::Error),
    /// The platform has no way to ask this process politely: on Windows, `Terminate` is a
    /// WM_CLOSE to the process's windows, and it has none. Forcing it still works.
    NoWindows,
    /// Its only window is its console's (Windows). WM_CLOSE there would end every process
    /// attached to that console, so a console program has no polite signal: forcing it is
    /// the only way.
    ConsoleOnly,
    /// Anything else.
    Other(std::io::Error),
}

/// Why rekt never signals a process, whoever asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// PID 0 on Linux: no process has it.
    NoProcess,
    /// PID 0 on Windows: the System Idle Process, which the tables name for sockets that
    /// have no real owner.
    IdleProcess,
    /// PID 1: init (systemd, or a container's entry point).
    Init,
    /// PID 1 on macOS: launchd, which also holds the sockets of socket-activated services.
    Launchd,
    /// PID 4 on Windows: the kernel and its drivers (http.sys; SMB and NetBIOS on 445 and
    /// 139).
    System,
    /// A protected process (Windows: PP or PPL, such as csrss.exe, an antimalware service,
    /// LSA): the system lets no program end it, whatever its privileges.
    ProtectedProcess,
    /// A process that hosts several system services (Windows: svchost.exe, a service
    /// group): ending it ends every one of them. `services` are those it hosts, as the
    /// service manager names them; `holder` the one whose module opened the port's socket,
    /// when the system says.
    ServiceHost {
        services: Vec<Text>,
        holder: Option<Text>,
    },
}

/// The facts about a process that its ancestry and state need, from one cheap read
/// (`/proc/PID/stat` on Linux; a process snapshot on Windows). Each may be unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessStat {
    /// The parent's PID as the system records it. `None` for a process without one (PID
    /// 1, kernel threads) or when unknown. On Windows it may name a process that has since
    /// exited and whose PID was given to another: compare start times.
    pub parent: Option<u32>,
    /// When it started, in the platform's own unit (clock ticks since boot; FILETIME
    /// ticks): only ever compared with another process's, to tell a parent from a
    /// newcomer that was given a dead parent's PID.
    pub started: Option<u64>,
    /// Stopped by a signal (SIGSTOP, Ctrl-Z): it acts on no signal but SIGKILL and
    /// SIGCONT until it is continued.
    pub stopped: bool,
    /// Exited, and not yet reaped by its parent: it holds nothing any more.
    pub zombie: bool,
    /// Its process group, where the OS has job control.
    pub group: Option<u32>,
    /// The foreground process group of its controlling terminal, when it has one: a shell
    /// whose own group this is, is the one the terminal listens to (back at its prompt).
    pub terminal_group: Option<u32>,
}

/// A moment in the unit of [`ProcessStat::started`], and how many of those make a second:
/// whether a process started after the moment, and how long ago, are told from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub now: u64,
    pub per_second: u64,
}

impl Clock {
    /// How long before this moment a process that started at `started` started.
    pub fn since(&self, started: u64) -> std::time::Duration {
        let ticks = self.now.saturating_sub(started);
        let per_second = self.per_second.max(1);
        std::time::Duration::from_secs(ticks / per_second)
            + std::time::Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second)
    }
}

/// The answer to "who owns these sockets?".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    /// Owners sorted by PID.
    pub owners: Vec<Owner>,
    /// Matching sockets whose owner could not be found.
    pub hidden: Vec<Socket>,
    /// Why each hidden socket has no visible owner, by socket key, as far as the platform
    /// can tell; a hidden socket missing here is unexplained.
    pub reasons: BTreeMap<SocketKey, Hidden>,
    /// True when some processes could not be inspected (permission denied), so `hidden`
    /// sockets most likely belong to one of them.
    pub incomplete: bool,
}

/// Why a socket has no visible owner. Each hidden socket gets its own: one run can see
/// another user's listener and a kernel tunnel at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hidden {
    /// Another user's process, which rekt may not inspect without privileges (sudo,
    /// Administrator).
    OtherUser,
    /// Another user's process that /proc does not even list: it is mounted with
    /// `hidepid` (`hidepid=2` or `invisible` hides the processes, `1` or `noaccess`
    /// their details). Privileges (or the mount's `gid=` group) would show it.
    HiddenPid,
    /// A process whose fds cannot be read even with privileges: one in another user
    /// namespace (a rootless container's), or one an LSM protects. Its PIDs, if known.
    Unreadable { pids: Vec<u32> },
    /// A process outside rekt's PID namespace (rekt runs in a container that shares the
    /// host's network): it cannot be seen from here.
    OtherPidNamespace,
    /// The kernel's own socket, with no process behind it: a tunnel's (`kind`: vxlan,
    /// geneve, bareudp) on the device `device`.
    Kernel { kind: String, device: Text },
    /// No process has it open, and every process was inspected: the kernel's own socket
    /// (a tunnel such as WireGuard, NFS, ...) or a socket in flight between processes
    /// over a unix socket (SCM_RIGHTS). The two cannot be told apart from user space.
    NoProcess,
    /// The table names the process that created (bound) the socket, and that process has
    /// exited, or its PID now belongs to a process started after the bind (Windows names
    /// the binder, not the holder). A process it handed the socket to holds it: most
    /// likely one of `heirs`, its children still running that were started after the
    /// bind (they inherit handles).
    BinderExited { binder: u32, heirs: Vec<Heir> },
    /// No socket is listed, but a bind() is refused with "access denied": the system
    /// reserves the port (on Windows, an excluded port range: Hyper-V, WinNAT, WSL and
    /// Docker Desktop reserve such ranges). Nothing holds it that could be signalled.
    Reserved,
    /// No socket is listed, but a bind() finds the port in use: a socket the system's
    /// tables leave out (on Windows, a TCP socket bound but neither listening nor
    /// connected) holds it, and no process can be named.
    Unlisted,
}

/// A process that may hold a socket its parent created: [`Hidden::BinderExited`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heir {
    pub pid: u32,
    /// Its executable's name, as the system's process list gives it.
    pub name: Option<Text>,
}

/// Values for unit tests elsewhere in the crate.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Family, ProcessInfo, Protocol, Socket, SocketKey, State, Text};

    /// An IPv4 socket on 127.0.0.1:`port` of uid 1000, keyed by `inode`.
    pub(crate) fn socket(protocol: Protocol, port: u16, state: State, inode: u64) -> Socket {
        Socket {
            protocol,
            family: Family::V4,
            local: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            state,
            uid: Some(1000),
            key: SocketKey::Inode(inode),
        }
    }

    /// A process known only by its name and command line.
    pub(crate) fn info(name: &str, cmdline: &[&str]) -> ProcessInfo {
        ProcessInfo {
            name: Some(Text::from(name)),
            cmdline: cmdline.iter().map(|a| Text::from(*a)).collect(),
            ..ProcessInfo::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_cut_by_the_kernel_is_completed_from_argv0() {
        let cut = b"containerd-shim";
        let argv0: &[u8] = b"/usr/bin/containerd-shim-runc-v2";
        assert_eq!(
            completed_comm(cut, Some(argv0), 15),
            b"containerd-shim-runc-v2"
        );
        // Not cut: the kernel's name stands, whatever argv[0] says.
        assert_eq!(
            completed_comm(b"server", Some(b"/usr/bin/python3"), 15),
            b"server"
        );
        // Cut, but argv[0] names something else (a rewritten title): the kernel's name.
        assert_eq!(completed_comm(cut, Some(b"nginx: worker"), 15), cut);
        assert_eq!(completed_comm(cut, None, 15), cut);
    }

    #[test]
    fn the_executable_is_shown_only_when_it_tells_more() {
        let info = |command: &str, exe: &str| ProcessInfo {
            command: Some(Text::from(command)),
            name: Some(Text::from(exe)),
            ..ProcessInfo::default()
        };
        assert_eq!(info("python3", "python3.11").exe_name_if_telling(), None);
        let script = info("server", "python3.11");
        assert_eq!(script.shown_name(), Some(&Text::from("server")));
        assert_eq!(
            script.exe_name_if_telling(),
            Some(&Text::from("python3.11"))
        );
        assert_eq!(
            info("redis-server", "redis-check-rdb").exe_name_if_telling(),
            Some(&Text::from("redis-check-rdb"))
        );
    }
    use std::net::{Ipv6Addr, SocketAddrV6};

    #[test]
    fn scoped_addresses_show_their_interface_as_ss_does() {
        let socket = |local: SocketAddr| Socket {
            protocol: Protocol::Udp,
            family: Family::V6,
            local,
            state: State::Unconnected,
            uid: None,
            key: SocketKey::Inode(1),
        };
        let ll: Ipv6Addr = "fe80::1".parse().unwrap();
        let scoped = socket(SocketAddr::V6(SocketAddrV6::new(ll, 8230, 0, 7)));
        assert_eq!(
            scoped.local_display(|i| (i == 7).then(|| Text::from("v0"))),
            "[fe80::1]%v0:8230"
        );
        assert_eq!(scoped.local_display(|_| None), "[fe80::1]%7:8230");
        // An interface name is another process's choice: printed escaped.
        assert_eq!(
            scoped.local_display(|_| Some(Text::from("v\x1b[0"))),
            "[fe80::1]%v\\e[0:8230"
        );
        let plain = socket("[::1]:53".parse().unwrap());
        assert_eq!(plain.local_display(|_| Some(Text::from("lo"))), "[::1]:53");
        let loopback = socket(SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::LOCALHOST,
            53,
            0,
            4096,
        )));
        assert_eq!(loopback.local_display(|_| None), "[::1]:53");
        let v4 = socket("127.0.0.1:53".parse().unwrap());
        assert_eq!(v4.local_display(|_| None), "127.0.0.1:53");
    }
}

//! sockhold: a test fixture that holds sockets open until it is killed. rekt's end-to-end
//! tests spawn it (it is built by `cargo test`, as every example is) and then look for it.
//!
//! ```text
//! sockhold [OPTIONS] KIND ADDR [KIND ADDR]...
//!   KIND: tcp | udp        ADDR: 127.0.0.1:0, [::1]:8000, 0.0.0.0:9000, ...
//!   (port 0 after the first socket means "the first socket's port")
//!   --reuseport      set SO_REUSEPORT before bind (Unix)
//!   --v6only         set IPV6_V6ONLY before bind (Unix)
//!   --fork           after binding, fork a child that shares the socket (Unix)
//!   --ignore-term    ignore SIGTERM (Unix); with --window, ignore WM_CLOSE (Windows)
//!   --bind-only      tcp: bind but never listen (a socket that still holds its port)
//!   --own-fd-table   open the sockets in a thread with an fd table of its own
//!                    (unshare(CLONE_FILES)), so /proc/PID/fd does not show them (Linux)
//!   --accept-one     tcp: accept one connection, close the listener, hold the connection
//!   --connect        tcp: connect to ADDR instead of binding, and block reading;
//!                    udp: bind an ephemeral port and connect it to ADDR
//!   --comm HEX       set the process's name (/proc/PID/comm, prctl(PR_SET_NAME)) to the
//!                    hex-encoded bytes, e.g. 776562ff736572766572 for `web\xffserver`:
//!                    any bytes but NUL, at most 15 (Linux)
//!   --exit-main-thread  hold the sockets in a second thread and end the main thread
//!                    alone: /proc/PID/exe can no longer be read, so a name comes from
//!                    comm; READY once /proc shows the main thread as a zombie (Linux)
//!   --then-run CMD.. after binding, run CMD (every `{port}` replaced by the first port)
//!                    as a child, and exit with its exit code
//!   --window         open a hidden top-level window and exit when it is closed (Windows)
//!   --window-class NAME  with --window: register the window under class NAME, such as
//!                    ConsoleWindowClass, the class of a console's window (Windows)
//!   --handoff        udp: after binding, start a copy of sockhold that inherits the sockets
//!                    (an inheritable handle), and exit: the copy holds them, as a child
//!                    that outlives the process that bound its socket does; it exits when a
//!                    datagram arrives, or after two minutes (Windows)
//!   NAME.js          ignored: stands in for the script a node.exe runs (argv[1]), so that
//!                    a copy of sockhold named node.exe looks like `node nodemon.js`
//! ```
//! With --then-run, no socket need be given: the command is run all the same.
//! For each process that holds the sockets it prints `READY <pid> <local port>` on stdout.
//! With --accept-one it prints `ACCEPTED <pid> <local port>` once the listener is closed.
//! Then it blocks: a UDP socket in `recv_from`, a TCP connection in `read`, a listener in
//! `accept` (which is how wine reports the owning PID of a socket, see the README).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};

#[derive(Default)]
struct Opts {
    reuseport: bool,
    v6only: bool,
    fork: bool,
    ignore_term: bool,
    accept_one: bool,
    connect: bool,
    window: bool,
    /// `--window-class`.
    window_class: Option<String>,
    handoff: bool,
    bind_only: bool,
    own_fd_table: bool,
    /// The bytes to name the process with (`--comm`).
    comm: Option<Vec<u8>>,
    exit_main_thread: bool,
}

fn main() {
    let mut opts = Opts::default();
    let mut positional = Vec::new();
    // args_os: the program may run under a file name that is not UTF-8 (the tests give it
    // hostile names); its arguments are.
    let mut args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .unwrap_or_else(|_| fail("arguments must be UTF-8"))
        })
        .collect();
    let then_run = args
        .iter()
        .position(|a| a == "--then-run")
        .map(|i| args.split_off(i)[1..].to_vec());
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reuseport" => opts.reuseport = true,
            "--v6only" => opts.v6only = true,
            "--fork" => opts.fork = true,
            "--ignore-term" => opts.ignore_term = true,
            "--accept-one" => opts.accept_one = true,
            "--connect" => opts.connect = true,
            "--window" => opts.window = true,
            "--window-class" => {
                opts.window_class = Some(
                    args.next()
                        .unwrap_or_else(|| fail("--window-class needs NAME")),
                )
            }
            "--handoff" => opts.handoff = true,
            "--adopt" => {
                let raw = args
                    .next()
                    .unwrap_or_else(|| fail("--adopt needs a handle"));
                let raw = raw.parse().unwrap_or_else(|_| fail("--adopt: bad handle"));
                sys::adopt(raw)
            }
            script if script.ends_with(".js") => {}
            "--bind-only" => opts.bind_only = true,
            "--own-fd-table" => opts.own_fd_table = true,
            "--comm" => {
                let hex = args.next().unwrap_or_else(|| fail("--comm needs HEX"));
                opts.comm = Some(unhex(&hex).unwrap_or_else(|| fail("--comm: bad HEX")));
            }
            "--exit-main-thread" => opts.exit_main_thread = true,
            _ => positional.push(arg),
        }
    }
    if (positional.is_empty() && then_run.is_none()) || positional.len() % 2 != 0 {
        fail("usage: sockhold [OPTIONS] tcp|udp ADDR [tcp|udp ADDR]...");
    }
    if let Some(comm) = &opts.comm {
        // Before any thread starts: a new thread takes its name from the one that made it.
        sys::set_comm(comm);
    }
    if opts.exit_main_thread {
        sys::exit_main_thread(move || run(opts, positional, then_run))
    }
    run(opts, positional, then_run)
}

/// The bytes that `hex` spells (two lowercase or uppercase hex digits each).
fn unhex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Opens the sockets, says READY and holds them (or runs --then-run's command).
fn run(opts: Opts, positional: Vec<String>, then_run: Option<Vec<String>>) -> ! {
    if opts.ignore_term {
        sys::ignore_sigterm();
    }
    if opts.own_fd_table {
        // The sockets live and die in a thread whose fd table is its own: the main thread
        // (whose table /proc/PID/fd shows) never has them.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            sys::unshare_fd_table();
            let held: Vec<Held> = positional
                .chunks(2)
                .map(|pair| {
                    let addr: SocketAddr = pair[1].parse().unwrap_or_else(|_| fail("bad address"));
                    open(&pair[0], addr, &opts).unwrap_or_else(|e| fail(&format!("{addr}: {e}")))
                })
                .collect();
            let _ = tx.send(held.first().map_or(0, Held::port));
            park_holding(held)
        });
        let port = rx.recv().unwrap_or_else(|_| fail("the socket thread died"));
        ready("READY", port);
        park()
    }
    // Bind everything first, so that a fork shares every socket.
    let mut held = Vec::new();
    let mut first_port = 0;
    for pair in positional.chunks(2) {
        let mut addr: SocketAddr = pair[1].parse().unwrap_or_else(|_| fail("bad address"));
        if addr.port() == 0 && first_port != 0 {
            addr.set_port(first_port);
        }
        let sock = open(&pair[0], addr, &opts).unwrap_or_else(|e| {
            // The tests put this line in their failure messages: say what was asked for.
            let what = if opts.connect { "connect to" } else { "bind" };
            fail(&format!("cannot {what} {} {addr}: {e}", pair[0]))
        });
        if first_port == 0 {
            first_port = sock.port();
        }
        held.push(sock);
    }
    sys::maybe_fork(&opts);
    if opts.handoff {
        // The heir says READY; this process, which bound the sockets, exits.
        let udp: Vec<&UdpSocket> = held
            .iter()
            .map(|h| match h {
                Held::Udp(u) => u,
                _ => fail("--handoff holds udp sockets only"),
            })
            .collect();
        sys::hand_off(&udp);
        std::process::exit(0);
    }
    if opts.window {
        // The window exists before READY, so whoever waits for READY can close it; the
        // sockets are each blocked on by a thread, and the main thread serves the window.
        let window = sys::open_window(opts.window_class.as_deref());
        ready("READY", first_port);
        for sock in held {
            std::thread::spawn(move || sock.block(&Opts::default()));
        }
        sys::serve_window(window);
        std::process::exit(0);
    }
    ready("READY", first_port);
    if let Some(command) = then_run {
        let args: Vec<String> = command
            .iter()
            .map(|a| a.replace("{port}", &first_port.to_string()))
            .collect();
        let (program, rest) = args
            .split_first()
            .unwrap_or_else(|| fail("--then-run needs a command"));
        let status = std::process::Command::new(program)
            .args(rest)
            .status()
            .unwrap_or_else(|e| fail(&format!("{program}: {e}")));
        std::process::exit(status.code().unwrap_or(1));
    }
    let mut held = held.into_iter();
    let Some(first) = held.next() else { park() };
    for sock in held {
        std::thread::spawn(move || sock.block(&Opts::default()));
    }
    first.block(&opts)
}

/// Keeps `held` open forever.
fn park_holding(held: Vec<Held>) -> ! {
    let _keep = held;
    park()
}

/// One socket this process holds.
enum Held {
    /// A TCP socket that is bound and nothing else (`--bind-only`).
    Bound(TcpListener),
    Listener(TcpListener),
    Stream(TcpStream),
    Udp(UdpSocket),
}

fn open(kind: &str, addr: SocketAddr, opts: &Opts) -> std::io::Result<Held> {
    Ok(match kind {
        "tcp" if opts.connect => Held::Stream(TcpStream::connect(addr)?),
        "tcp" if opts.bind_only => Held::Bound(sys::tcp_bound(addr, opts)?),
        "tcp" => Held::Listener(sys::tcp_listener(addr, opts)?),
        "udp" if opts.connect => {
            let any: SocketAddr = if addr.is_ipv4() {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let socket = UdpSocket::bind(any)?;
            socket.connect(addr)?;
            Held::Udp(socket)
        }
        "udp" => Held::Udp(sys::udp_socket(addr, opts)?),
        _ => fail("KIND must be tcp or udp"),
    })
}

impl Held {
    fn port(&self) -> u16 {
        let addr = match self {
            Held::Listener(l) | Held::Bound(l) => l.local_addr(),
            Held::Stream(s) => s.local_addr(),
            Held::Udp(u) => u.local_addr(),
        };
        addr.map(|a| a.port()).unwrap_or(0)
    }

    /// Blocks on the socket forever, so that a thread is always waiting on it.
    fn block(self, opts: &Opts) -> ! {
        let mut buf = [0u8; 64];
        match self {
            Held::Listener(listener) if opts.accept_one => {
                let port = self_port(&listener);
                let (mut conn, _) = listener
                    .accept()
                    .unwrap_or_else(|e| fail(&format!("accept: {e}")));
                drop(listener);
                ready("ACCEPTED", port);
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
                park()
            }
            Held::Listener(listener) => loop {
                let _ = listener.accept();
            },
            // accept() on a socket that does not listen fails at once: just hold it.
            Held::Bound(socket) => park_holding(vec![Held::Bound(socket)]),
            Held::Stream(mut stream) => loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => park(),
                    Ok(_) => {}
                }
            },
            Held::Udp(socket) => loop {
                let _ = socket.recv_from(&mut buf);
            },
        }
    }
}

fn self_port(listener: &TcpListener) -> u16 {
    listener.local_addr().map(|a| a.port()).unwrap_or(0)
}

fn ready(what: &str, port: u16) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{what} {} {port}", std::process::id());
    let _ = out.flush();
}

fn park() -> ! {
    loop {
        std::thread::park();
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("sockhold: {msg}");
    std::process::exit(2)
}

#[cfg(unix)]
mod sys {
    use super::Opts;
    use std::io;
    use std::net::{SocketAddr, TcpListener, UdpSocket};
    use std::os::fd::{FromRawFd, OwnedFd};

    pub fn ignore_sigterm() {
        // SAFETY: setting a signal disposition to SIG_IGN is always sound.
        unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    }

    /// Forks once; both processes go on holding every socket opened so far.
    pub fn maybe_fork(opts: &Opts) {
        if opts.fork {
            // SAFETY: the program is single-threaded here; the child only prints and blocks.
            if unsafe { libc::fork() } < 0 {
                super::fail("fork failed");
            }
        }
    }

    fn socket(addr: SocketAddr, ty: libc::c_int, opts: &Opts) -> io::Result<OwnedFd> {
        let family = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        // SAFETY: socket() returns a new fd or -1.
        #[cfg(not(target_os = "macos"))]
        let fd = unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, 0) };
        // macOS has no SOCK_CLOEXEC: set it right after (this program starts no threads).
        // SAFETY: socket() returns a new fd or -1; fcntl on it is harmless.
        #[cfg(target_os = "macos")]
        let fd = unsafe {
            let fd = libc::socket(family, ty, 0);
            if fd >= 0 {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
            fd
        };
        if fd < 0 {
            return Err(context("socket"));
        }
        // SAFETY: fd is new and ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let set = |level, name, what: &str| {
            let one: libc::c_int = 1;
            // SAFETY: a valid fd and a c_int option value.
            let rc = unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&fd),
                    level,
                    name,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc < 0 { Err(context(what)) } else { Ok(()) }
        };
        // Only for an explicit port: with port 0, SO_REUSEADDR lets the kernel hand a UDP
        // socket a port that another such socket (another test's holder) already has.
        if addr.port() != 0 {
            set(
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                "setsockopt SO_REUSEADDR",
            )?;
        }
        if opts.reuseport {
            set(
                libc::SOL_SOCKET,
                libc::SO_REUSEPORT,
                "setsockopt SO_REUSEPORT",
            )?;
        }
        if opts.v6only && addr.is_ipv6() {
            set(
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                "setsockopt IPV6_V6ONLY",
            )?;
        }
        let (storage, len) = sockaddr(addr);
        // SAFETY: storage holds a valid sockaddr of `len` bytes.
        let rc = unsafe {
            libc::bind(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                (&storage as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        if rc < 0 {
            return Err(context("bind"));
        }
        Ok(fd)
    }

    /// The last OS error, prefixed with the call that failed.
    fn context(call: &str) -> io::Error {
        let e = io::Error::last_os_error();
        io::Error::new(e.kind(), format!("{call}: {e}"))
    }

    fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
        // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let len = match addr {
            SocketAddr::V4(a) => {
                // SAFETY: plain data; all-zero is valid. (macOS has a sin_len field too.)
                let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                #[cfg(target_os = "macos")]
                {
                    sin.sin_len = std::mem::size_of::<libc::sockaddr_in>() as u8;
                }
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = a.port().to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                // SAFETY: sockaddr_in fits in sockaddr_storage.
                unsafe {
                    std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin)
                };
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                // SAFETY: plain data; all-zero is valid. (macOS has a sin6_len field too.)
                let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
                #[cfg(target_os = "macos")]
                {
                    sin6.sin6_len = std::mem::size_of::<libc::sockaddr_in6>() as u8;
                }
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_addr.s6_addr = a.ip().octets();
                sin6.sin6_scope_id = a.scope_id();
                // SAFETY: sockaddr_in6 fits in sockaddr_storage.
                unsafe {
                    std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6)
                };
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        (storage, len as libc::socklen_t)
    }

    /// A TCP socket bound to `addr` that never listens (a `TcpListener` only to hold it).
    pub fn tcp_bound(addr: SocketAddr, opts: &Opts) -> io::Result<TcpListener> {
        Ok(TcpListener::from(socket(addr, libc::SOCK_STREAM, opts)?))
    }

    /// Gives the calling thread an fd table of its own (a copy of the process's).
    pub fn unshare_fd_table() {
        #[cfg(target_os = "linux")]
        // SAFETY: only this thread's fd table changes; the fds it copies stay open in the
        // process's table too, and this thread closes none of them.
        if unsafe { libc::unshare(libc::CLONE_FILES) } < 0 {
            super::fail("unshare(CLONE_FILES) failed");
        }
        #[cfg(not(target_os = "linux"))]
        super::fail("--own-fd-table needs Linux");
    }

    pub fn tcp_listener(addr: SocketAddr, opts: &Opts) -> io::Result<TcpListener> {
        let fd = socket(addr, libc::SOCK_STREAM, opts)?;
        // SAFETY: a bound stream socket.
        if unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&fd), 128) } < 0 {
            return Err(context("listen"));
        }
        Ok(TcpListener::from(fd))
    }

    pub fn udp_socket(addr: SocketAddr, opts: &Opts) -> io::Result<UdpSocket> {
        Ok(UdpSocket::from(socket(addr, libc::SOCK_DGRAM, opts)?))
    }

    /// Names the calling thread, and so the process as /proc/PID/comm shows it, with
    /// `comm`'s raw bytes.
    pub fn set_comm(comm: &[u8]) {
        #[cfg(target_os = "linux")]
        {
            if comm.len() > 15 || comm.contains(&0) {
                super::fail("--comm: at most 15 bytes, none of them NUL");
            }
            let mut name = [0u8; 16];
            name[..comm.len()].copy_from_slice(comm);
            // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
            if unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) } != 0 {
                super::fail(&format!("prctl: {}", io::Error::last_os_error()));
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = comm;
            super::fail("--comm needs Linux");
        }
    }

    /// Runs `rest` on a second thread once the main thread has ended alone (SYS_exit; the
    /// process lives on in that thread, and /proc shows its main thread as a zombie).
    pub fn exit_main_thread(rest: impl FnOnce() + Send + 'static) -> ! {
        #[cfg(target_os = "linux")]
        {
            let pid = std::process::id();
            std::thread::spawn(move || {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while state(pid) != Some('Z') {
                    if std::time::Instant::now() > deadline {
                        super::fail("the main thread did not end");
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                rest()
            });
            // SAFETY: SYS_exit ends only the calling thread (exit_group would end them
            // all); nothing on this thread needs cleaning up.
            unsafe { libc::syscall(libc::SYS_exit, 0) };
            unreachable!("SYS_exit returned")
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = rest;
            super::fail("--exit-main-thread needs Linux")
        }
    }

    /// The state letter in /proc/PID/stat (after the parenthesised name).
    #[cfg(target_os = "linux")]
    fn state(pid: u32) -> Option<char> {
        let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
        let end = stat.iter().rposition(|&b| b == b')')?;
        stat[end + 1..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .map(|&b| char::from(b))
    }

    pub struct Window;

    pub fn open_window(_: Option<&str>) -> Window {
        super::fail("--window needs Windows")
    }

    pub fn serve_window(_: Window) {}

    pub fn hand_off(_: &[&UdpSocket]) {
        super::fail("--handoff needs Windows")
    }

    pub fn adopt(_: u64) -> ! {
        super::fail("--adopt needs Windows")
    }
}

#[cfg(not(unix))]
mod sys {
    use super::Opts;
    use std::io;
    use std::net::{SocketAddr, TcpListener, UdpSocket};
    use std::sync::atomic::{AtomicBool, Ordering};

    use std::os::windows::io::{AsRawSocket, FromRawSocket};
    use windows_sys::Win32::Foundation::{
        HANDLE, HANDLE_FLAG_INHERIT, HWND, LPARAM, LRESULT, SetHandleInformation, WPARAM,
    };
    use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        CreateWindowExW, DefWindowProcW, DispatchMessageW, GetMessageW, MSG, PostQuitMessage,
        RegisterClassW, WM_CLOSE, WM_DESTROY, WNDCLASSW, WS_OVERLAPPEDWINDOW,
    };

    /// Windows has no SIGTERM; its polite request is WM_CLOSE, which --window then ignores.
    static IGNORE_CLOSE: AtomicBool = AtomicBool::new(false);

    pub fn ignore_sigterm() {
        IGNORE_CLOSE.store(true, Ordering::Relaxed);
    }

    pub fn maybe_fork(opts: &Opts) {
        if opts.fork {
            super::fail("--fork needs Unix");
        }
    }

    pub fn tcp_listener(addr: SocketAddr, _: &Opts) -> io::Result<TcpListener> {
        TcpListener::bind(addr)
    }

    /// A TCP socket bound to `addr` that never listens (a `TcpListener` only to hold it).
    pub fn tcp_bound(addr: SocketAddr, _: &Opts) -> io::Result<TcpListener> {
        use windows_sys::Win32::Networking::WinSock::{
            AF_INET, AF_INET6, INVALID_SOCKET, IPPROTO_TCP, SOCK_STREAM, SOCKADDR_IN, SOCKADDR_IN6,
            WSA_FLAG_NO_HANDLE_INHERIT, WSAGetLastError, WSASocketW, bind, closesocket,
        };
        // Winsock is started by std's first socket.
        drop(UdpSocket::bind("127.0.0.1:0")?);
        let os_error = || {
            // SAFETY: plain call.
            io::Error::from_raw_os_error(unsafe { WSAGetLastError() })
        };
        // SAFETY: a new socket, bound or closed below; the address structs are plain data
        // of the sizes passed.
        unsafe {
            let af = if addr.is_ipv4() { AF_INET } else { AF_INET6 };
            let s = WSASocketW(
                af.into(),
                SOCK_STREAM,
                IPPROTO_TCP,
                std::ptr::null(),
                0,
                WSA_FLAG_NO_HANDLE_INHERIT,
            );
            if s == INVALID_SOCKET {
                return Err(os_error());
            }
            let rc = match addr {
                SocketAddr::V4(a) => {
                    let mut sa = SOCKADDR_IN {
                        sin_family: AF_INET,
                        sin_port: a.port().to_be(),
                        ..Default::default()
                    };
                    sa.sin_addr.S_un.S_addr = u32::from_ne_bytes(a.ip().octets());
                    bind(
                        s,
                        (&sa as *const SOCKADDR_IN).cast(),
                        size_of::<SOCKADDR_IN>() as i32,
                    )
                }
                SocketAddr::V6(a) => {
                    let mut sa = SOCKADDR_IN6 {
                        sin6_family: AF_INET6,
                        sin6_port: a.port().to_be(),
                        ..Default::default()
                    };
                    sa.sin6_addr.u.Byte = a.ip().octets();
                    bind(
                        s,
                        (&sa as *const SOCKADDR_IN6).cast(),
                        size_of::<SOCKADDR_IN6>() as i32,
                    )
                }
            };
            if rc != 0 {
                let e = os_error();
                closesocket(s);
                return Err(e);
            }
            Ok(TcpListener::from_raw_socket(s as u64))
        }
    }

    /// Makes the sockets inheritable and starts a copy of this program that adopts them
    /// (`--adopt HANDLE`): handles are inherited when a process is created, which is how a
    /// child comes to hold a socket its parent bound.
    pub fn hand_off(sockets: &[&UdpSocket]) {
        let mut cmd = std::process::Command::new(
            std::env::current_exe().unwrap_or_else(|e| super::fail(&format!("exe: {e}"))),
        );
        for sock in sockets {
            let raw = sock.as_raw_socket();
            // SAFETY: a socket handle of ours; only its inheritance flag changes.
            if unsafe {
                SetHandleInformation(raw as HANDLE, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT)
            } == 0
            {
                super::fail(&format!(
                    "SetHandleInformation: {}",
                    io::Error::last_os_error()
                ));
            }
            cmd.args(["--adopt", &raw.to_string()]);
        }
        // The heir inherits stdout, and says READY there itself; it is meant to outlive
        // this process, which has no zombie to leave on Windows.
        let heir = cmd
            .spawn()
            .unwrap_or_else(|e| super::fail(&format!("cannot start the heir: {e}")));
        drop(heir);
    }

    /// The heir of `--handoff`: holds the inherited UDP socket `raw`, blocked in recv_from
    /// on it, until a datagram comes (or two minutes pass, should its test be gone).
    pub fn adopt(raw: u64) -> ! {
        // SAFETY: the handle was inherited from the parent, which made it for this.
        let sock = unsafe { UdpSocket::from_raw_socket(raw) };
        let port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
        std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(120));
            std::process::exit(3)
        });
        super::ready("READY", port);
        let _ = sock.recv_from(&mut [0u8; 64]);
        std::process::exit(0)
    }

    pub fn unshare_fd_table() {
        super::fail("--own-fd-table needs Linux")
    }

    pub fn set_comm(_: &[u8]) {
        super::fail("--comm needs Linux")
    }

    pub fn exit_main_thread(_: impl FnOnce() + Send + 'static) -> ! {
        super::fail("--exit-main-thread needs Linux")
    }

    pub fn udp_socket(addr: SocketAddr, _: &Opts) -> io::Result<UdpSocket> {
        UdpSocket::bind(addr)
    }

    /// Proof that the window exists; `serve_window` takes it.
    pub struct Window;

    /// A hidden top-level window, as any GUI program has: WM_CLOSE destroys it
    /// (DefWindowProc), and its destruction ends the message loop. Of class `class`, or
    /// `sockhold`.
    pub fn open_window(class: Option<&str>) -> Window {
        unsafe extern "system" fn proc(h: HWND, msg: u32, w: WPARAM, l: LPARAM) -> LRESULT {
            if msg == WM_CLOSE && IGNORE_CLOSE.load(Ordering::Relaxed) {
                return 0;
            }
            if msg == WM_DESTROY {
                // SAFETY: plain call on the window's own thread.
                unsafe { PostQuitMessage(0) };
                return 0;
            }
            // SAFETY: the default handling of a message we were given.
            unsafe { DefWindowProcW(h, msg, w, l) }
        }
        let class: Vec<u16> = class
            .unwrap_or("sockhold")
            .encode_utf16()
            .chain([0])
            .collect();
        // SAFETY: the class name outlives both calls; the rest are plain values.
        let hwnd = unsafe {
            let instance = GetModuleHandleW(std::ptr::null());
            let wc = WNDCLASSW {
                lpfnWndProc: Some(proc),
                hInstance: instance,
                lpszClassName: class.as_ptr(),
                ..Default::default()
            };
            if RegisterClassW(&wc) == 0 {
                super::fail(&format!("RegisterClassW: {}", io::Error::last_os_error()));
            }
            CreateWindowExW(
                0,
                class.as_ptr(),
                class.as_ptr(),
                WS_OVERLAPPEDWINDOW,
                0,
                0,
                100,
                100,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                instance,
                std::ptr::null(),
            )
        };
        if hwnd.is_null() {
            super::fail(&format!("CreateWindowExW: {}", io::Error::last_os_error()));
        }
        Window
    }

    /// Runs the message loop until the window is destroyed.
    pub fn serve_window(_: Window) {
        // SAFETY: MSG is plain data, filled by GetMessageW; the loop every Win32 program
        // runs, on the thread that made the window.
        unsafe {
            let mut msg: MSG = std::mem::zeroed();
            while GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) > 0 {
                DispatchMessageW(&msg);
            }
        }
    }
}

#!/usr/bin/env python3
"""strangers.py - processes that the test suite did not start, holding the ports it uses.

The end-to-end tests must never signal, or even name, a process they did not start. This
program fills the machine's network namespace with strangers that hold the port numbers
the tests draw (tests/it/support's unused_port(): 10000..18000) and a few ephemeral ports, so
that a test that leaks out of its private namespace, or signals by a bare port, hits one.
scripts/ci-strangers.sh runs the suite next to them and then checks that every stranger is
still there.

  strangers.py hold --state FILE [--low 10000] [--high 18000]
      Starts the strangers; writes FILE (JSON: their PIDs) once every one holds its
      sockets; ends them all on SIGTERM or SIGINT. Root (one stranger runs as nobody and
      one in a network namespace of its own). The strangers:
        - range holders: TCP listeners and UDP sockets on [::] (dual-stack, so IPv4 too)
          on every port from --low to --high that is free, spread over as many processes
          as the fd limit needs;
        - a container: in a network namespace of its own, TCP and UDP on every 10th port
          of the range (what the "held in network namespace X" search finds);
        - small ones on ephemeral ports: a TCP listener with a UDP socket on its port, an
          established loopback connection, a forked pair sharing a SO_REUSEPORT listener,
          a UDP socket on [::1], and the same as user nobody.
  strangers.py snapshot OUT STATE...
      Records (PID, start time) of every PID in the STATE files (their "all_pids": this
      program's and bench/machine-state.py's) in OUT.
  strangers.py check OUT
      Exits 1, naming them, if any process recorded in OUT has died (gone, a zombie, or
      its PID now another process's).
"""
import argparse, ctypes, json, os, pwd, resource, signal, socket, sys, time

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
CLONE_NEWNET = 0x40000000


def start_time(pid):
    """The start time of `pid` (field 22 of /proc/PID/stat), None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def hold_forever():
    while True:
        signal.pause()


def bound(kind, family, addr, port, reuseport=False, v6only=None):
    """A bound socket (a listening one for TCP), or None if the port is taken."""
    s = socket.socket(family, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    try:
        if reuseport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if v6only is not None:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
        s.bind((addr, port))
        if kind == "tcp":
            s.listen(16)
        return s
    except OSError:
        s.close()
        return None


def range_holder(ports, step=1):
    keep, taken = [], 0
    for port in ports[::step]:
        for kind in ("tcp", "udp"):
            s = bound(kind, socket.AF_INET6, "::", port, v6only=False)
            if s is None:
                taken += 1
            else:
                keep.append(s)
    return keep, f"{len(keep)} sockets, {taken} taken already"


def container(ports):
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
    return range_holder(ports, step=10)


def ephemeral_pair():
    t = bound("tcp", socket.AF_INET, "0.0.0.0", 0)
    port = t.getsockname()[1]
    u = bound("udp", socket.AF_INET, "0.0.0.0", port)
    return [t] + ([u] if u else []), f"tcp and udp on {port}"


def connection():
    server = bound("tcp", socket.AF_INET, "127.0.0.1", 0)
    client = socket.create_connection(server.getsockname())
    accepted, _ = server.accept()
    return [server, client, accepted], f"client port {client.getsockname()[1]}"


def forked_reuseport():
    s = bound("tcp", socket.AF_INET, "127.0.0.1", 0, reuseport=True)
    return [s], f"shared listener on {s.getsockname()[1]}", "fork"


def udp6():
    s = bound("udp", socket.AF_INET6, "::1", 0)
    return [s], f"udp [::1]:{s.getsockname()[1]}"


def as_nobody():
    pw = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    keep, what = ephemeral_pair()
    return keep, f"nobody: {what}"


def spawn(fn, wfd, rfd):
    """Forks a stranger that runs `fn`, reports READY (pid, what) on wfd and holds on."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.close(rfd)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        result = fn()
        keep, what = result[0], result[1]
        if len(result) > 2 and os.fork() == 0:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            what += " (forked)"
        os.write(wfd, (json.dumps({"pid": os.getpid(), "what": what}) + "\n").encode())
        os.close(wfd)
        globals()["_keep"] = keep
        hold_forever()
    except BaseException as e:
        os.write(wfd, (json.dumps({"pid": os.getpid(), "error": repr(e)}) + "\n").encode())
        os._exit(1)


def hold(args):
    os.closerange(3, 65536)
    ports = list(range(args.low, args.high))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    per_process = max(1, (hard - 64) // 2)
    slices = [ports[i:i + per_process] for i in range(0, len(ports), per_process)]
    # Several range holders even when one could hold everything: more PIDs to watch.
    if len(slices) < 4:
        n = max(1, len(ports) // 4)
        slices = [ports[i:i + n] for i in range(0, len(ports), n)]
    jobs = [lambda s=s: range_holder(s) for s in slices]
    jobs += [lambda: container(ports), ephemeral_pair, connection, forked_reuseport, udp6,
             as_nobody]
    expected = len(jobs) + 1  # forked_reuseport reports twice
    rfd, wfd = os.pipe()
    started = [spawn(job, wfd, rfd) for job in jobs]
    os.close(wfd)
    state = {"gen_pid": os.getpid(), "all_pids": [], "strangers": []}
    buf, got, deadline = b"", 0, time.time() + 120
    while got < expected and time.time() < deadline:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            report = json.loads(line)
            got += 1
            if "error" in report:
                sys.exit(f"strangers.py: stranger {report['pid']} failed: {report['error']}")
            state["all_pids"].append(report["pid"])
            state["strangers"].append(report)
    if got < expected:
        sys.exit(f"strangers.py: only {got} of {expected} strangers became ready")

    def teardown(*_):
        for pid in state["all_pids"] + started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in started:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, teardown)
    signal.signal(signal.SIGINT, teardown)
    for s in state["strangers"]:
        print(f"stranger {s['pid']}: {s['what']}", flush=True)
    tmp = args.state + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.rename(tmp, args.state)
    hold_forever()


def snapshot(args):
    recorded = {}
    for path in args.states:
        with open(path) as f:
            for pid in json.load(f)["all_pids"]:
                t = start_time(pid)
                if t is None:
                    sys.exit(f"strangers.py: {pid} (from {path}) is not running")
                recorded[str(pid)] = t
    with open(args.out, "w") as f:
        json.dump(recorded, f)
    print(f"strangers.py: watching {len(recorded)} processes")


def check(args):
    with open(args.out) as f:
        recorded = json.load(f)
    dead = [pid for pid, t in recorded.items() if start_time(pid) != t]
    if dead:
        print(f"strangers.py: {len(dead)} of {len(recorded)} strangers died: "
              f"{' '.join(sorted(dead, key=int))}", file=sys.stderr)
        sys.exit(1)
    print(f"strangers.py: all {len(recorded)} strangers are alive")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hold")
    h.add_argument("--state", required=True)
    h.add_argument("--low", type=int, default=10000)
    h.add_argument("--high", type=int, default=18000)
    s = sub.add_parser("snapshot")
    s.add_argument("out")
    s.add_argument("states", nargs="+")
    c = sub.add_parser("check")
    c.add_argument("out")
    args = ap.parse_args()
    {"hold": hold, "snapshot": snapshot, "check": check}[args.cmd](args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""golden.py: rekt's output on fixed scenarios, for a refactor that must not change a byte.

    sudo unshare -n python3 scripts/golden.py BINARY OUTFILE
    diff OUTFILE.before OUTFILE.after

Runs BINARY (a rekt build) on a set of scenarios in the current network namespace (run it
under `unshare -n`, so that only the scenarios' own sockets are there), and writes every
command line, exit code, stdout and stderr to OUTFILE. The PIDs of the processes it starts
are replaced by their names, and numbers that vary from run to run (milliseconds, uids of
the namespace, rekt's own and its callers' PIDs) by placeholders, so that two builds of
the same behaviour give the same file.
"""
import os
import re
import socket
import subprocess
import sys
import time

BIN, OUT = sys.argv[1], sys.argv[2]
BASE = 18400

HOLD = r"""
import socket, sys, time, os
kind, port = sys.argv[1], int(sys.argv[2])
socks = []
if kind in ("tcp", "tcp6", "both"):
    fam = socket.AF_INET6 if kind != "tcp" else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", port)); s.listen()
    socks.append(s)
if kind in ("udp", "both"):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", port))
    socks.append(u)
if kind == "fork":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(); socks.append(s)
    if os.fork() == 0:
        time.sleep(600); sys.exit(0)
print("READY", flush=True)
time.sleep(600)
"""

started = {}


def hold(name, kind, port):
    p = subprocess.Popen([sys.executable, "-c", HOLD, kind, str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout.readline().strip() == b"READY", name
    started[p.pid] = name
    if kind == "fork":
        kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
        for k in kids:
            started[int(k)] = name + "-child"
    return p


def normalise(text):
    for pid, name in sorted(started.items(), key=lambda kv: -len(str(kv[0]))):
        if BASE <= pid <= BASE + 100:
            sys.exit(f"golden: PID {pid} is also one of the scenarios' ports; run again")
        text = re.sub(rf"\b{pid}\b", f"<{name}>", text)
    # Column widths follow the PIDs' widths.
    text = re.sub(r" {2,}", "  ", text)
    text = re.sub(r"\b\d+(\.\d+)?(ms|s)\b", "<T>", text)
    text = re.sub(r'"(\w*_ms|after_ms|waited_ms|retaken_after_ms)": \d+', r'"\1": <T>', text)
    text = re.sub(r"\b40265\d{5}\b", "<NETNS>", text)
    # rekt's own callers (this script, sudo, the shell): their PIDs differ every run.
    for pid in [os.getpid(), os.getppid()]:
        text = re.sub(rf"\b{pid}\b", "<CALLER>", text)
    return text


def run(out, *args, stdin=subprocess.DEVNULL, user=False):
    # As nobody: another user's sockets are hidden, with the privilege hint.
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if user else []
    r = subprocess.run([*prefix, BIN, *args], stdin=stdin, capture_output=True,
                       env={**os.environ, "NO_COLOR": "1"}, timeout=60)
    out.write(f"$ {'(nobody) ' if user else ''}rekt {' '.join(args)}\nexit {r.returncode}\n")
    out.write("--- stdout\n" + normalise(r.stdout.decode(errors="replace")))
    out.write("--- stderr\n" + normalise(r.stderr.decode(errors="replace")) + "\n")


def main():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open(OUT, "w") as out:
        # Usage errors and the fixed texts.
        for args in (["0"], ["70000"], ["abc"], ["9000-8000"], ["--bogus"], ["-9", "8000"],
                     ["--timeout", "-1s", "-k", "8000"], ["--json", "abc"], ["-i"],
                     ["--escalate", "8000"], ["--version"], ["--help"], ["-h"],
                     ["completions", "bash"], ["completions", "zsh"],
                     ["completions", "fish"], ["completions", "powershell"], ["man"]):
            run(out, *args)
        # Free ports.
        free = str(BASE)
        for args in ([free], ["-v", free], ["--json", free], ["-q", free], [free + "/udp"],
                     ["-4", free], ["-6", free], ["-l"], ["-l", "-v"], ["-l", "--json"],
                     [f"{BASE}-{BASE + 20}"], ["-k", free], ["-t", "--json", free]):
            run(out, *args)
        # Held ports.
        t, u, b, f = BASE + 1, BASE + 2, BASE + 3, BASE + 4
        hold("tcp", "tcp", t)
        hold("udp", "udp", u)
        hold("both", "both", b)
        hold("fork", "fork", f)
        client = socket.create_connection(("127.0.0.1", t))
        for args in ([str(t)], ["-v", str(t)], ["--json", str(t)], ["-q", str(t)],
                     [str(u)], ["-v", str(u)], [str(b)], ["-v", str(b)], ["--json", str(b)],
                     [str(f)], ["-v", str(f)], ["-l"], ["-l", "-v"], ["-l", "--json"],
                     [f"{BASE}-{BASE + 10}"], ["-v", f"{BASE}-{BASE + 10}"],
                     ["--tcp", str(b)], ["--udp", str(b)], ["-4", str(b)], ["-6", str(b)],
                     ["--json", "-v", f"{BASE}-{BASE + 10}"]):
            run(out, *args)
        for args in ([str(t)], ["-v", str(b)], ["--json", str(b)], ["-l"], ["-l", "--json"],
                     ["-k", str(t)]):
            run(out, *args, user=True)
        # Signals: an orphan each time, killed or terminated.
        for i, args in enumerate((["-k"], ["-t"], ["-k", "-v"], ["-t", "--json"],
                                  ["-k", "--json", "-v"], ["-t", "--timeout", "0s"],
                                  ["-k", "--settle", "0s"])):
            port = BASE + 30 + i
            hold(f"victim{i}", "tcp", port)
            run(out, *args, str(port))
        port = BASE + 40
        hold("forked", "fork", port)
        run(out, "-k", str(port))
        client.close()


try:
    main()
finally:
    for pid in started:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass

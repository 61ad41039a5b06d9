#!/usr/bin/env python3
"""kill-prepare.py: a fresh listener for one run of bench/kill.sh, started the way a
developer's server is, then waits until it listens.

    python3 bench/kill-prepare.py orphan  PORT     # its parent is gone: nothing restarts it
    python3 bench/kill-prepare.py wrapper PORT     # sh -c 'server; true': sh exits with it
    python3 bench/kill-prepare.py shell   PORT TMUX_SOCKET
                                                   # typed at an interactive bash in tmux

The listener is a small Python server (socket, bind, listen, sleep). Waits at most 10 s.
"""
import os
import socket
import subprocess
import sys
import time

mode, port = sys.argv[1], int(sys.argv[2])
server = [sys.executable, "-c",
          "import socket,time\n"
          "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          f"s.bind(('127.0.0.1',{port})); s.listen(); time.sleep(3600)"]
quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in server)

if mode == "orphan":
    # Double fork: the server's parent exits at once, and init adopts it.
    subprocess.run(["setsid", "-f", *server], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
elif mode == "wrapper":
    subprocess.run(["setsid", "-f", "sh", "-c", f"{quoted}; true"], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
elif mode == "shell":
    tmux = sys.argv[3]
    subprocess.run(["tmux", "-L", tmux, "send-keys", "-t", "0", quoted, "Enter"], check=True)
else:
    sys.exit(f"kill-prepare.py: unknown mode {mode}")

deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    # SO_REUSEADDR on both sides: a probe bound at the moment the server binds must not
    # make the server's bind fail (neither listens yet), and a listener still refuses it.
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        sys.exit(0)  # held: the server listens
    finally:
        probe.close()
    time.sleep(0.005)
sys.exit(f"kill-prepare.py: nothing listens on {port} after 10 s")

#!/usr/bin/env python3
"""Memory under a flood of complete heads whose bodies never come: each
connection sends a ~15 KB request head with `Content-Length: 1` and stops.
Prints the server's RSS growth per connection, and its RSS once they have
all closed (pooled buffers must shrink back).

    python3 benches/flood_memory.py [--conns 2000] [--example echo]

Builds the example in release mode and runs it on a free port.
"""
import argparse
import os
import socket
import subprocess
import sys
import time

from benchlib import free_port, rss_kib, say, stop, wait_listening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--example", default="echo")
    a = ap.parse_args()
    say(f"building examples/{a.example} (release)...")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", a.example], cwd=ROOT, check=True)
    port = free_port()
    exe = os.path.join(ROOT, "target", "release", "examples", a.example)
    proc = subprocess.Popen([exe, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(proc, port, a.example)
        head = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 160) for i in range(90)) + b"\r\n")
        before = rss_kib(proc.pid)
        socks = []
        for i in range(a.conns):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(head)
            socks.append(c)
            if (i + 1) % 500 == 0:
                say(f"  {i + 1}/{a.conns} connections")
        time.sleep(1.0)
        during = rss_kib(proc.pid)
        # Every connection must still be open, its head accepted (no 4xx).
        socks[0].settimeout(0.5)
        try:
            early = socks[0].recv(64)
        except socket.timeout:
            early = b""
        if early and not early.startswith(b"HTTP/1.1 200"):
            sys.exit(f"the server refused the head: {early!r}")
        for c in socks:
            c.close()
        time.sleep(1.0)
        after = rss_kib(proc.pid)
    finally:
        stop(proc, grace=10)
    print(f"{a.example}: {a.conns} connections, each a {len(head)}-byte head and no body")
    print(f"  RSS {before} KiB before, {during} KiB with them open "
          f"({(during - before) / a.conns:.1f} KiB per connection), {after} KiB after they closed")


if __name__ == "__main__":
    main()

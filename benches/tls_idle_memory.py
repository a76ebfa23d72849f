#!/usr/bin/env python3
"""Memory per idle TLS connection: RSS growth of an HTTPS server per idle
keep-alive connection, each having done one handshake and one request.

    python3 benches/tls_idle_memory.py [--conns 2000] [--rounds 3]
        [--server NAME='CMD {port} {cert} {key}' ...]

Without --server it measures `examples/https_hello` (built in release mode)
and Node's https module (benches/node-https-hello.js). Add any other server
the same way (hyper over rustls, for example) to compare. The certificate is
a fresh P-256 self-signed pair made with openssl (or the `https_hello`
example's own when openssl is missing).
"""
import argparse
import os
import shlex
import socket
import ssl
import statistics
import subprocess
import tempfile

from benchlib import free_port, make_cert, rss_per_connection, say

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "benches")


def measure(cmd, conns, cert, key):
    port = free_port()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def open_one(port):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return s

    def answered(s):
        s.settimeout(10)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("the server closed an idle connection")
            got += chunk

    argv = shlex.split(cmd.format(port=port, cert=cert, key=key))
    return rss_per_connection(argv, port, open_one, conns, answered)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--server", action="append", default=[], help="NAME=CMD with {port} {cert} {key}")
    a = ap.parse_args()
    servers = {}
    for spec in a.server:
        name, _, cmd = spec.partition("=")
        servers[name] = cmd
    if not servers:
        say("building examples/https_hello (release)...")
        subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "https_hello"], cwd=ROOT, check=True)
        servers["nodelike"] = os.path.join(ROOT, "target", "release", "examples", "https_hello") + " {port} {cert} {key}"
        servers["node"] = "node " + os.path.join(HERE, "node-https-hello.js") + " {port} {cert} {key}"
    cert, key = make_cert(tempfile.mkdtemp())
    results = {}
    for name, cmd in servers.items():
        runs = []
        for r in range(a.rounds):
            say(f"[{name}] round {r + 1}/{a.rounds}: {a.conns} idle TLS connections...")
            runs.append(measure(cmd, a.conns, cert, key))
        results[name] = statistics.median(runs)
    print(f"\nidle TLS keep-alive connections: RSS growth per connection, {a.conns} connections, "
          f"median of {a.rounds} rounds")
    for name, kib in results.items():
        print(f"{name:<12}{kib:>8.1f} KiB")


if __name__ == "__main__":
    main()

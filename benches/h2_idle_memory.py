#!/usr/bin/env python3
"""Memory per idle HTTP/2 connection: RSS growth of a server per idle
connection, each having done its handshake and one request, against the
same server's idle HTTPS (HTTP/1.1) connection, so the difference is what
HTTP/2 costs beyond the TLS state.

    python3 benches/h2_idle_memory.py [--conns 2000] [--rounds 3] [--no-build]

Measures, each with a fresh server process:
  nodelike h2      examples/h2_hello over TLS, ALPN h2
  nodelike h1      examples/h2_hello over TLS, ALPN http/1.1 (allow_http1)
  nodelike h2c     examples/h2_hello --h2c (cleartext HTTP/2)
  node h2          Node's http2.createSecureServer (if node is installed)
The HTTP/2 client here is a few frames written by hand: the preface,
an empty SETTINGS, a SETTINGS ack once the server's arrives, and one GET.
"""
import argparse
import os
import socket
import ssl
import statistics
import subprocess
import tempfile

from benchlib import free_port, make_cert, rss_per_connection, say

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

NODE_SERVER = r"""
const http2 = require('http2'), fs = require('fs');
const [port, cert, key] = process.argv.slice(2);
http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) },
  (req, res) => res.end('Hello, World!')).listen(+port, '127.0.0.1');
"""


def frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def get_request(authority):
    # HPACK: :method GET (2), :scheme https (7) or http (6), :path / (4),
    # :authority as a literal without indexing, name index 1.
    return bytes([0x82, 0x87, 0x84, 0x01, len(authority)]) + authority


def open_h2(port, tls_ctx):
    raw = socket.create_connection(("127.0.0.1", port))
    s = tls_ctx.wrap_socket(raw, server_hostname="localhost") if tls_ctx else raw
    if tls_ctx and s.selected_alpn_protocol() != "h2":
        raise RuntimeError(f"ALPN chose {s.selected_alpn_protocol()!r}, not h2")
    block = get_request(b"localhost")
    if not tls_ctx:
        block = bytes([0x82, 0x86]) + block[2:]
    s.sendall(PREFACE + frame(4, 0, 0) + frame(4, 1, 0) + frame(1, 0x5, 1, block))
    return s


def open_h1(port, tls_ctx):
    s = tls_ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    return s


def read_answer(s, h2):
    s.settimeout(10)
    got = b""
    want = b"Hello, World!"
    while want not in got:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        got += chunk


def measure(argv, opener, h2, conns):
    port = free_port()
    argv = [a.replace("{port}", str(port)) for a in argv]
    return rss_per_connection(argv, port, opener, conns, lambda s: read_answer(s, h2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not a.no_build:
        say("building examples/h2_hello (release)...")
        subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "h2_hello"], cwd=ROOT, check=True)
    ours = os.path.join(TARGET, "release", "examples", "h2_hello")
    scratch = tempfile.mkdtemp(prefix="h2-idle-")
    cert, key = make_cert(scratch)
    node_js = os.path.join(scratch, "node-h2.js")
    with open(node_js, "w") as f:
        f.write(NODE_SERVER)

    def tls(alpn):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols([alpn])
        return ctx

    h2_ctx, h1_ctx = tls("h2"), tls("http/1.1")
    cases = [
        ("nodelike h2", [ours, "{port}", cert, key], lambda p: open_h2(p, h2_ctx), True),
        ("nodelike h1 (TLS)", [ours, "{port}", cert, key], lambda p: open_h1(p, h1_ctx), False),
        ("nodelike h2c", [ours, "{port}", "--h2c"], lambda p: open_h2(p, None), True),
    ]
    if subprocess.run(["sh", "-c", "command -v node"], capture_output=True).returncode == 0:
        cases.append(("node h2", ["node", node_js, "{port}", cert, key], lambda p: open_h2(p, h2_ctx), True))
    results = {}
    for name, argv, opener, h2 in cases:
        runs = []
        for r in range(a.rounds):
            say(f"[{name}] round {r + 1}/{a.rounds}: {a.conns} idle connections...")
            runs.append(measure(argv, opener, h2, a.conns))
        results[name] = statistics.median(runs)
    print(f"\nidle connections after one request: RSS growth per connection, {a.conns} connections, "
          f"median of {a.rounds} rounds")
    for name, kib in results.items():
        print(f"{name:<20}{kib:>8.2f} KiB")
    beyond = results["nodelike h2"] - results["nodelike h1 (TLS)"]
    print(f"{'HTTP/2 beyond TLS':<20}{beyond:>8.2f} KiB (nodelike h2 minus nodelike h1 over TLS)")


if __name__ == "__main__":
    main()

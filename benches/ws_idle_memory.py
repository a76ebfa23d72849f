#!/usr/bin/env python3
"""Memory per idle WebSocket connection: RSS growth of a WebSocket echo
server per open, idle connection.

    python3 benches/ws_idle_memory.py [--conns 5000] [--rounds 3]
        [--server NAME='CMD {port}' ...]

Three kinds of connection are measured, each opened by a plain Python
client (a raw handshake, masked frames by hand):

- plain:        no permessage-deflate offered;
- deflate-idle: permessage-deflate negotiated, no message yet;
- deflate-used: permessage-deflate negotiated, then one 4 KiB compressed
                message echoed (so both ends' zlib states exist).

Without --server it measures `examples/ws_echo` (built in release mode,
under $CARGO_TARGET_DIR when set) and Node + `ws` (benches/node-ws-echo.js,
permessage-deflate on). A
connection is opened first and not counted, so lazily built state is not
counted per connection. The file-descriptor limit is raised to fit.
"""
import argparse
import base64
import os
import resource
import shlex
import socket
import statistics
import struct
import subprocess
import zlib

from benchlib import free_port, rss_per_connection, say

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "benches")
KINDS = ["plain", "deflate-idle", "deflate-used"]


def masked_frame(opcode_byte, payload):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([opcode_byte, 0x80 | n])
    elif n < 65536:
        head = bytes([opcode_byte, 0x80 | 126]) + struct.pack("!H", n)
    else:
        head = bytes([opcode_byte, 0x80 | 127]) + struct.pack("!Q", n)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def read_frame(s):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("the server closed the connection")
            buf += chunk
        return buf

    b0, b1 = exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exact(8))[0]
    return b0, exact(n)


def open_connection(port, kind):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    ext = "" if kind == "plain" else "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    s.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n{ext}\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            raise RuntimeError("the server closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:80]!r}")
    if kind != "plain" and b"permessage-deflate" not in head.lower():
        raise RuntimeError("permessage-deflate was not negotiated")
    if kind == "deflate-used":
        text = (b'{"temperature": 21.5, "room": "kitchen"} ' * 100)[:4096]
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = c.compress(text) + c.flush(zlib.Z_SYNC_FLUSH)
        assert body.endswith(b"\x00\x00\xff\xff")
        s.sendall(masked_frame(0xC1, body[:-4]))  # FIN, RSV1, text
        read_frame(s)
    return s


def measure(cmd, conns, kind):
    port = free_port()
    argv = shlex.split(cmd.format(port=port))
    return rss_per_connection(argv, port, lambda port: open_connection(port, kind), conns)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated: " + ", ".join(KINDS))
    ap.add_argument("--server", action="append", default=[], help="NAME=CMD with {port}")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * a.conns + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    servers = {}
    for spec in a.server:
        name, _, cmd = spec.partition("=")
        servers[name] = cmd
    if not servers:
        say("building examples/ws_echo (release)...")
        subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "ws_echo"], cwd=ROOT, check=True)
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
        servers["nodelike"] = os.path.join(target, "release", "examples", "ws_echo") + " {port}"
        subprocess.run(["bash", os.path.join(HERE, "node-peers", "install.sh")], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        servers["node + ws"] = "node " + os.path.join(HERE, "node-ws-echo.js") + " {port}"
    kinds = [k for k in a.kinds.split(",") if k]
    results = {}
    for name, cmd in servers.items():
        for kind in kinds:
            runs = []
            for r in range(a.rounds):
                say(f"[{name}] {kind}, round {r + 1}/{a.rounds}: {a.conns} idle WebSocket connections...")
                runs.append(measure(cmd, a.conns, kind))
            results[(name, kind)] = statistics.median(runs)
    print(f"\nidle WebSocket connections: RSS growth per connection (KiB), {a.conns} connections, "
          f"median of {a.rounds} rounds")
    print(f"{'server':<12}" + "".join(f"{k:>15}" for k in kinds))
    for name in servers:
        print(f"{name:<12}" + "".join(f"{results[(name, k)]:>15.2f}" for k in kinds))


if __name__ == "__main__":
    main()

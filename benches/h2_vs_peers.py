#!/usr/bin/env python3
"""HTTP/2 hello under h2load: nodelike's `examples/h2_hello` against nginx
(`http2`) and Node's `http2` compatibility server, over TLS (ALPN h2) and
over cleartext (h2c with prior knowledge), one server after the other in
one run, and a table.

    python3 benches/h2_vs_peers.py [--requests 500000] [--rounds 1]
                                   [--clients 100] [--streams 100]
                                   [--transports tls,h2c] [--no-build]

Installs h2load (nghttp2-client) and nginx (nginx-light) with apt-get when
missing (run as root), builds `examples/h2_hello` in release mode unless
--no-build, makes a self-signed certificate with openssl, pins each server
to CPU 1 and h2load to CPU 0 when there are two CPUs, and prints per
server and transport: requests/sec and the server's own CPU time per
request in microseconds (utime + stime from /proc/PID/stat over the run,
warm-up included), with our ratio to each peer. Node is skipped when
`node` is not installed.

On a shared machine the figures are indicative only: compare within one
run, never across runs.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import PinnedServer as Server, cpu_secs, ensure, make_cert, pinned, say

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))

NODE_SERVER = r"""
const http2 = require('http2'), fs = require('fs');
const [port, cert, key] = process.argv.slice(2);
const handler = (req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('Hello, World!');
};
(cert ? http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, handler)
      : http2.createServer(handler)).listen(+port, '127.0.0.1');
"""


def nginx_argv(port, scratch, cert, key, tls):
    conf = os.path.join(scratch, f"nginx-{port}.conf")
    temp = os.path.join(scratch, "nginx-temp")
    os.makedirs(temp, exist_ok=True)
    listen = f"listen 127.0.0.1:{port} ssl http2; ssl_certificate {cert}; ssl_certificate_key {key};" \
        if tls else f"listen 127.0.0.1:{port} http2;"
    with open(conf, "w") as f:
        f.write(f"""daemon off; master_process off; worker_processes 1;
error_log {scratch}/nginx-error.log; pid {scratch}/nginx-{port}.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off; keepalive_requests 1000000; http2_max_requests 1000000;
  client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
  uwsgi_temp_path {temp}; scgi_temp_path {temp};
  server {{ {listen}
    location / {{ default_type text/plain; return 200 "Hello, World!"; }} }}
}}
""")
    return ["nginx", "-p", scratch, "-c", conf]


def run_h2load(server, tls, requests, clients, streams):
    """(requests/sec, server CPU µs per request) for a fixed number of
    requests (h2load -n: every request is counted, none is cut off by a
    deadline, so CPU per request is exact)."""
    scheme = "https" if tls else "http"
    argv = ["h2load", f"-c{clients}", f"-m{streams}", f"-n{requests}",
            f"{scheme}://127.0.0.1:{server.port}/"]
    cpu0 = cpu_secs(server.proc.pid)
    out = subprocess.run(pinned(0, argv), capture_output=True, text=True, timeout=900).stdout
    cpu = cpu_secs(server.proc.pid) - cpu0
    rps = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    if not rps or not done or int(done.group(2)) != requests:
        raise RuntimeError(f"h2load did not complete every request for {server.name}:\n{out}")
    return float(rps.group(1)), cpu * 1e6 / requests


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=500000,
                    help="requests per run (Node gets a fifth: it is that much slower)")
    ap.add_argument("--rounds", type=int, default=1, help="runs per server (median)")
    ap.add_argument("--clients", type=int, default=100, help="h2load -c")
    ap.add_argument("--streams", type=int, default=100, help="h2load -m (streams in flight per client)")
    ap.add_argument("--transports", default="tls,h2c")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    transports = [t.strip() for t in a.transports.split(",") if t.strip()]

    ensure("h2load", "nghttp2-client")
    ensure("nginx", "nginx-light")
    if not a.no_build:
        say("building examples/h2_hello (release)")
        subprocess.run(["cargo", "build", "--release", "--example", "h2_hello"], cwd=ROOT, check=True)
    ours = os.path.join(TARGET, "release", "examples", "h2_hello")
    if not os.path.exists(ours):
        sys.exit(f"{ours} is missing: build it (cargo build --release --example h2_hello)")
    scratch = tempfile.mkdtemp(prefix="h2-vs-peers-")
    cert, key = make_cert(scratch)
    node_js = os.path.join(scratch, "node-h2.js")
    with open(node_js, "w") as f:
        f.write(NODE_SERVER)

    rows = []
    for transport in transports:
        tls = transport == "tls"
        servers = [
            ("nodelike", lambda port: [ours, str(port)] + ([cert, key] if tls else ["--h2c"])),
            ("nginx", lambda port: nginx_argv(port, scratch, cert, key, tls)),
        ]
        if shutil.which("node"):
            servers.append(("node", lambda port: ["node", node_js, str(port)] + ([cert, key] if tls else [])))
        results = {}
        for name, argv in servers:
            runs = []
            for _ in range(a.rounds):
                with Server(name, argv) as server:
                    n = a.requests // 5 if name == "node" else a.requests
                    runs.append(run_h2load(server, tls, n, a.clients, a.streams))
            rps = statistics.median(r[0] for r in runs)
            us = statistics.median(r[1] for r in runs)
            results[name] = (rps, us)
            say(f"{transport} {name}: {rps:,.0f} req/s, {us:.2f} µs CPU/request")
        for name, (rps, us) in results.items():
            rows.append((transport, name, rps, us, us / results["nodelike"][1]))

    print()
    print(f"h2load -c{a.clients} -m{a.streams} -n{a.requests} (Node -n{a.requests // 5}), hello, "
          f"one core each (median of {a.rounds})")
    print()
    print("| transport | server | req/s | CPU µs/request | CPU vs nodelike |")
    print("|---|---|---:|---:|---:|")
    for transport, name, rps, us, ratio in rows:
        print(f"| {transport} | {name} | {rps:,.0f} | {us:.2f} | {ratio:.2f}× |")


if __name__ == "__main__":
    main()

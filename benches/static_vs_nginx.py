#!/usr/bin/env python3
"""Static files: nodelike's file_server (send_file: sendfile(2)) against
nginx (`sendfile on`) and Node's `fs.createReadStream(path).pipe(res)`,
one after the other under the same wrk load, and a table.

    python3 benches/static_vs_nginx.py [--sizes 1k,1m,100m] [--duration 5]
                                       [--rounds 1] [--connections 50]

Installs nginx (nginx-light) and wrk with apt-get when missing (run as
root), builds `examples/file_server` in release mode unless --no-build,
writes one file of each size (random bytes) to a temporary folder, pins
each server to CPU 1 and wrk to CPU 0 when there are two CPUs, and prints
per server and size: requests/sec, MB/s (MiB, wrk's Transfer/sec), and the
server's own CPU time per request in microseconds (utime + stime from
/proc/PID/stat, all threads, over the run), with our ratios to nginx.
Node is skipped when `node` is not installed.

For 100m, few downloads of fifty in flight complete within a short run:
read its MiB/s (wrk counts every byte read), not its requests/sec.

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

from benchlib import PinnedServer as Server, cpu_secs, ensure, ensure_wrk, pinned, say

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "benches")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))

SIZES = {"1k": 1024, "1m": 1 << 20, "100m": 100 << 20}


def nginx_argv(www, port, scratch):
    """nginx as one process serving `www`, sendfile on, no access log."""
    conf = os.path.join(scratch, f"nginx-{port}.conf")
    temp = os.path.join(scratch, "nginx-temp")
    os.makedirs(temp, exist_ok=True)
    with open(conf, "w") as f:
        f.write(f"""daemon off; master_process off; worker_processes 1;
error_log {scratch}/nginx-error.log; pid {scratch}/nginx-{port}.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
  uwsgi_temp_path {temp}; scgi_temp_path {temp};
  server {{ listen 127.0.0.1:{port}; root {www}; }}
}}
""")
    return ["nginx", "-p", scratch, "-c", conf]


UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def run_wrk(server, path, secs, connections):
    """(requests/sec, MiB/s, server CPU µs per request, errors note)."""
    # A long timeout: fifty 100 MiB downloads at once take seconds each,
    # which wrk's default 2 s would count as errors.
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{secs}s", "--timeout", "60s",
            f"http://127.0.0.1:{server.port}{path}"]
    cpu0 = cpu_secs(server.proc.pid)
    out = subprocess.run(pinned(0, argv), capture_output=True, text=True,
                         timeout=secs + 60).stdout
    cpu = cpu_secs(server.proc.pid) - cpu0
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: \d+|Socket errors: .*", out)
    if not (rps and total and rate):
        raise RuntimeError(f"wrk printed no rate for {server.name}:\n{out}")
    mib = float(rate.group(1)) * UNITS.get(rate.group(2), 1) / (1 << 20)
    us = cpu * 1e6 / max(1, int(total.group(1)))
    return float(rps.group(1)), mib, us, errors.group(0) if errors else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1k,1m,100m",
                    help="comma-separated, of: " + ", ".join(SIZES))
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=1, help="runs per server and size (median)")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--no-build", action="store_true", help="use the file_server already built")
    a = ap.parse_args()
    sizes = [s.strip() for s in a.sizes.split(",") if s.strip()]
    for s in sizes:
        if s not in SIZES:
            sys.exit(f"unknown size {s!r}: use {', '.join(SIZES)}")

    ensure_wrk()
    ensure("nginx", "nginx-light")
    if not a.no_build:
        say("building examples/file_server (release)")
        subprocess.run(["cargo", "build", "--release", "--example", "file_server"],
                       cwd=ROOT, check=True)
    ours = os.path.join(TARGET, "release", "examples", "file_server")
    if not os.path.exists(ours):
        sys.exit(f"{ours} is missing: build it (cargo build --release --example file_server)")

    scratch = tempfile.mkdtemp(prefix="static-vs-nginx-")
    www = os.path.join(scratch, "www")
    os.makedirs(www)
    for s in sizes:
        with open(os.path.join(www, f"{s}.bin"), "wb") as f:
            left = SIZES[s]
            while left:
                n = min(left, 1 << 20)
                f.write(os.urandom(n))
                left -= n

    servers = [
        ("nginx", lambda port: nginx_argv(www, port, scratch)),
        ("nodelike", lambda port: [ours, str(port), www]),
    ]
    if shutil.which("node"):
        node_static = os.path.join(HERE, "node-static.js")
        servers.append(("node", lambda port: ["node", node_static, str(port), www]))
    else:
        say("node is missing: Node's column is skipped")

    results = {}
    for s in sizes:
        for name, make_argv in servers:
            runs = []
            for r in range(a.rounds):
                say(f"{s}: {name} (round {r + 1}/{a.rounds}, {a.duration}s)")
                with Server(name, make_argv) as server:
                    runs.append(run_wrk(server, f"/{s}.bin", a.duration, a.connections))
            results[(s, name)] = (
                statistics.median(x[0] for x in runs),
                statistics.median(x[1] for x in runs),
                statistics.median(x[2] for x in runs),
                "; ".join(x[3] for x in runs if x[3]),
            )

    print(f"wrk -t1 -c{a.connections} -d{a.duration}s, median of {a.rounds}; "
          f"{os.cpu_count()} CPUs (server on CPU 1, wrk on CPU 0)")
    print(f"{'size':<6}{'server':<10}{'req/s':>12}{'MiB/s':>10}{'CPU µs/req':>12}"
          f"{'vs nginx req/s':>16}{'vs nginx MiB/s':>16}  notes")
    for s in sizes:
        base = results[(s, "nginx")]
        for name, _ in servers:
            rps, mib, us, note = results[(s, name)]
            print(f"{s:<6}{name:<10}{rps:>12.0f}{mib:>10.1f}{us:>12.1f}"
                  f"{rps / base[0]:>15.2f}x{mib / max(base[1], 1e-9):>15.2f}x  {note}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The users' benchmark: nodelike's hello example against Node's http module,
side by side under wrk, keep-alive and pipelined, and a table of ratios.

    python3 benches/vs_node.py [--secs 5] [--rounds 3] [--connections 50] [--no-https]

Builds `examples/hello` in release mode, installs wrk if it is missing
(apt-get; run as root), pins each server to CPU 1 and wrk to CPU 0 when
there are two CPUs, and reports requests/sec and the server's own CPU time
per request (the fair figure when wrk, not the server, is the bottleneck).
With the `tls` feature (the default) it also runs `examples/https_hello`
against Node's `https` (benches/node-https-hello.js): HTTPS keep-alive, and
a full TLS handshake per request (`Connection: close`), on a fresh P-256
certificate made with openssl.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import PinnedServer as Server, ensure_wrk, make_cert, pinned, say

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "benches")


def wrk(server, secs, conns, pipelined, scheme="http", close=False):
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{secs}s"]
    if pipelined:
        argv += ["-s", os.path.join(HERE, "pipeline.lua")]
    if close:
        argv += ["-H", "Connection: close"]
    argv.append(f"{scheme}://127.0.0.1:{server.port}/")
    if pipelined:
        argv += ["--", "16"]
    cpu0 = server.cpu_secs()
    out = subprocess.run(pinned(0, argv), capture_output=True, text=True, timeout=secs + 60).stdout
    cpu = server.cpu_secs() - cpu0
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rps or not total:
        raise RuntimeError("wrk printed no rate:\n" + out)
    return float(rps.group(1)), cpu * 1e6 / max(1, int(total.group(1)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--no-https", action="store_true", help="skip the HTTPS scenarios")
    a = ap.parse_args()
    if not shutil.which("node"):
        sys.exit("node is missing: it is the server we compare against")
    ensure_wrk()
    say("building examples/hello and examples/https_hello (release)...")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "hello"], cwd=ROOT, check=True)
    examples = os.path.join(ROOT, "target", "release", "examples")
    plain = {
        "nodelike": [os.path.join(examples, "hello"), "{port}"],
        "node": ["node", os.path.join(HERE, "node-hello.js"), "{port}"],
    }
    # (scenario, servers, pipelined, scheme, Connection: close)
    scenarios = [("keep-alive", plain, False, "http", False), ("pipelined x16", plain, True, "http", False)]
    if not a.no_https:
        built = subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "https_hello"], cwd=ROOT)
        if built.returncode != 0:
            sys.exit("examples/https_hello did not build (the `tls` feature is needed), or pass --no-https")
        cert, key = make_cert(tempfile.mkdtemp())
        tls = {
            "nodelike": [os.path.join(examples, "https_hello"), "{port}", cert, key],
            "node": ["node", os.path.join(HERE, "node-https-hello.js"), "{port}", cert, key],
        }
        scenarios += [("https keep-alive", tls, False, "https", False),
                      ("https handshake", tls, False, "https", True)]
    rows = []
    for scenario, servers, pipelined, scheme, close in scenarios:
        rates = {n: [] for n in servers}
        cpus = {n: [] for n in servers}
        for r in range(a.rounds):
            for name, argv in servers.items():
                say(f"[{scenario}] round {r + 1}/{a.rounds}: {name} ({a.secs}s)...")
                with Server(name, argv) as s:
                    rps, us = wrk(s, a.secs, a.connections, pipelined, scheme, close)
                rates[name].append(rps)
                cpus[name].append(us)
        ours, node = statistics.median(rates["nodelike"]), statistics.median(rates["node"])
        ours_cpu, node_cpu = statistics.median(cpus["nodelike"]), statistics.median(cpus["node"])
        rows.append((scenario, ours, node, ours / node, ours_cpu, node_cpu, node_cpu / ours_cpu))
    print(f"\nwrk -t1 -c{a.connections} -d{a.secs}s, median of {a.rounds} rounds, one core each")
    print(f"{'scenario':<17}{'nodelike req/s':>16}{'node req/s':>13}{'ratio':>8}{'nodelike us/req':>17}{'node us/req':>13}{'ratio':>8}")
    for s, o, n, r, oc, nc, rc in rows:
        print(f"{s:<17}{o:>16.0f}{n:>13.0f}{r:>7.2f}x{oc:>17.2f}{nc:>13.2f}{rc:>7.2f}x")


if __name__ == "__main__":
    main()

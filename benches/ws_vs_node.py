#!/usr/bin/env python3
"""WebSocket echo: nodelike's examples/ws_echo against Node + ws
(benches/node-ws-echo.js), side by side under benches/ws_load.rs, and a
table of ratios.

    python3 benches/ws_vs_node.py [--secs 5] [--rounds 3] [--connections 64] [--size 32]
                                  [--in-flight 1 16] [--only nodelike|node] [--no-save]

Builds examples/ws_echo and the ws_load bench in release mode, installs the
pinned `ws` package (benches/node-peers/install.sh, into target/node-peers),
pins each server to CPU 1 and ws_load to CPU 0 when there are two CPUs, and
for each in-flight depth (messages outstanding per connection) reports
messages/s and the server's own CPU time per message (the fair figure when
the load generator, not the server, is the bottleneck), the median of
--rounds, each round on a fresh server. permessage-deflate is off on both
sides: the load generator offers no extensions, and Node is started with
--no-deflate. The table is also written to
benches/results/ws-vs-node-<date>.txt (unless --no-save).
"""
import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys

from benchlib import PinnedServer, pinned, say

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "benches")
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def build_load():
    """Builds the ws_load bench (release) and returns its executable."""
    out = subprocess.run(["cargo", "bench", "--bench", "ws_load", "--no-run", "--message-format=json"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    import json
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "ws_load" \
                and msg.get("executable"):
            return msg["executable"]
    sys.exit("cargo built no ws_load executable")


def load(exe, server, a, in_flight):
    argv = [exe, "--url", f"ws://127.0.0.1:{server.port}/", "--connections", str(a.connections),
            "--in-flight", str(in_flight), "--size", str(a.size), "--secs", str(a.secs),
            "--server-pid", str(server.proc.pid)]
    r = subprocess.run(pinned(0, argv), capture_output=True, text=True, timeout=a.secs + 60)
    vals = dict(re.findall(r"^([a-z0-9 %/]+): (\S+)", r.stdout, re.M))
    if r.returncode != 0 or "messages/s" not in vals:
        raise RuntimeError(f"ws_load failed against {server.name}:\n{r.stdout}{r.stderr}")
    if int(vals.get("errors", "0")):
        say(f"  ({server.name}: {vals['errors']} connection errors: {r.stderr.strip()[:300]})")
    return (float(vals["messages/s"]), float(vals["server cpu us/msg"]),
            int(vals["latency p50 us"]), int(vals["latency p99 us"]), float(vals["client cpu us/msg"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--size", type=int, default=32, help="message size in bytes (text)")
    ap.add_argument("--in-flight", type=int, nargs="+", default=[1, 16], help="depths to run (default 1 16)")
    ap.add_argument("--only", choices=["nodelike", "node"], help="run one server only (no ratios)")
    ap.add_argument("--no-save", action="store_true", help="do not write benches/results/ws-vs-node-<date>.txt")
    a = ap.parse_args()

    servers = {}
    if a.only != "node":
        say("building examples/ws_echo (release)...")
        subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "ws_echo"], cwd=ROOT, check=True)
        servers["nodelike"] = [os.path.join(TARGET, "release", "examples", "ws_echo"), "{port}"]
    if a.only != "nodelike":
        if not shutil.which("node"):
            sys.exit("node is missing: it is the server we compare against (or pass --only nodelike)")
        subprocess.run(["bash", os.path.join(HERE, "node-peers", "install.sh")], check=True)
        servers["node"] = ["node", os.path.join(HERE, "node-ws-echo.js"), "{port}", "--no-deflate"]
    say("building the ws_load bench (release)...")
    exe = build_load()

    rows = []
    for depth in a.in_flight:
        got = {n: [] for n in servers}
        for r in range(a.rounds):
            for name, argv in servers.items():
                say(f"[{depth} in flight] round {r + 1}/{a.rounds}: {name} ({a.secs:g}s)...")
                with PinnedServer(name, argv, cwd=ROOT) as s:
                    got[name].append(load(exe, s, a, depth))
        med = {n: tuple(statistics.median(x[i] for x in runs) for i in range(5)) for n, runs in got.items()}
        rows.append((depth, med))

    names = list(servers)
    lines = [f"ws_load: {a.connections} connections, {a.size}-byte text messages, {a.secs:g} s per run "
             f"(after 1 s warmup), median of {a.rounds} rounds, server and load on one core each; "
             f"permessage-deflate off",
             f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end, "
             + ", ".join(f"{n}: {' '.join(os.path.basename(x) for x in servers[n][:2])}" for n in names)]
    head = f"{'in flight':<11}"
    for n in names:
        head += f"{n + ' msg/s':>16}{n + ' us/msg':>17}{n + ' p99 us':>17}{'ws_load us/msg':>16}"
    if len(names) == 2:
        head += f"{'msg/s ratio':>13}{'cpu ratio':>11}"
    lines.append(head)
    for depth, med in rows:
        line = f"{depth:<11}"
        for n in names:
            rate, cpu, _p50, p99, client = med[n]
            line += f"{rate:>16.0f}{cpu:>17.2f}{p99:>17.0f}{client:>16.2f}"
        if len(names) == 2:
            o, n = med["nodelike"], med["node"]
            line += f"{o[0] / n[0]:>12.2f}x{n[1] / o[1]:>10.2f}x"
        lines.append(line)
    if len(names) == 2:
        lines.append("ratios: nodelike's msg/s over node's; node's server CPU per message over nodelike's (>1: we use less)")
    lines.append("us/msg: the server's CPU time per message; ws_load us/msg: the load generator's own (when it is near\n"
                 "the server's, ws_load is the bottleneck and msg/s understates the server: compare us/msg)")
    table = "\n".join(lines)
    print("\n" + table)
    if not a.no_save:
        path = os.path.join(HERE, "results", f"ws-vs-node-{datetime.date.today():%Y-%m-%d}"
                            + (f"-{a.only}-only" if a.only else "") + ".txt")
        with open(path, "w") as f:
            f.write(table + "\n")
        say(f"written to {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()

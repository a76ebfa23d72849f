#!/usr/bin/env python3
"""Is compression off the loop? A hello request's p99 latency while the
same server answers a flood of gzip'd 100 KiB JSON responses, against its
p99 when idle (issue 20's goal: at most 2x).

    python3 benches/gzip_flood_p99.py [--secs 5] [--flood-connections 20] [--rounds 1]
    python3 benches/gzip_flood_p99.py --rounds 5 --server A=/path/a --server B=/path/b

Runs examples/gzip_json (its `/hello` answers a few bytes, uncompressed;
every other path is the JSON, compressed on the worker pool). The server
is not pinned to a core: its pool threads are meant to take the
compression to the other core, away from the loop. Builds the example in
release mode; installs wrk if it is missing.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

from benchlib import ensure_wrk, free_port, say, stop, wait_listening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def p99_ms(out):
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    if not m:
        raise RuntimeError("no 99% line in wrk's output:\n" + out)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def hello_p99(port, secs):
    out = subprocess.run(
        ["wrk", "-t1", "-c1", f"-d{secs}s", "--latency", f"http://127.0.0.1:{port}/hello"],
        capture_output=True, text=True, check=True).stdout
    return p99_ms(out)


def one_round(binary, secs, flood_connections):
    """Idle p99, then p99 during the flood, on a fresh server."""
    port = free_port()
    server = subprocess.Popen([binary, str(port)], stdout=subprocess.DEVNULL)
    try:
        wait_listening(server, port)
        hello_p99(port, 1)  # warm up
        idle = hello_p99(port, secs)
        flood = subprocess.Popen(
            ["wrk", "-t1", f"-c{flood_connections}", f"-d{secs + 2}s",
             "-H", "Accept-Encoding: gzip", f"http://127.0.0.1:{port}/"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        busy = hello_p99(port, secs)
        flood_out = flood.communicate()[0]
        rps = re.search(r"Requests/sec:\s+([\d.]+)", flood_out)
    finally:
        stop(server)
    return idle, busy, float(rps.group(1)) if rps else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--flood-connections", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--server", action="append", default=[], metavar="NAME=BINARY",
                    help="compare builds of gzip_json (A/B rounds interleaved, "
                         "as the machine's load drifts); default: this tree's")
    a = ap.parse_args()
    ensure_wrk()
    servers = [tuple(x.split("=", 1)) for x in a.server]
    if not servers:
        say("building examples/gzip_json (release)")
        subprocess.run(["cargo", "build", "--release", "--example", "gzip_json"], cwd=ROOT,
                       check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        servers = [("nodelike", os.path.join(target, "release", "examples", "gzip_json"))]
    results = {name: [] for name, _ in servers}
    for r in range(a.rounds):
        for name, binary in servers:
            idle, busy, rps = one_round(binary, a.secs, a.flood_connections)
            say(f"round {r + 1} {name}: idle p99 {idle:.3f} ms, during the flood "
                f"{busy:.3f} ms ({busy / idle:.2f}x), {rps:,.0f} compressed responses/s")
            results[name].append((idle, busy, rps))
    print(f"gzip flood: {a.flood_connections} connections, {a.rounds} round(s), medians")
    for name, runs in results.items():
        idle = statistics.median(x[0] for x in runs)
        busy = statistics.median(x[1] for x in runs)
        ratio = statistics.median(x[1] / x[0] for x in runs)
        rps = statistics.median(x[2] for x in runs)
        print(f"{name}: hello p99 idle {idle:.3f} ms, during the flood {busy:.3f} ms: "
              f"{ratio:.2f}x (goal: <= 2x); {rps:,.0f} compressed responses/s")
    sys.exit(0)


if __name__ == "__main__":
    main()

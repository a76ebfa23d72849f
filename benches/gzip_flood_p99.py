#!/usr/bin/env python3
"""Is compression off the loop? A hello request's p99 latency while the
same server answers a flood of gzip'd 100 KiB JSON responses, against its
p99 when idle (issue 20's goal: at most 2x).

    python3 benches/gzip_flood_p99.py [--secs 5] [--flood-connections 20]

Runs examples/gzip_json (its `/hello` answers a few bytes, uncompressed;
every other path is the JSON, compressed on the worker pool). The server
is not pinned to a core: its pool threads are meant to take the
compression to the other core, away from the loop. Builds the example in
release mode; installs wrk if it is missing.
"""
import argparse
import os
import re
import subprocess
import sys

from benchlib import ensure_wrk, free_port, say, wait_listening

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--flood-connections", type=int, default=20)
    a = ap.parse_args()
    ensure_wrk()
    say("building examples/gzip_json (release)")
    subprocess.run(["cargo", "build", "--release", "--example", "gzip_json"], cwd=ROOT, check=True)
    port = free_port()
    server = subprocess.Popen(
        [os.path.join(ROOT, "target/release/examples/gzip_json"), str(port)],
        stdout=subprocess.DEVNULL)
    try:
        wait_listening(server, port)
        hello_p99(port, 1)  # warm up
        idle = hello_p99(port, a.secs)
        say(f"idle hello p99: {idle:.3f} ms")
        flood = subprocess.Popen(
            ["wrk", "-t1", f"-c{a.flood_connections}", f"-d{a.secs + 2}s",
             "-H", "Accept-Encoding: gzip", f"http://127.0.0.1:{port}/"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        busy = hello_p99(port, a.secs)
        flood_out = flood.communicate()[0]
        rps = re.search(r"Requests/sec:\s+([\d.]+)", flood_out)
        say(f"hello p99 during the flood: {busy:.3f} ms")
    finally:
        server.terminate()
        server.wait()
    print(f"gzip flood: {a.flood_connections} connections, "
          f"{float(rps.group(1)) if rps else 0:,.0f} compressed responses/s")
    print(f"hello p99 idle {idle:.3f} ms, during the flood {busy:.3f} ms: "
          f"{busy / idle:.2f}x (goal: <= 2x)")
    sys.exit(0)


if __name__ == "__main__":
    main()

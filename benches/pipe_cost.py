#!/usr/bin/env python3
"""What `pipe` costs: the echo written with `req.pipe(res)` against the same
pump written by hand, in one server (examples/pipe_by_hand: `/pipe` and
`/hand`), under wrk with a POST body, alternating, several rounds.

    python3 benches/pipe_cost.py [--secs 5] [--rounds 3] [--body 4096] [--connections 50]

Reports requests/sec and the server's own CPU time per request for each
path. The goal (issue 20): `/pipe` within 5% of `/hand` in CPU per request.
Builds the example in release mode; installs wrk if missing (apt-get).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

from benchlib import cpu_secs, ensure_wrk, free_port, say, stop, wait_listening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wrk_post(port, path, body_file, secs, connections):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(
        'local f = io.open("%s", "rb")\n'
        "wrk.method = \"POST\"\n"
        "wrk.body = f:read(\"*a\")\n"
        "f:close()\n"
        'wrk.headers["Content-Type"] = "application/octet-stream"\n' % body_file
    )
    script.close()
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{secs}s", "-s", script.name,
           f"http://127.0.0.1:{port}{path}"]
    if os.cpu_count() and os.cpu_count() >= 2:
        cmd = ["taskset", "-c", "0"] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return rps, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--body", type=int, default=4096)
    ap.add_argument("--connections", type=int, default=50)
    a = ap.parse_args()
    ensure_wrk()
    say("building examples/pipe_by_hand (release)")
    subprocess.run(["cargo", "build", "--release", "--example", "pipe_by_hand"],
                   cwd=ROOT, check=True)
    body = tempfile.NamedTemporaryFile(delete=False)
    body.write(bytes(i % 251 for i in range(a.body)))
    body.close()
    port = free_port()
    cmd = [os.path.join(ROOT, "target/release/examples/pipe_by_hand"), str(port)]
    if os.cpu_count() and os.cpu_count() >= 2:
        cmd = ["taskset", "-c", "1"] + cmd
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    try:
        wait_listening(server, port)
        wrk_post(port, "/pipe", body.name, 1, a.connections)  # warm up
        results = {"/hand": [], "/pipe": []}
        for r in range(a.rounds):
            for path in ("/hand", "/pipe"):
                before = cpu_secs(server.pid)
                rps, total = wrk_post(port, path, body.name, a.secs, a.connections)
                used = cpu_secs(server.pid) - before
                results[path].append((rps, used * 1e6 / max(total, 1)))
                say(f"round {r + 1} {path}: {rps:,.0f} req/s, {used * 1e6 / max(total, 1):.1f} us CPU/req")
    finally:
        stop(server)
        os.unlink(body.name)
    print()
    print(f"echo of a {a.body}-byte POST, wrk -c{a.connections}, {a.rounds} x {a.secs} s (medians)")
    print("| path | req/s | CPU us/req |")
    print("|---|---:|---:|")
    med = {}
    for path, rows in results.items():
        rps = statistics.median(x[0] for x in rows)
        cpu = statistics.median(x[1] for x in rows)
        med[path] = cpu
        print(f"| `{path}` ({'req.pipe(res)' if path == '/pipe' else 'by hand'}) | {rps:,.0f} | {cpu:.2f} |")
    ratio = med["/pipe"] / med["/hand"]
    print(f"\npipe / by hand, CPU per request: {ratio:.3f} (goal: <= 1.05)")
    sys.exit(0)


if __name__ == "__main__":
    main()

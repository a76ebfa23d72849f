#!/usr/bin/env python3
"""CPU per gzipped JSON response: nodelike's `http::compression` against
Node's `zlib.createGzip()` piped into the response, under wrk.

    python3 benches/gzip_vs_node.py [--secs 5] [--rounds 3] [--connections 10] [--kib 100]
                                    [--also NAME=BINARY ...]

Builds `examples/gzip_json` in release mode and runs it beside the same
server in Node (a document made the same way, `zlib.createGzip()` at level
6 piped into `res`). Each server is pinned to CPU 1 and wrk to CPU 0 when
there are two CPUs. Reports requests/sec, the server's CPU time per
response (all its threads: the compression runs on worker pools in both),
and the compressed size. A report, not a test: nothing is asserted.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import cpu_secs, ensure_wrk, free_port, pinned, say, stop, wait_listening  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NODE_SERVER = r"""
const http = require('http'), zlib = require('zlib');
const [port, kib] = process.argv.slice(1).map(Number);
let parts = [], len = 1, n = 0;
while (len < kib * 1024) {
  const item = `{"id":${n},"name":"user ${n}","email":"user${n}@example.com","active":${n % 3 === 0}}`;
  len += item.length + (n > 0 ? 1 : 0); parts.push(item); n++;
}
const doc = Buffer.from('[' + parts.join(',') + ']');
http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Vary', 'Accept-Encoding');
  const gz = zlib.createGzip();
  gz.pipe(res);
  gz.end(doc);
}).listen(port, '127.0.0.1');
"""


def run_one(name, argv, port, secs, conns):
    proc = subprocess.Popen(pinned(1, argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(proc, port, name)
        url = f"http://127.0.0.1:{port}/"
        size = len(subprocess.run(["curl", "-s", "-H", "Accept-Encoding: gzip", url],
                                  capture_output=True, check=True).stdout)
        before = cpu_secs(proc.pid)
        out = subprocess.run(pinned(0, ["wrk", "-t1", f"-c{conns}", f"-d{secs}s",
                                        "-H", "Accept-Encoding: gzip", url]),
                             capture_output=True, text=True, check=True).stdout
        cpu = cpu_secs(proc.pid) - before
        m = re.search(r"(\d+) requests in", out)
        requests = int(m.group(1)) if m else 0
        return requests / secs, (cpu / requests * 1e3) if requests else float("nan"), size
    finally:
        stop(proc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=10)
    ap.add_argument("--kib", type=int, default=100)
    ap.add_argument("--binary", help="this build of gzip_json instead of building one")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=BINARY",
                    help="another build of gzip_json in the same interleaved rounds "
                         "(a before/after comparison)")
    a = ap.parse_args()
    ensure_wrk()
    if a.binary:
        ours = a.binary
    else:
        say("building examples/gzip_json (release)")
        subprocess.run(["cargo", "build", "--release", "--example", "gzip_json"], cwd=ROOT,
                       check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        ours = os.path.join(target, "release", "examples", "gzip_json")
    builds = {"nodelike": ours}
    builds.update(x.split("=", 1) for x in a.also)
    results = {name: [] for name in builds}
    results["node"] = []
    for r in range(a.rounds):
        for name in results:
            port = free_port()
            if name in builds:
                argv = [builds[name], str(port), "--kib", str(a.kib)]
            else:
                argv = ["node", "-e", NODE_SERVER, str(port), str(a.kib)]
            say(f"round {r + 1}: {name}")
            results[name].append(run_one(name, argv, port, a.secs, a.connections))
    print(f"{a.kib} KiB JSON, gzip level 6, wrk -c{a.connections} -d{a.secs}s, "
          f"median of {a.rounds} rounds")
    print(f"{'server':<14} {'req/s':>9} {'CPU ms/resp':>12} {'x Node':>7} {'gzip bytes':>11}")
    node_cpu = statistics.median(x[1] for x in results["node"])
    for name, runs in results.items():
        rps = statistics.median(x[0] for x in runs)
        cpu = statistics.median(x[1] for x in runs)
        print(f"{name:<14} {rps:>9.0f} {cpu:>12.3f} {cpu / node_cpu:>7.2f} {runs[0][2]:>11}")


if __name__ == "__main__":
    main()

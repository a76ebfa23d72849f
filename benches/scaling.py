#!/usr/bin/env python3
"""One loop per core, measured: `hello --workers 1` against `hello --workers N`
under wrk, on the same cores, with three figures per worker count:

  * requests/sec and the server's CPU time per request (all its threads);
  * how the kernel spread the connections over the workers (SO_REUSEPORT),
    read from the lines `hello` prints at exit;
  * system calls per request, counted by `strace -f -c` in a separate, shorter
    run (strace slows the server, but the count is what matters: sharing a
    port must add no system call per request).

    python3 benches/scaling.py [--workers 2] [--secs 10] [--rounds 3]
                               [--connections 64] [--no-strace]

Builds `examples/hello` in release mode and installs wrk if it is missing
(apt-get; run as root). Nothing is pinned: the workers and wrk share the
machine's cores, as they would in production on a small box.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile

from benchlib import cpu_secs, ensure_wrk, free_port, say, wait_listening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELLO = os.path.join(ROOT, "target", "release", "examples", "hello")


def run_wrk(port, secs, conns):
    argv = ["wrk", "-t2", f"-c{conns}", f"-d{secs}s", f"http://127.0.0.1:{port}/"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rps or not total:
        raise RuntimeError("wrk printed no rate:\n" + out)
    return float(rps.group(1)), int(total.group(1))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def one_round(workers, secs, conns):
    """requests/sec, CPU us per request, and connections per worker."""
    port = free_port()
    proc = subprocess.Popen([HELLO, str(port), "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(proc, port, "hello")
        cpu0 = cpu_secs(proc.pid)
        rps, total = run_wrk(port, secs, conns)
        cpu = cpu_secs(proc.pid) - cpu0
    finally:
        err = stop(proc)
    spread = [int(n) for n in re.findall(r"worker \d+: (\d+) connections", err)]
    return rps, cpu * 1e6 / max(1, total), spread


def syscalls_per_request(workers, secs, conns):
    if not shutil.which("strace"):
        say("strace is missing: skipping the system-call count (apt-get install -y strace)")
        return None
    port = free_port()
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        proc = subprocess.Popen(["strace", "-f", "-c", "-o", out.name, HELLO, str(port), "--workers", str(workers)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_listening(proc, port, "hello")
            _, total = run_wrk(port, secs, conns)
        finally:
            # SIGTERM goes to hello itself: strace would detach and leave it.
            for child in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                        text=True).stdout.split():
                os.kill(int(child), signal.SIGTERM)
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        text = out.read()
    m = re.search(r"^\S+\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total$", text, re.M)
    if not m:
        say("could not read strace's summary:\n" + text)
        return None
    return int(m.group(1)) / max(1, total)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--no-strace", action="store_true")
    a = ap.parse_args()
    ensure_wrk()
    say("building examples/hello (release)...")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "hello"], cwd=ROOT, check=True)
    rows = []
    for workers in sorted({1, a.workers}):
        rates, cpus, worst = [], [], []
        for r in range(a.rounds):
            say(f"[workers {workers}] round {r + 1}/{a.rounds} ({a.secs}s)...")
            rps, us, spread = one_round(workers, a.secs, a.connections)
            rates.append(rps)
            cpus.append(us)
            if workers > 1:
                if len(spread) != workers or sum(spread) == 0:
                    raise RuntimeError(f"expected {workers} spread lines, got {spread}")
                worst.append(max(spread) / sum(spread))
                say(f"  connections per worker: {spread}")
        sys_per_req = None
        if not a.no_strace:
            say(f"[workers {workers}] counting system calls under strace (3s)...")
            sys_per_req = syscalls_per_request(workers, 3, a.connections)
        rows.append((workers, statistics.median(rates), statistics.median(cpus),
                     max(worst) if worst else None, sys_per_req))
    base_cpu = rows[0][2]
    print(f"\nhello --workers N, wrk -t2 -c{a.connections} -d{a.secs}s, median of {a.rounds} rounds, "
          f"{os.cpu_count()} CPUs shared by wrk and the server")
    print(f"{'workers':<9}{'req/s':>10}{'us CPU/req':>12}{'vs 1 worker':>13}{'busiest worker':>16}{'syscalls/req':>14}")
    for workers, rps, us, busiest, sys_per_req in rows:
        busiest_s = f"{busiest * 100:.0f}% of conns" if busiest is not None else "-"
        sys_s = f"{sys_per_req:.2f}" if sys_per_req is not None else "-"
        print(f"{workers:<9}{rps:>10.0f}{us:>12.2f}{us / base_cpu:>12.2f}x{busiest_s:>16}{sys_s:>14}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""httpwg (h2spec's HTTP/2 conformance cases, ported to RFC 9113) against
our cleartext HTTP/2 server, and optionally against nginx and Node.

    python3 benches/httpwg/run.py [--server-cmd CMD] [--peers] [--allow NAME ...]
                                  [--filter TEXT] [--frame-timeout MS] [--concurrent]
                                  [--outdir DIR]
    python3 benches/httpwg/run.py install     # only make sure httpwg is installed

It starts CMD (default `target/release/examples/h2_hello {port} --h2c`,
built with cargo when that is the command and it is missing) on a free
loopback port, waits until it accepts, runs `httpwg -v -a 127.0.0.1:PORT`,
and prints the pass/fail counts and every case that did not pass. A case
"did not pass" when httpwg printed it as failed, or printed no verdict at
all (its task panicked: e.g. a frame that never came, read with unwrap).

It exits 1 when a case outside the allow-list failed (ALLOWED below, each
with the reason, plus --allow NAME, matched against the case's full name
`RFC 9113 :: SECTION :: CASE`), or when httpwg ran fewer cases than
EXPECTED_CASES (a different httpwg, or a run cut short); exit 2: could not
run at all.

--peers: also runs the same cases against nginx (`listen ... http2;`, h2c
with prior knowledge) and Node's `http2.createServer`, and prints a table
of the cases where the three differ, with each one's count.

Cases run one after the other (SEQUENTIAL=1), each waiting up to
--frame-timeout ms (default 1000; httpwg's own default is 250) for a frame:
httpwg's concurrent mode opens all 107 connections at once, and on a
loaded machine its 250 ms deadlines make even nginx's counts wander by 20
cases from run to run. --concurrent restores it.

httpwg: `cargo install --locked httpwg-cli --version HTTPWG_VERSION` (the
lock file is what makes it build; without --locked the newest
dependencies do not). Looked for on the PATH, then in ~/.cargo/bin.

Everything it starts runs in its own process group, killed when the run
ends, fails or is interrupted. Logs stay in --outdir (default
$CARGO_TARGET_DIR or target/, then httpwg/).
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from benchlib import Proc, free_port, say, wait_listening  # noqa: E402

TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
HTTPWG_VERSION = "0.2.5"
EXPECTED_CASES = 107
DEFAULT_SERVER = "target/release/examples/h2_hello {port} --h2c"

# Cases we may fail, each with the reason (RFC 9113's text against the
# case's expectation). Empty: every case passes.
ALLOWED = {}

NODE_SERVER = r"""
const http2 = require('http2');
const server = http2.createServer((req, res) => {
  res.writeHead(200, {'content-type': 'text/plain'});
  res.end('Hello, World!');
});
server.listen(+process.argv[1], '127.0.0.1');
"""

NGINX_CONF = """worker_processes 1;
daemon off;
pid {scratch}/nginx.pid;
error_log {scratch}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {scratch}/tmp; proxy_temp_path {scratch}/tmp;
  fastcgi_temp_path {scratch}/tmp; uwsgi_temp_path {scratch}/tmp; scgi_temp_path {scratch}/tmp;
  server {{
    listen 127.0.0.1:{port} http2;
    location / {{ return 200 "Hello, World!"; }}
  }}
}}
"""


# ---------------------------------------------------------------- httpwg

def find_httpwg():
    path = shutil.which("httpwg")
    if path:
        return path
    home = os.path.join(os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo")), "bin", "httpwg")
    return home if os.access(home, os.X_OK) else None


def ensure_httpwg():
    """The httpwg binary, installed with cargo (the --locked way) when
    missing."""
    path = find_httpwg()
    if path:
        return path
    if not shutil.which("cargo"):
        raise SystemExit("httpwg: httpwg is not installed and cargo is missing to install it "
                         f"(cargo install --locked httpwg-cli --version {HTTPWG_VERSION})")
    argv = ["cargo", "install", "--locked", "httpwg-cli", "--version", HTTPWG_VERSION]
    say(f"httpwg: httpwg is missing: {' '.join(argv)} (a few minutes)")
    # Its own target directory: the project's build does not get
    # invalidated by another crate's dependencies.
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(TARGET, "httpwg-install"))
    r = subprocess.run(argv, env=env)
    path = find_httpwg()
    if r.returncode != 0 or not path:
        raise SystemExit(f"httpwg: `{' '.join(argv)}` failed (exit {r.returncode})")
    return path


# ---------------------------------------------------------------- processes

def our_argv(template, port):
    argv = [a.format(port=port) for a in shlex.split(template)]
    if template == DEFAULT_SERVER:
        exe = os.path.join(TARGET, "release", "examples", "h2_hello")
        if not os.path.exists(exe):
            say(f"httpwg: {exe} is missing: cargo build --release --example h2_hello")
            r = subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "h2_hello"], cwd=ROOT)
            if r.returncode != 0 or not os.path.exists(exe):
                raise SystemExit("httpwg: could not build examples/h2_hello")
        argv[0] = exe
    return argv


# ---------------------------------------------------------------- one run

PASSED = re.compile(r"Test passed: (.+?)\s*$")
FAILED = re.compile(r"Test failed: (.+?)\s*$")
RUNNING = re.compile(r"Running test: (.+?)\s*$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse(log_text):
    """{case: "pass" | "fail" | "no verdict"} from httpwg's -v output."""
    verdicts = {}
    for line in ANSI.sub("", log_text).splitlines():
        for rx, verdict in ((RUNNING, "no verdict"), (PASSED, "pass"), (FAILED, "fail")):
            m = rx.search(line)
            if m:
                if verdict == "no verdict":
                    verdicts.setdefault(m.group(1), verdict)
                else:
                    verdicts[m.group(1)] = verdict
    return verdicts


def run_httpwg(httpwg, port, args, log_path):
    argv = [httpwg, "-v", "--frame-timeout", str(args.frame_timeout), "-a", f"127.0.0.1:{port}"]
    if args.filter:
        argv += ["-f", args.filter]
    env = dict(os.environ, RUST_LOG="error", NO_COLOR="1")
    if not args.concurrent:
        env["SEQUENTIAL"] = "1"
    with open(log_path, "wb") as log:
        try:
            subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           env=env, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            say(f"httpwg: did not finish in {args.timeout}s")
    with open(log_path, encoding="utf-8", errors="replace") as f:
        return parse(f.read())


def against(what, argv, port, httpwg, args, cwd=ROOT):
    server = Proc(argv, os.path.join(args.outdir, f"{what}-server.log"), what, cwd=cwd)
    try:
        wait_listening(server, port, server.what, secs=30)
        say(f"httpwg: {what} on 127.0.0.1:{port}")
        verdicts = run_httpwg(httpwg, port, args, os.path.join(args.outdir, f"{what}-httpwg.log"))
        if server.p.poll() is not None:
            say(f"httpwg: {what} exited during the run (exit {server.p.returncode})")
        return verdicts
    finally:
        server.stop()


def peers(httpwg, args):
    results = {}
    scratch = tempfile.mkdtemp(prefix="httpwg-peers-")
    if shutil.which("nginx"):
        port = free_port()
        os.makedirs(os.path.join(scratch, "tmp"), exist_ok=True)
        conf = os.path.join(scratch, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(scratch=scratch, port=port))
        results["nginx"] = against("nginx", ["nginx", "-p", scratch, "-c", conf], port, httpwg, args)
    else:
        say("httpwg: nginx is missing: no nginx column")
    if shutil.which("node"):
        port = free_port()
        results["node"] = against("node", ["node", "-e", NODE_SERVER, str(port)], port, httpwg, args)
    else:
        say("httpwg: node is missing: no node column")
    shutil.rmtree(scratch, ignore_errors=True)
    return results


# ---------------------------------------------------------------- report

def passed(verdicts):
    return sum(1 for v in verdicts.values() if v == "pass")


def short(case):
    return case.split(" :: ", 1)[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", choices=["run", "install"], default="run")
    ap.add_argument("--server-cmd", default=DEFAULT_SERVER, help="with {port}; default: %(default)s")
    ap.add_argument("--peers", action="store_true", help="also nginx and Node, side by side")
    ap.add_argument("--allow", nargs="*", default=[], help="more case names that may fail")
    ap.add_argument("--filter", help="only cases whose name contains this (httpwg -f)")
    ap.add_argument("--frame-timeout", type=int, default=1000, help="ms per awaited frame")
    ap.add_argument("--concurrent", action="store_true", help="all cases at once (httpwg's default)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds for one httpwg run")
    ap.add_argument("--outdir", default=os.path.join(TARGET, "httpwg"))
    args = ap.parse_args()

    httpwg = ensure_httpwg()
    if args.mode == "install":
        say(f"httpwg: {httpwg}")
        return 0
    os.makedirs(args.outdir, exist_ok=True)

    port = free_port()
    try:
        ours = against("nodelike", our_argv(args.server_cmd, port), port, httpwg, args)
    except RuntimeError as e:
        say(f"httpwg: {e}")
        return 2
    others = peers(httpwg, args) if args.peers else {}

    allowed = dict(ALLOWED)
    allowed.update({name: "--allow" for name in args.allow})
    failing = sorted(c for c, v in ours.items() if v != "pass")
    print(f"httpwg {HTTPWG_VERSION}: nodelike passed {passed(ours)}/{len(ours)}")
    for name, verdicts in others.items():
        print(f"httpwg {HTTPWG_VERSION}: {name} passed {passed(verdicts)}/{len(verdicts)}")
    if others:
        names = ["nodelike"] + list(others)
        cases = sorted(set(ours).union(*[set(v) for v in others.values()]))
        differ = [c for c in cases
                  if len({(ours.get(c) == "pass")} | {(v.get(c) == "pass") for v in others.values()}) > 1]
        if differ:
            width = max(len(short(c)) for c in differ)
            print(f"\n{'case (where they differ)':<{width}}  " + "  ".join(f"{n:>8}" for n in names))
            for c in differ:
                cells = [ours.get(c, "-")] + [v.get(c, "-") for v in others.values()]
                print(f"{short(c):<{width}}  " + "  ".join(f"{x:>8}" for x in cells))
    for c in failing:
        note = f"  (allowed: {allowed[c]})" if c in allowed else ""
        print(f"not passed: {c}: {ours[c]}{note}")
    unexpected = [c for c in failing if c not in allowed]
    if not args.filter and len(ours) < EXPECTED_CASES:
        print(f"httpwg: only {len(ours)} of {EXPECTED_CASES} cases ran (see {args.outdir}/nodelike-httpwg.log)")
        return 1
    if unexpected:
        print(f"httpwg: FAILED: {len(unexpected)} case(s) outside the allow-list; logs in {args.outdir}")
        return 1
    print("httpwg: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

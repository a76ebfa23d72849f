#!/usr/bin/env python3
"""Autobahn|Testsuite (wstest) against a WebSocket server or client.

    python3 benches/autobahn/run.py server [--server-cmd CMD] [--ci | --cases 1.* 2.*] [--exclude ...]
                                           [--strict] [--allow 6.4.* ...] [--agent NAME]
    python3 benches/autobahn/run.py client [--client-cmd CMD] [same selection and checks]
    python3 benches/autobahn/run.py install          # only make sure wstest is installed

server: starts CMD (default `target/release/examples/ws_echo {port}`, built
    with cargo when that is the command and it is missing) on a free loopback
    port, waits until it accepts, and runs `wstest -m fuzzingclient` against
    ws://127.0.0.1:{port} with a spec made from benches/autobahn/fuzzingclient.json.
    E.g. --server-cmd 'node benches/node-ws-echo.js {port}'.
client: runs `wstest -m fuzzingserver` on a free loopback port (spec from
    benches/autobahn/fuzzingserver.json), then CMD (default
    `target/release/examples/ws_autobahn_client {url} {agent}`), which must run every
    case (GET /getCaseCount, /runCase?case=N&agent=A, /updateReports?agent=A)
    and exit. E.g. --client-cmd 'node benches/autobahn/node-client.js {url} {agent}'.

Cases: every case by default (`*`); --cases takes wstest's patterns; --ci is
the preset the tests and CI run: sections 1 to 10 (there is no 8 or 11) and
one case of each 12.x and 13.x group (12.N.1 and 13.N.1: 1000 compressed
messages of 16 bytes; wstest's own Python compression makes the bigger ones
take a minute each). --exclude removes cases.

It prints the count of each behavior (OK, NON-STRICT, INFORMATIONAL,
UNIMPLEMENTED, FAILED) per section and in total, then every case that is not
OK with its behavior and its closing behavior, and leaves wstest's reports
(index.html, index.json, one file per case) and its log under
target/autobahn/<server|client>/. It exits 1 when a case FAILED (its behavior,
or its closing behavior is FAILED or UNCLEAN), or the run did not finish;
with --strict, also when a case is anything but OK and not matched by an
--allow pattern (e.g. --allow 6.4.* 7.1.6). Exit 2: could not run at all.

wstest: Autobahn|Testsuite 0.8.2 runs on Python 2.7. When the Python 2.7
found ($NODELIKE_PYTHON2, else pyenv's ~/.pyenv/versions/2.7.*, else
python2.7 on the PATH) cannot import it, this script installs it there with
`python2.7 -m pip install -r benches/autobahn/requirements-py27.txt` (every
dependency pinned to a set that installs and runs on 2.7, from PyPI; no
compiler needed), which also puts a `wstest` command beside that python.
wstest is run through benches/autobahn/wstest_loopback.py so that its
fuzzingserver listens on 127.0.0.1 only; its web UI is off.

Everything it starts (the server or client command, wstest) runs in its own
process group, which is killed when the run ends, fails or is interrupted.
"""
import argparse
import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from benchlib import Proc, free_port, say, wait_listening  # noqa: E402

TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
REQUIREMENTS = os.path.join(HERE, "requirements-py27.txt")
BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
CI_CASES = ([f"{s}.*" for s in (1, 2, 3, 4, 5, 6, 7, 9, 10)]
            + [f"12.{g}.1" for g in range(1, 6)] + [f"13.{g}.1" for g in range(1, 8)])
DEFAULT_SERVER = "target/release/examples/ws_echo {port}"
DEFAULT_CLIENT = "target/release/examples/ws_autobahn_client {url} {agent}"


# ---------------------------------------------------------------- wstest

def python2_candidates():
    if os.environ.get("NODELIKE_PYTHON2"):
        return [os.environ["NODELIKE_PYTHON2"]]
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv")]
    found = []
    for root in roots:
        if root:
            found += sorted(glob.glob(os.path.join(root, "versions", "2.7*", "bin", "python")), reverse=True)
    for name in ("python2.7", "python2"):
        path = shutil.which(name)
        if path:
            found.append(path)
    return list(dict.fromkeys(found))


def has_wstest(py):
    if not os.access(py, os.X_OK):
        return False
    r = subprocess.run([py, "-W", "ignore", "-c", "import autobahntestsuite, autobahn; print(autobahntestsuite.version)"],
                       capture_output=True, text=True)
    return r.returncode == 0


def ensure_wstest():
    """Returns the Python 2.7 that imports autobahntestsuite, installing it
    (pinned, from PyPI) into the first Python 2.7 found when none does."""
    candidates = python2_candidates()
    for py in candidates:
        if has_wstest(py):
            return py
    if not candidates:
        raise SystemExit("autobahn: no Python 2.7 found (wstest needs one): looked for ~/.pyenv/versions/2.7*/bin/python, "
                         "python2.7 and python2 on the PATH; set NODELIKE_PYTHON2 to one")
    py = candidates[0]
    if not os.access(py, os.X_OK):
        raise SystemExit(f"autobahn: {py} is not an executable Python 2.7")
    say(f"autobahn: installing Autobahn|Testsuite (wstest) into {py}: "
        f"{py} -m pip install -r {os.path.relpath(REQUIREMENTS, ROOT)} (pinned, from PyPI)")
    env = dict(os.environ, PIP_NO_PYTHON_VERSION_WARNING="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-warn-script-location", "-r", REQUIREMENTS],
                       env=env)
    if r.returncode != 0 or not has_wstest(py):
        raise SystemExit(f"autobahn: installing wstest into {py} failed (pip exit {r.returncode})")
    say(f"autobahn: wstest installed ({os.path.join(os.path.dirname(py), 'wstest')})")
    return py


# ---------------------------------------------------------------- processes

def command(template, **fields):
    argv = shlex.split(template)
    return [a.format(**fields) for a in argv]


def default_binary(argv, example):
    """The default command's example, from $CARGO_TARGET_DIR (else target/),
    built in release mode when missing."""
    exe = os.path.join(TARGET, "release", "examples", example)
    if not os.path.exists(exe):
        say(f"autobahn: {exe} is missing: cargo build --release --example {example}")
        r = subprocess.run(["cargo", "build", "--release", "--quiet", "--example", example], cwd=ROOT)
        if r.returncode != 0 or not os.path.exists(exe):
            raise SystemExit(f"autobahn: could not build examples/{example}")
    argv[0] = exe


# ---------------------------------------------------------------- specs

def make_spec(template, outdir, url, agent, cases, exclude):
    with open(os.path.join(HERE, template)) as f:
        spec = json.load(f)
    fill = {"@OUTDIR@": outdir, "@URL@": url, "@AGENT@": agent, "@CASES@": cases, "@EXCLUDE@": exclude}

    def walk(v):
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return fill.get(v, v) if isinstance(v, str) else v

    spec = walk(spec)
    spec.pop("comment", None)
    path = os.path.join(outdir, "spec.json")
    with open(path, "w") as f:
        json.dump(spec, f, indent=2)
    return path


# ---------------------------------------------------------------- results

def case_key(case_id):
    return tuple(int(x) if x.isdigit() else x for x in case_id.split("."))


def read_results(outdir):
    path = os.path.join(outdir, "index.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        data = json.load(f)
    return data


def is_failed(r):
    return r["behavior"] == "FAILED" or r["behaviorClose"] in ("FAILED", "UNCLEAN")


def report(results, allow, strict, expected_cases):
    """Prints the tables; returns the list of problems (empty when it passed)."""
    sections = {}
    for case_id, r in results.items():
        s = sections.setdefault(int(case_id.split(".")[0]), {b: 0 for b in BEHAVIORS})
        s[r["behavior"] if r["behavior"] in BEHAVIORS else "FAILED"] += 1
    total = {b: sum(s[b] for s in sections.values()) for b in BEHAVIORS}
    head = f"{'section':<9}" + "".join(f"{b:>15}" for b in BEHAVIORS) + f"{'total':>8}"
    print(head)
    for sec in sorted(sections):
        s = sections[sec]
        print(f"{sec:<9}" + "".join(f"{s[b]:>15}" for b in BEHAVIORS) + f"{sum(s.values()):>8}")
    print(f"{'total':<9}" + "".join(f"{total[b]:>15}" for b in BEHAVIORS) + f"{sum(total.values()):>8}")

    problems = []
    odd = [c for c in results if results[c]["behavior"] != "OK"
           or results[c]["behaviorClose"] not in ("OK", "INFORMATIONAL")]
    if odd:
        print("\ncases that are not OK (behavior / closing behavior / close code / allowed):")
    for c in sorted(odd, key=case_key):
        r = results[c]
        allowed = any(fnmatch.fnmatchcase(c, p) for p in allow)
        bad = is_failed(r) or (strict and not allowed)
        mark = "allowed" if allowed else ("" if not bad else "NOT ALLOWED")
        print(f"  {c:<10}{r['behavior']:<15}{r['behaviorClose']:<18}{str(r.get('remoteCloseCode')):<7}{mark}")
        if bad:
            problems.append(f"{c}: {r['behavior']} (close: {r['behaviorClose']})")
    if expected_cases is not None and len(results) < expected_cases:
        problems.append(f"only {len(results)} of {expected_cases} cases have a result")
    return problems


def case_count(log_path):
    """The number of cases wstest said it would run (from its log)."""
    try:
        with open(log_path, errors="replace") as f:
            m = re.search(r"will run (\d+) test cases", f.read())
        return int(m.group(1)) if m else None
    except OSError:
        return None


# ---------------------------------------------------------------- modes

def run_server_mode(a, py, outdir, cases, exclude):
    port = free_port()
    argv = command(a.server_cmd, port=port)
    if a.server_cmd == DEFAULT_SERVER:
        default_binary(argv, "ws_echo")
    if a.agent:
        agent = a.agent
    elif os.path.basename(argv[0]) in ("node", "python3", "python") and len(argv) > 1:
        script = next((x for x in argv[1:] if not x.startswith("-")), argv[1])
        agent = os.path.basename(script).rsplit(".", 1)[0]
    else:
        agent = os.path.basename(argv[0])
    url = f"ws://127.0.0.1:{port}"
    spec = make_spec("fuzzingclient.json", outdir, url, agent, cases, exclude)
    say(f"autobahn: server {' '.join(argv)} ({url}), wstest -m fuzzingclient -s {os.path.relpath(spec, ROOT)}")
    started = []
    try:
        server = Proc(argv, os.path.join(outdir, "server.log"), "the server", cwd=ROOT)
        started.append(server)
        wait_listening(server, port, server.what, secs=30)
        wstest = Proc([py, os.path.join(HERE, "wstest_loopback.py"), "-m", "fuzzingclient", "-s", spec],
                      os.path.join(outdir, "wstest.log"), "wstest", cwd=ROOT)
        started.append(wstest)
        deadline = time.time() + a.timeout
        while wstest.p.poll() is None:
            if server.p.poll() is not None:
                return f"the server exited during the run (exit {server.p.returncode}); see {outdir}/server.log"
            if time.time() > deadline:
                return f"wstest did not finish within {a.timeout} s; see {outdir}/wstest.log"
            time.sleep(0.2)
        if wstest.p.returncode != 0:
            return f"wstest exited {wstest.p.returncode}; see {outdir}/wstest.log"
        return None
    finally:
        for p in reversed(started):
            p.stop()


def run_client_mode(a, py, outdir, cases, exclude):
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    argv = command(a.client_cmd, url=url, port=port, agent=a.agent or "nodelike")
    if a.client_cmd == DEFAULT_CLIENT:
        default_binary(argv, "ws_autobahn_client")
    spec = make_spec("fuzzingserver.json", outdir, url, "-", cases, exclude)
    say(f"autobahn: wstest -m fuzzingserver -s {os.path.relpath(spec, ROOT)} ({url}), client {' '.join(argv)}")
    started = []
    try:
        wstest = Proc([py, os.path.join(HERE, "wstest_loopback.py"), "-m", "fuzzingserver", "-s", spec,
                       "--webport", "0"], os.path.join(outdir, "wstest.log"), "wstest", cwd=ROOT)
        started.append(wstest)
        wait_listening(wstest, port, wstest.what, secs=30)
        client = Proc(argv, os.path.join(outdir, "client.log"), "the client", cwd=ROOT)
        started.append(client)
        try:
            client.p.wait(a.timeout)
        except subprocess.TimeoutExpired:
            return f"the client did not finish within {a.timeout} s; see {outdir}/client.log"
        if client.p.returncode != 0:
            return f"the client exited {client.p.returncode}; see {outdir}/client.log"
        if not os.path.exists(os.path.join(outdir, "index.json")):
            return f"the client finished but no report was written (did it call /updateReports?); see {outdir}/client.log"
        return None
    finally:
        for p in reversed(started):
            p.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["server", "client", "install"])
    ap.add_argument("--server-cmd", default=DEFAULT_SERVER, help="server mode: the server, {port} filled in")
    ap.add_argument("--client-cmd", default=DEFAULT_CLIENT,
                    help="client mode: the client, {url}, {port} and {agent} filled in")
    ap.add_argument("--cases", nargs="+", default=None, help="wstest case patterns (default: *)")
    ap.add_argument("--ci", action="store_true", help="the CI preset: sections 1-10, one case of each 12.x/13.x group")
    ap.add_argument("--exclude", nargs="+", default=[], help="case patterns to leave out")
    ap.add_argument("--allow", nargs="+", default=[], help="case patterns allowed to be non-OK with --strict")
    ap.add_argument("--strict", action="store_true", help="fail on any non-OK case not matched by --allow")
    ap.add_argument("--agent", default=None, help="the agent name in the reports (client mode: {agent} in the "
                    "client command, which passes it on; default nodelike)")
    ap.add_argument("--outdir", default=None, help="reports folder (default target/autobahn/<mode>)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds for the whole run (default 1800)")
    a = ap.parse_args()

    py = ensure_wstest()
    if a.mode == "install":
        print(f"wstest: {os.path.join(os.path.dirname(py), 'wstest')} (Autobahn|Testsuite, in {py})")
        return 0
    if a.ci and a.cases:
        ap.error("--ci and --cases are exclusive")
    cases = CI_CASES if a.ci else (a.cases or ["*"])
    outdir = os.path.abspath(a.outdir or os.path.join(ROOT, "target", "autobahn", a.mode))
    if os.path.isdir(outdir):
        shutil.rmtree(outdir)
    os.makedirs(outdir)

    started = time.time()
    # SIGTERM (e.g. a test harness) unwinds like Ctrl-C, through the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        runner = run_server_mode if a.mode == "server" else run_client_mode
        error = runner(a, py, outdir, cases, a.exclude)
    except RuntimeError as e:
        error = str(e)
    except KeyboardInterrupt:
        say("autobahn: interrupted")
        return 130
    results_by_agent = read_results(outdir)
    if not results_by_agent:
        say(f"autobahn: no results: {error or 'wstest wrote no index.json'}")
        log = os.path.join(outdir, "wstest.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                say("".join(f.readlines()[-15:]))
        return 2
    status = 0
    for agent, results in sorted(results_by_agent.items()):
        print(f"\nAutobahn|Testsuite, {a.mode} mode, agent {agent}: {len(results)} cases "
              f"({' '.join(cases)}{' minus ' + ' '.join(a.exclude) if a.exclude else ''}), "
              f"{time.time() - started:.0f} s")
        problems = report(results, a.allow, a.strict, case_count(os.path.join(outdir, "wstest.log")))
        if problems:
            status = 1
            print(f"\nFAILED: {len(problems)} case(s): " + "; ".join(problems))
    if error:
        print(f"\nFAILED: {error}")
        status = 1
    print(f"\nreports: {os.path.relpath(os.path.join(outdir, 'index.html'), os.getcwd())}")
    if status == 0:
        print("autobahn: passed")
    return status


if __name__ == "__main__":
    sys.exit(main())

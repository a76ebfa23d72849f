"""Helpers shared by the benchmark scripts in this folder: ports, processes
(pinned servers, process groups), /proc readings, tools installed on demand,
and a throwaway certificate."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time


def say(msg):
    """Progress on stderr (the table goes to stdout)."""
    print(msg, file=sys.stderr, flush=True)


def ensure(program, package):
    """Installs Debian's `package` when `program` is not on the PATH."""
    if shutil.which(program):
        return
    say(f"{program} is missing: installing {package} (apt-get update && apt-get install -y {package})")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)


def ensure_wrk():
    ensure("wrk", "wrk")


def pinned(cpu, argv):
    """`argv` run on CPU `cpu` alone (taskset), when there is more than one:
    the server under test gets one core and the load generator the other,
    so neither steals the other's time."""
    if (os.cpu_count() or 1) > 1 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)] + argv
    return argv


def stop(proc, grace=5):
    """SIGTERM, then SIGKILL if `proc` has not exited within `grace` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PinnedServer:
    """A server under test on a free port, pinned to CPU 1, as a context
    manager. `argv` is a list in which `{port}` is replaced, or a function
    of the port that returns the list."""

    def __init__(self, name, argv, cwd=None):
        self.name, self.argv, self.cwd = name, argv, cwd

    def __enter__(self):
        self.port = free_port()
        if callable(self.argv):
            argv = self.argv(self.port)
        else:
            argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        self.proc = subprocess.Popen(pinned(1, argv), cwd=self.cwd,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(self.proc, self.port, self.name)
        return self

    def __exit__(self, *exc):
        stop(self.proc)

    def cpu_secs(self):
        return cpu_secs(self.proc.pid)


class Proc:
    """A child in its own process group, its output in `log_path`; stop()
    kills the whole group (a peer's own children go with it)."""

    def __init__(self, argv, log_path, what, cwd=None):
        self.what = what
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(argv, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)

    def stop(self):
        if self.p.poll() is None:
            for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.p.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.p.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    pass
        else:
            # The leader is gone; anything it left in its group goes too.
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.log.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc, port, what="the server", secs=20):
    """Waits until something accepts on `port`; fails if `proc` (a Popen or
    a Proc) exits first."""
    proc = getattr(proc, "p", proc)
    deadline = time.time() + secs
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early (exit {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} never listened")


def cpu_secs(pid):
    """User + system CPU time of process `pid` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def make_cert(directory):
    """A fresh P-256 self-signed pair for localhost/127.0.0.1 (openssl);
    returns (cert path, key path)."""
    if not shutil.which("openssl"):
        sys.exit("openssl is missing: it makes the HTTPS certificate (apt-get install -y openssl)")
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def rss_per_connection(argv, port, open_one, conns, answered=None):
    """Starts `argv` (a server listening on `port`), opens one warm-up
    connection and then `conns` more with `open_one(port)`, waits for each
    with `answered(sock)` when given, and returns the growth of the
    server's resident memory per connection, in KiB. The warm-up comes
    first so that lazily built state (configs, caches) is not counted per
    connection."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socks = []
    try:
        wait_listening(proc, port, argv[0])
        warm = open_one(port)
        if answered:
            answered(warm)
        time.sleep(0.3)
        before = rss_kib(proc.pid)
        for i in range(conns):
            socks.append(open_one(port))
            if (i + 1) % 500 == 0:
                say(f"  {i + 1}/{conns} connections")
        if answered:
            for s in socks:
                answered(s)
        time.sleep(0.5)
        after = rss_kib(proc.pid)
        warm.close()
    finally:
        for s in socks:
            s.close()
        stop(proc)
    return (after - before) / conns

#!/usr/bin/env python3
"""Issue 19, finding 2: can slow readers freeze the proxy's agent?

examples/proxy in front of examples/file_server; N clients fetch a 10 MiB file
through the proxy and never read; then 20 probes of a small file, one after
another, each timed. Usage: benches/frozen_agent.py N (after cargo build
--release --examples). Prints the median and the worst probe latency."""
import socket, subprocess, sys, time, os
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
proxy_bin = os.path.join(root, "target/release/examples/proxy")
fs_bin = os.path.join(root, "target/release/examples/file_server")
n_slow = int(sys.argv[1]) if len(sys.argv) > 1 else 5
import tempfile
www = tempfile.mkdtemp()
with open(os.path.join(www, "big.bin"), "wb") as f:
    f.write(os.urandom(10 * 1024 * 1024))
with open(os.path.join(www, "small.txt"), "w") as f:
    f.write("small\n")
def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    port = int(line.strip().rstrip('/').rsplit(':', 1)[1])
    return p, port
fs, fport = start([fs_bin, "0", www])
px, pport = start([proxy_bin, "0", f"http://127.0.0.1:{fport}"])
slow = []
for _ in range(n_slow):
    s = socket.create_connection(("127.0.0.1", pport))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    slow.append(s)
time.sleep(1)
lat = []
for _ in range(20):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", pport)); s.settimeout(30)
    s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            data += d
    except socket.timeout:
        data = b"TIMEOUT"
    lat.append((time.perf_counter() - t0) * 1000)
    s.close()
    assert b"200 OK" in data, data[:100]
lat.sort()
print(f"{n_slow} slow readers: probe median {lat[len(lat)//2]:.2f} ms, max {lat[-1]:.2f} ms")
for s in slow: s.close()
px.kill(); fs.kill()

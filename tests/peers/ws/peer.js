// A WebSocket peer built on the npm `ws` package, driven by a plan: the
// other side of tests/ws_interop.rs. It prints every event it sees, one per
// line, in order, so that the test can assert what a user of `ws` observes.
//
//   node peer.js server OPTIONS PLAN       first line: the port it listens on
//   node peer.js client URL OPTIONS PLAN
//
// OPTIONS (JSON): { "perMessageDeflate": bool or ws's options object,
//   "protocols": [..] (client),
//   "headers": {name: value} (client),
//   "maxPayload": n, "handleProtocols": "first" | "none" | "bogus" (server:
//   the client's first, none, or one it did not offer),
//   "serveAll": true (server: echo every connection, print nothing more,
//   run until killed; the plan is ignored) }
// PLAN (JSON): steps run in order on the (first) connection:
//   {"send": "text"} | {"send": {"hex": ".."}} | {"send": {"text": N}} |
//   {"send": {"binary": N}}, each with optional "fin": false, "compress": b
//   {"sendMany": {"prefix": "m", "count": N}} (texts m0, m1, ... at once)
//   {"ping": "hex"} {"pong": "hex"} {"close": [code, "reason"]} {"close": []}
//   {"terminate": true} {"echo": true} (echo every message from now on)
//   {"wait": "message" | "ping" | "pong", "count": N} (totals so far)
// Events: "open protocol=P extensions=E" (client), "connection protocol=P
//   extensions=E path=/x" (server), "message text|binary LEN CONTENT",
//   "ping HEX", "pong HEX", "close CODE REASON", "error MESSAGE",
//   "unexpected-response STATUS".
// CONTENT: a message of up to 64 bytes is shown (text as JSON, binary as
// hex); a longer one is "pattern" when it is what {"send": {"text"|"binary":
// N}} sends (text 'a'+i%26, byte i%251), "other" if not.
// The process exits once its connection has closed.
'use strict';
const WebSocket = require('ws');

const [mode, ...rest] = process.argv.slice(2);
const out = (line) => process.stdout.write(line + '\n');

function textPattern(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = 97 + (i % 26);
  return b.toString('latin1');
}
function binaryPattern(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}
function describe(data, isBinary) {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  const kind = isBinary ? 'binary' : 'text';
  if (buf.length <= 64) {
    return `message ${kind} ${buf.length} ${isBinary ? buf.toString('hex') : JSON.stringify(buf.toString('utf8'))}`;
  }
  const want = isBinary ? binaryPattern(buf.length) : Buffer.from(textPattern(buf.length), 'latin1');
  return `message ${kind} ${buf.length} ${buf.equals(want) ? 'pattern' : 'other'}`;
}

function drive(ws, plan) {
  const counts = { message: 0, ping: 0, pong: 0 };
  const waiters = [];
  let echo = false;
  const bump = (what) => {
    counts[what]++;
    for (const w of waiters.splice(0)) {
      if (counts[w.what] >= w.count) w.resolve(); else waiters.push(w);
    }
  };
  let closed;
  const done = new Promise((r) => { closed = r; });
  ws.on('message', (data, isBinary) => {
    out(describe(data, isBinary));
    if (echo) ws.send(data, { binary: isBinary });
    bump('message');
  });
  ws.on('ping', (d) => { out(`ping ${d.toString('hex')}`); bump('ping'); });
  ws.on('pong', (d) => { out(`pong ${d.toString('hex')}`); bump('pong'); });
  ws.on('close', (code, reason) => { out(`close ${code} ${reason.toString()}`); closed(); });
  (async () => {
    for (const step of plan) {
      if ('send' in step) {
        let data = step.send;
        let binary = false;
        if (typeof data === 'object') {
          if ('hex' in data) { data = Buffer.from(data.hex, 'hex'); binary = true; }
          else if ('binary' in data) { data = binaryPattern(data.binary); binary = true; }
          else data = textPattern(data.text);
        }
        const opts = { binary, fin: step.fin !== false };
        if ('compress' in step) opts.compress = step.compress;
        ws.send(data, opts);
      } else if ('sendMany' in step) {
        for (let i = 0; i < step.sendMany.count; i++) ws.send(`${step.sendMany.prefix}${i}`);
      } else if ('ping' in step) ws.ping(Buffer.from(step.ping, 'hex'));
      else if ('pong' in step) ws.pong(Buffer.from(step.pong, 'hex'));
      else if ('close' in step) ws.close(...step.close);
      else if ('terminate' in step) ws.terminate();
      else if ('echo' in step) echo = true;
      else if ('wait' in step) {
        if (counts[step.wait] < step.count) {
          await new Promise((resolve) => waiters.push({ what: step.wait, count: step.count, resolve }));
        }
      } else throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  })().catch((e) => { out(`error ${e.message}`); process.exit(2); });
  return done;
}

if (mode === 'server') {
  const options = JSON.parse(rest[0] || '{}');
  const plan = JSON.parse(rest[1] || '[]');
  const serverOptions = {
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: typeof options.perMessageDeflate === 'object' ? options.perMessageDeflate : !!options.perMessageDeflate,
  };
  if (options.maxPayload) serverOptions.maxPayload = options.maxPayload;
  if (options.handleProtocols === 'first') serverOptions.handleProtocols = (protocols) => protocols.values().next().value;
  if (options.handleProtocols === 'none') serverOptions.handleProtocols = () => false;
  if (options.handleProtocols === 'bogus') serverOptions.handleProtocols = () => 'bogus';
  const wss = new WebSocket.Server(serverOptions, () => out(String(wss.address().port)));
  if (options.serveAll) {
    // Every connection echoes; nothing printed; runs until killed.
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    return;
  }
  wss.once('connection', (ws, req) => {
    out(`connection protocol=${ws.protocol} extensions=${ws.extensions} path=${req.url}`);
    ws.on('error', (e) => out(`error ${e.message}`));
    drive(ws, plan).then(() => { wss.close(); process.exit(0); });
  });
} else if (mode === 'client') {
  const url = rest[0];
  const options = JSON.parse(rest[1] || '{}');
  const plan = JSON.parse(rest[2] || '[]');
  const ws = new WebSocket(url, options.protocols || [], {
    perMessageDeflate: typeof options.perMessageDeflate === 'object' ? options.perMessageDeflate : options.perMessageDeflate !== false,
    maxPayload: options.maxPayload || 100 * 1024 * 1024,
    headers: options.headers || {},
  });
  ws.on('unexpected-response', (req, res) => {
    out(`unexpected-response ${res.statusCode}`);
    process.exit(0);
  });
  let opened = false;
  ws.on('open', () => {
    opened = true;
    out(`open protocol=${ws.protocol} extensions=${ws.extensions}`);
  });
  ws.on('error', (e) => out(`error ${e.message}`));
  // The plan starts once open (`send` before `open` throws in ws).
  ws.once('open', () => drive(ws, plan).then(() => process.exit(0)));
  ws.once('close', (code, reason) => {
    if (!opened) { out(`close ${code} ${reason.toString()}`); process.exit(0); }
  });
} else {
  console.error('usage: node peer.js server OPTIONS PLAN | client URL OPTIONS PLAN');
  process.exit(2);
}

// Node's http2 client observing nodelike's server being closed, and
// talking to a cluster of its loops (tests/h2_ops.rs).
// Usage: node ops.js URL inflight|stuck|session
//        node ops.js URL many SESSIONS STREAMS [CA_PEM_FILE]
// Prints what it observes, one event per line; the Rust test asserts them.
'use strict';
const http2 = require('http2');
const fs = require('fs');

const [url, scenario, ...rest] = process.argv.slice(2);
const say = (...a) => console.log(a.join(' '));

if (scenario === 'many') {
  // SESSIONS connections at once, STREAMS parallel streams on each: every
  // answer's body, a line each (`answer BODY`); exits non-zero on errors.
  const [sessions, streams, caFile] = rest;
  const options = caFile ? { ca: fs.readFileSync(caFile) } : {};
  for (let i = 0; i < Number(sessions); i++) {
    const session = http2.connect(url, options);
    session.on('error', (e) => { say('session-error', e.code || e.message); process.exit(3); });
    let left = Number(streams);
    for (let j = 0; j < Number(streams); j++) {
      const req = session.request({ ':path': `/hello/${i}/${j}` });
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('error', (e) => { say('stream-error', e.code); process.exit(4); });
      req.on('end', () => {
        say('answer', Buffer.concat(chunks).toString());
        if (--left === 0) session.close();
      });
    }
  }
  return;
}

// One stream on a session; every event it sees is printed with `tag`.
function stream(session, path, tag) {
  const req = session.request({ ':path': path });
  const chunks = [];
  req.on('response', (h) => say(tag, 'status', h[':status']));
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => say(tag, 'body', Buffer.concat(chunks).toString()));
  req.on('error', (e) => say(tag, 'error', e.code));
  req.on('close', () => say(tag, 'close', req.rstCode, Buffer.concat(chunks).length));
  return req;
}

const session = http2.connect(url);
session.on('error', (e) => say('session-error', e.code || e.message));
if (scenario === 'session') {
  // The server changes its settings (Node acknowledges them), then sends
  // a GOAWAY of its choosing while a stream is in flight.
  session.on('remoteSettings', (s) => say('remote-settings', s.maxConcurrentStreams, s.initialWindowSize));
  session.on('goaway', (code, last, data) => say('goaway', code, last, data.toString()));
  session.on('close', () => say('closed'));
  session.on('connect', () => {
    stream(session, '/settings', 'settings').on('end', () => {
      stream(session, '/goaway', 'goaway-stream').on('end', () => session.close());
    });
  });
  return;
}
session.on('goaway', (code, last) => {
  say('goaway', code, last);
  // The listener is closed by now: a new connection is refused.
  const again = http2.connect(url);
  again.on('error', (e) => say('second-session-error', e.code));
  again.on('connect', () => { say('second-session-connected'); again.destroy(); });
});
session.on('close', () => say('closed'));
session.on('connect', () => {
  if (scenario === 'inflight') {
    // The server closes while /slow is in flight; it still finishes.
    stream(session, '/slow', 'slow');
  } else if (scenario === 'stuck') {
    // The server closes with a grace while /stuck never finishes.
    stream(session, '/stuck', 'stuck');
  }
});

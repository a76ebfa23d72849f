// Node's own http2 client as a test peer for nodelike's HTTP/2 server.
// Usage: node client.js URL SCENARIO [CA_PEM_FILE]
// Prints what it observes, one event per line; the Rust test asserts them.
// Exits non-zero on any session or stream error it did not expect.
'use strict';
const http2 = require('http2');
const crypto = require('crypto');
const fs = require('fs');

const [url, scenario, caFile] = process.argv.slice(2);
const options = caFile ? { ca: fs.readFileSync(caFile) } : {};
const session = http2.connect(url, options);
const say = (...a) => console.log(a.join(' '));
session.on('error', (e) => { say('session-error', e.code || e.message); process.exit(3); });
session.on('goaway', (code, last) => say('goaway', code, last));
session.on('remoteSettings', (s) => {
  if (!global.settingsSeen) { global.settingsSeen = true; say('settings max_concurrent_streams', s.maxConcurrentStreams); }
});

function request(headers, body, cb) {
  const req = session.request(headers, { endStream: body === undefined });
  const chunks = [];
  let head;
  req.on('response', (h) => { head = h; });
  req.on('data', (c) => chunks.push(c));
  req.on('trailers', (t) => { head.__trailers = t; });
  req.on('end', () => cb(null, head, Buffer.concat(chunks), req));
  req.on('error', (e) => cb(e, head, Buffer.concat(chunks), req));
  if (body !== undefined) req.end(body);
  return req;
}

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex').slice(0, 16);

const scenarios = {
  // Parallel GETs on one connection: every answer, in order of path.
  parallel() {
    const n = 50; let left = n; const lines = [];
    for (let i = 0; i < n; i++) {
      request({ ':path': `/hello/${i}` }, undefined, (err, h, body) => {
        if (err) { say('stream-error', err.code); process.exit(4); }
        lines.push(`${i} ${h[':status']} ${body}`);
        if (--left === 0) {
          lines.sort((a, b) => parseInt(a) - parseInt(b)).forEach((l) => say('response', l));
          session.close();
        }
      });
    }
  },
  // What the handler saw of the request, as its body says.
  inspect() {
    request({ ':path': '/inspect?x=1', 'x-custom': 'yes', cookie: 'a=1' }, undefined, (err, h, body) => {
      if (err) { say('stream-error', err.code); process.exit(4); }
      say('status', h[':status']);
      say('content-type', h['content-type']);
      say('body', body.toString());
      session.close();
    });
  },
  // A large body up and back (the server pipes the request into the
  // response): flow control both ways.
  echo() {
    const body = crypto.randomBytes(4 * 1024 * 1024 + 7);
    request({ ':path': '/echo', ':method': 'POST' }, body, (err, h, back) => {
      if (err) { say('stream-error', err.code); process.exit(4); }
      say('echo', h[':status'], back.length, sha(back) === sha(body) ? 'same' : 'different');
      session.close();
    });
  },
  // A big response (16 MiB) read to the end.
  big() {
    request({ ':path': '/big' }, undefined, (err, h, body) => {
      if (err) { say('stream-error', err.code); process.exit(4); }
      say('big', h[':status'], body.length, h['content-length']);
      session.close();
    });
  },
  // Trailers after the body.
  trailers() {
    request({ ':path': '/trailers' }, undefined, (err, h, body) => {
      if (err) { say('stream-error', err.code); process.exit(4); }
      say('body', body.toString());
      say('trailer', h.__trailers && h.__trailers['x-checksum']);
      session.close();
    });
  },
  // The handler destroys the response: this stream is reset, a second one
  // on the same connection still works.
  reset() {
    request({ ':path': '/destroy' }, undefined, (err, h, body, req) => {
      say('first', err ? err.code : 'no-error', req.rstCode);
      request({ ':path': '/hello/after' }, undefined, (err2, h2, body2) => {
        say('second', err2 ? err2.code : h2[':status'], body2.toString());
        session.close();
      });
    });
  },
  // The client cancels a request whose body is still being sent.
  cancel() {
    const req = session.request({ ':path': '/slow-upload', ':method': 'POST' });
    req.write(Buffer.alloc(1000));
    req.on('response', () => {});
    req.on('error', () => {});
    setTimeout(() => { req.close(http2.constants.NGHTTP2_CANCEL); say('cancelled'); 
      setTimeout(() => { request({ ':path': '/hello/after' }, undefined, (e, h, b) => { say('after', h[':status']); session.close(); }); }, 50); }, 100);
  },
  // The server closes (GOAWAY) while this stream is in flight: the stream
  // still completes, then the connection closes.
  graceful() {
    request({ ':path': '/close-then-answer' }, undefined, (err, h, body) => {
      say('answer', err ? err.code : h[':status'], body.toString());
    });
  },
  // Expect: 100-continue: the body goes only after the server's 100.
  continue() {
    const req = session.request({ ':path': '/echo', ':method': 'POST', expect: '100-continue' });
    const chunks = [];
    req.on('continue', () => { say('continue'); req.end('the body'); });
    req.on('response', (h) => say('status', h[':status']));
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => { say('echo', Buffer.concat(chunks).toString()); session.close(); });
    req.on('error', (e) => { say('stream-error', e.code); process.exit(4); });
  },
  // HEAD and 304/204: no body.
  head() {
    request({ ':path': '/hello/h', ':method': 'HEAD' }, undefined, (err, h, body) => {
      say('head', h[':status'], body.length, h['content-length']);
      request({ ':path': '/no-content' }, undefined, (err2, h2, body2) => {
        say('no-content', h2[':status'], body2.length);
        session.close();
      });
    });
  },
};

session.on('connect', () => scenarios[scenario]());
session.on('close', () => say('closed'));

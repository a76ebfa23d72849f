// Node's own http2 server as a test peer for nodelike's HTTP/2 client.
// Usage: node server.js h2c
//        node server.js tls CERT_PEM KEY_PEM
// Prints "port N" once listening, then serves the routes below until its
// stdin closes. Exits non-zero on a session error it did not expect.
'use strict';
const http2 = require('http2');
const fs = require('fs');

const [mode, certFile, keyFile] = process.argv.slice(2);
const settings = { maxConcurrentStreams: 50 };
// `h1tls`: an HTTPS server speaking only HTTP/1.1 (ALPN offers no h2).
const server = mode === 'tls'
  ? http2.createSecureServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), settings })
  : mode === 'h1tls'
    ? require('https').createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) },
      (req, res) => res.end('http/1.1 only'))
    : http2.createServer({ settings });

const MIB = 1 << 20;
// FNV-1a, 32 bits, as hex: the test computes the same on its side.
const fnv = (b) => {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) { h ^= b[i]; h = Math.imul(h, 0x01000193) >>> 0; }
  return h.toString(16);
};
// Bytes /stall has handed to its stream so far (with back-pressure).
let stallWritten = 0;
// The first GOAWAY each session received from the client, as
// "code last-stream-id opaque-data", in order (served by /goaways).
const goaways = [];

server.on('session', (session) => {
  // Every SETTINGS the client sent, as its initial window size (served by
  // /remote-settings).
  session.seenWindows = [];
  session.on('remoteSettings', (s) => session.seenWindows.push(s.initialWindowSize));
  session.once('goaway', (code, last, data) => {
    goaways.push(`${code} ${last} ${data ? data.toString() : ''}`);
  });
  session.on('error', () => {});
});

// The body /big/N and /stall send: byte i is (i * 7 + 3) % 251.
const pattern = (n) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) % 251;
  return b;
};

// Writes `data` in 64 KiB pieces with back-pressure; `progress` hears each.
function writeBig(stream, data, progress) {
  const piece = 64 * 1024;
  let at = 0;
  const pump = () => {
    while (at < data.length) {
      const chunk = data.subarray(at, Math.min(at + piece, data.length));
      at += chunk.length;
      if (progress) progress(chunk.length);
      if (at === data.length) { stream.end(chunk); return; }
      if (!stream.write(chunk)) { stream.once('drain', pump); return; }
    }
    stream.end();
  };
  pump();
}

server.on('stream', (stream, headers) => {
  const path = headers[':path'];
  stream.on('error', () => {});
  if (path.startsWith('/hello/')) {
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-method': headers[':method'] });
    stream.end(`hello ${path.slice(7)}`);
  } else if (path === '/inspect') {
    stream.respond({ ':status': 200 });
    stream.end(`${headers[':method']} ${headers[':scheme']} ${headers[':authority']} ${headers['x-custom']}`);
  } else if (path === '/upload') {
    // Reads the whole body, answers with its length and digest, and the
    // request's trailers if any.
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      stream.respond({ ':status': 200 });
      stream.end(`${body.length} ${fnv(body)} ${stream.__trailer || '-'}`);
    });
    stream.on('trailers', (t) => { stream.__trailer = t['x-checksum']; });
  } else if (path === '/echo') {
    stream.respond({ ':status': 200 });
    stream.pipe(stream);
  } else if (path.startsWith('/big/')) {
    const data = pattern(Number(path.slice(5)));
    stream.respond({ ':status': 200, 'x-fnv': fnv(data) });
    writeBig(stream, data);
  } else if (path === '/stall') {
    stallWritten = 0;
    stream.respond({ ':status': 200 });
    writeBig(stream, pattern(4 * MIB), (n) => { stallWritten += n; });
  } else if (path === '/stall-progress') {
    stream.respond({ ':status': 200 });
    stream.end(String(stallWritten));
  } else if (path === '/trailers') {
    stream.respond({ ':status': 200 }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': '900150983cd24fb0' }));
    stream.end('abc');
  } else if (path === '/rst') {
    stream.respond({ ':status': 200 });
    // Closed with the write still queued: RST_STREAM without END_STREAM
    // (closing from the write's callback would end the stream first).
    stream.write('partial');
    stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  } else if (path === '/goaway') {
    stream.respond({ ':status': 200 });
    stream.end('bye', () => stream.session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id, Buffer.from('maintenance')));
  } else if (path === '/remote-settings') {
    // The client's settings as Node has them now, and each SETTINGS seen.
    const rs = stream.session.remoteSettings;
    stream.respond({ ':status': 200 });
    stream.end(`${rs.initialWindowSize} ${rs.maxConcurrentStreams} seen=${stream.session.seenWindows.join(',')}`);
  } else if (path === '/goaways') {
    stream.respond({ ':status': 200 });
    stream.end(goaways.join(';'));
  } else if (path === '/early-hints') {
    // A 103 informational head, then the response.
    stream.additionalHeaders({ ':status': 103, link: '</style.css>; rel=preload' });
    stream.respond({ ':status': 200 });
    stream.end('hinted');
  } else if (path.startsWith('/drip/')) {
    // N one-byte DATA frames, 50 ms apart: a stream that is never idle
    // for long.
    let left = Number(path.slice(6));
    stream.respond({ ':status': 200 });
    const timer = setInterval(() => {
      if (stream.destroyed) { clearInterval(timer); return; }
      left -= 1;
      if (left > 0) { stream.write('.'); } else { clearInterval(timer); stream.end('.'); }
    }, 50);
  } else if (path === '/hang') {
    // Never answered: only a GOAWAY, a reset or the client ends it.
  } else {
    stream.respond({ ':status': 404 });
    stream.end('not found');
  }
});

server.on('sessionError', (e) => { console.error('session-error', e.code || e.message); });
server.listen(0, '127.0.0.1', () => {
  console.log(`port ${server.address().port}`);
});
// The test closes our stdin when it is done (or dies): then we go.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));

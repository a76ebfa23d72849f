// Node's http2 client as the judge of what nodelike's compatibility API puts
// on the wire. Usage: node compat_get.js URL METHOD PATH...
// One request per PATH (in parallel, on one session); for each, one line of
// JSON in PATH order: the status, the response's regular fields, whether
// the HEADERS frame ended the stream, the body, the trailers, and the stream
// error code if there was one.
'use strict';
const http2 = require('http2');

const [url, method, ...paths] = process.argv.slice(2);
const session = http2.connect(url);
session.on('error', (e) => { console.log(JSON.stringify({ sessionError: e.code || e.message })); process.exit(3); });

const results = new Array(paths.length);
let left = paths.length;
paths.forEach((path, i) => {
  const req = session.request({ ':method': method, ':path': path });
  const out = { path, status: null, headers: {}, endStreamOnHead: null, body: '', trailers: null, error: null };
  req.setEncoding('utf8');
  req.on('response', (h, flags) => {
    out.status = h[':status'];
    out.endStreamOnHead = (flags & 1) === 1;
    for (const [n, v] of Object.entries(h)) if (!n.startsWith(':') && n !== 'date') out.headers[n] = v;
  });
  req.on('data', (c) => { out.body += c; });
  req.on('trailers', (t) => { out.trailers = t; });
  req.on('error', (e) => { out.error = e.code; });
  req.on('close', () => {
    results[i] = out;
    if (--left === 0) {
      for (const r of results) console.log(JSON.stringify(r));
      session.close();
    }
  });
});

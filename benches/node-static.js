// Node's static file server as its users write it: stat, then
// fs.createReadStream(path).pipe(res). For benches/static_vs_nginx.py.
// Usage: node benches/node-static.js PORT DIR
const http = require('http');
const fs = require('fs');
const path = require('path');

const [port, dir] = process.argv.slice(2);
http.createServer((req, res) => {
  const name = path.normalize(decodeURIComponent(req.url.split('?')[0]));
  if (name.includes('..')) { res.writeHead(403); res.end(); return; }
  const file = path.join(dir, name);
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Length': st.size, 'Content-Type': 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
}).listen(+port, '127.0.0.1');

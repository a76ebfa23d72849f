// Node's own http module serving the same hello world as examples/hello.rs.
// Usage: node node-hello.js PORT
const http = require('http');
const port = Number(process.argv[2] || 8080);
http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('Hello, World!');
}).listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/`));

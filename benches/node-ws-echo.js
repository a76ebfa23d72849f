// Node + ws echo server, the peer of examples/ws_echo: echoes every message
// with its type, answers a close with the same code (ws does), prints its
// port once listening and nothing per message.
//
//   node benches/node-ws-echo.js [PORT] [--no-deflate]
//
// permessage-deflate is on by default (so Autobahn's sections 12 and 13 are
// negotiated, as with ws_echo); --no-deflate turns it off (the load
// comparison in benches/ws_vs_node.py). `ws` comes from target/node-peers
// (benches/node-peers/install.sh).
'use strict';
const WebSocket = require('./node-peers/load-ws')();

const args = process.argv.slice(2);
const deflate = !args.includes('--no-deflate');
const port = Number(args.find((a) => /^\d+$/.test(a)) || 8080);

const wss = new WebSocket.WebSocketServer({
  port,
  host: '127.0.0.1',
  perMessageDeflate: deflate,
  maxPayload: 100 * 1024 * 1024,
  // ws 8.23's server defaults cap a message at 16384 fragments and 262144
  // buffered chunks (1008 beyond): Autobahn's 9.3.1-9.4.2 send 4 MiB in
  // 64-256 byte frames and would fail by design. Off, as in ws's client.
  maxFragments: 0,
  maxBufferedChunks: 0,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(wss.address().port));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));

// The Node + ws client against `wstest -m fuzzingserver`: the reference
// run for benches/autobahn/run.py's client mode (the same steps as
// examples/ws_autobahn_client.rs).
//
//   node benches/autobahn/node-client.js [URL] [AGENT]   (ws://127.0.0.1:9001, node-ws)
//
// GET /getCaseCount, then for each case /runCase?case=N&agent=AGENT echoing
// every message back with its type, then /updateReports?agent=AGENT.
'use strict';
const WebSocket = require('../node-peers/load-ws')();

const base = (process.argv[2] || 'ws://127.0.0.1:9001').replace(/\/+$/, '');
const agent = process.argv[3] || 'node-ws';

function open(path, onMessage) {
  return new Promise((resolve) => {
    // ws 8.23's client defaults cap a message at 16384 fragments (1008
    // beyond), which Autobahn's 9.3.1-9.4.2 (4 MiB in 64-256 byte frames)
    // exceed by design: off here, as in benches/node-ws-echo.js.
    const ws = new WebSocket(base + path, {
      maxPayload: 100 * 1024 * 1024,
      maxFragments: 0,
      maxBufferedChunks: 0,
    });
    ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary));
    ws.on('error', () => {});
    ws.on('close', () => resolve());
  });
}

(async () => {
  let count = 0;
  await open('/getCaseCount', (ws, data) => { count = Number(data.toString()); });
  if (!count) { console.error('the fuzzingserver reported no cases'); process.exit(1); }
  for (let i = 1; i <= count; i++) {
    await open(`/runCase?case=${i}&agent=${encodeURIComponent(agent)}`, (ws, data, isBinary) => {
      ws.send(data, { binary: isBinary });
    });
  }
  await open(`/updateReports?agent=${encodeURIComponent(agent)}`, () => {});
  console.error(`ran ${count} cases`);
})();

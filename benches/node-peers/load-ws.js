// Loads the pinned `ws` package from target/node-peers (or
// $NODELIKE_NODE_PEERS), where benches/node-peers/install.sh puts it.
'use strict';
const path = require('path');
const { createRequire } = require('module');

module.exports = function loadWs() {
  const dir = process.env.NODELIKE_NODE_PEERS || path.join(__dirname, '..', '..', 'target', 'node-peers');
  try {
    return createRequire(path.join(dir, 'package.json'))('ws');
  } catch (e) {
    console.error(`the ws package is not installed in ${dir}: run benches/node-peers/install.sh`);
    process.exit(2);
  }
};

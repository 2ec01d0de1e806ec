// Node ws peer for wsengine's interop tests.
//
//   node ws_peer.js client echo|p1|abrupt URL
//   node ws_peer.js server          (prints PORT n; stops when stdin closes)
'use strict';
const WebSocket = require('ws');

const SIZES = [0, 125, 65536, 4 * 1024 * 1024];
const payload = (n) => 'wsengine '.repeat(Math.floor(n / 9) + 1).slice(0, n);
const say = (...words) => console.log(words.join(' '));

// deflate is "off" or a JSON object of ws's perMessageDeflate options.
const deflate = (arg) => (arg === undefined ? true : arg === 'off' ? false : JSON.parse(arg));

function client(scenario, url, deflateArg) {
  const ws = new WebSocket(url, { maxPayload: 64 << 20, perMessageDeflate: deflate(deflateArg) });
  const inbox = [];
  let waiter = null;
  ws.on('message', (data, isBinary) => {
    inbox.push({ data, isBinary });
    if (waiter) { const w = waiter; waiter = null; w(); }
  });
  const next = () => new Promise((resolve) => {
    if (inbox.length) return resolve(inbox.shift());
    waiter = () => resolve(inbox.shift());
  });
  ws.on('close', (code, reason) => { say('CLOSED', code, reason.toString()); process.exit(0); });
  ws.on('error', (err) => say('ERROR', err.message));
  ws.on('open', async () => {
    say('EXT', ws.extensions || 'none');
    if (scenario === 'echo') {
      for (const n of SIZES) {
        for (const binary of [false, true]) {
          const msg = binary ? Buffer.from(payload(n)) : payload(n);
          ws.send(msg, { binary });
          const got = await next();
          if (got.isBinary !== binary || got.data.toString() !== payload(n)) {
            say('FAIL echo of', binary ? 'binary' : 'text', n, 'bytes differs');
            process.exit(1);
          }
        }
      }
      await new Promise((resolve) => { ws.once('pong', resolve); ws.ping(Buffer.from('interop')); });
      say('PONG');
      ws.close(4000, 'peer done');
    } else if (scenario === 'p1') {
      const m = await next();
      say('MESSAGE', m.data.toString());
    }
  });
  setTimeout(() => { say('FAIL timeout'); process.exit(1); }, 60000).unref();
}

function server(deflateArg) {
  const wss = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20, perMessageDeflate: deflate(deflateArg) });
  wss.on('listening', () => say('PORT', wss.address().port));
  wss.on('connection', (ws, req) => {
    const path = req.url;
    say('EXT', path, ws.extensions || 'none');
    ws.on('close', (code, reason) => say('CLOSED', path, code, reason.toString()));
    if (path === '/p1') {
      ws.send('last message');
      ws.close(1000, 'done');
    } else if (path === '/abrupt') {
      ws.terminate();
    } else {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    }
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

if (process.argv[2] === 'client') client(process.argv[3], process.argv[4], process.argv[5]);
else server(process.argv[3]);

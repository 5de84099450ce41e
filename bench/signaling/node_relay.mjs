// The next peer up: a bare Node.js `ws` relay with Duet's pairing by room and nothing else.
//
// The same protocol and settings as bare_relay.py (the aiohttp baseline): the first text frame is
// a `join` whose ticket is the room key (`<room>:<side>`), every later frame goes unchanged to the
// other socket of the room; subprotocol duet.v1.json, no permessage-deflate, 64 KiB frames, a
// 20 s heartbeat. So Duet ÷ node is what Duet's Python pays against Node's fastest WebSocket stack.
//
//   node bench/signaling/node_relay.mjs --port 8765
import http from 'node:http';
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
const port = Number(args[args.indexOf('--port') + 1]);
if (!Number.isInteger(port)) throw new Error('--port N is required');

const rooms = new Map(); // room -> [socket | null, socket | null]

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  res.writeHead(404);
  res.end();
});

const wss = new WebSocketServer({
  server,
  path: '/api/v1/ws',
  perMessageDeflate: false,
  maxPayload: 64 * 1024,
  handleProtocols: (protocols) => (protocols.has('duet.v1.json') ? 'duet.v1.json' : false),
});

wss.on('connection', (ws) => {
  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });
  let seats = null;
  let side = 0;
  ws.once('message', (data, isBinary) => {
    if (isBinary) { ws.close(); return; }
    const [room, sideText] = String(JSON.parse(data.toString()).ticket).split(':');
    side = sideText === '1' ? 1 : 0;
    seats = rooms.get(room);
    if (!seats) { seats = [null, null]; rooms.set(room, seats); }
    seats[side] = ws;
    const peer = seats[1 - side];
    ws.send(`{"type":"joined","peer":{"present":${peer ? 'true' : 'false'},"state":"connected"}}`);
    if (peer) peer.send('{"type":"peer_joined","peer":{"present":true,"state":"connected"}}');
    ws.on('message', (frame, binary) => {
      if (binary) { ws.close(); return; }
      const other = seats[1 - side];
      if (other) other.send(frame, { binary: false });
    });
  });
  ws.on('close', () => {
    if (seats && seats[side] === ws) seats[side] = null;
  });
});

const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) { ws.terminate(); continue; }
    ws.isAlive = false;
    ws.ping();
  }
}, 20_000);
wss.on('close', () => clearInterval(heartbeat));

server.listen(port, '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

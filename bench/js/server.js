// Socket.IO peer of `monologue bench` (see ../README.md).
//
// One Node process, WebSocket transport only, no compression. It prints one
// JSON line {"url":…,"admin":…} on stdout when it listens, and exits when its
// stdin ends (so it never outlives the harness).
//
// Events, all from the Go load generator's minimal Engine.IO v4 client:
//   call(to, payload, ack)  relays payload to socket `to` with emitWithAck and
//                           acknowledges the caller with the target's answer,
//                           or with {error} when the target is gone or silent.
//   subscribe(room, ack)    joins room and acknowledges with true.
//   publish(room, payload)  emits message(payload) to every other room member.
// GET /heap on the same port answers {"heapInuse":…} after a GC when Node
// runs with --expose-gc.
'use strict';

const http = require('http');
const { Server } = require('socket.io');

const callTimeoutMs = 10000;

const httpServer = http.createServer((req, res) => {
  if (req.url !== '/heap') {
    res.writeHead(404).end();
    return;
  }
  if (global.gc) global.gc();
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ heapInuse: process.memoryUsage().heapUsed, goroutines: 0 }));
});

const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: 1 << 20,
});

io.on('connection', (socket) => {
  socket.on('call', async (to, payload, ack) => {
    if (typeof ack !== 'function') return;
    const target = io.sockets.sockets.get(to);
    if (!target) {
      ack({ error: 'gone' });
      return;
    }
    try {
      ack(await target.timeout(callTimeoutMs).emitWithAck('call', payload));
    } catch (err) {
      ack({ error: 'timeout' });
    }
  });
  socket.on('subscribe', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack(true);
  });
  socket.on('publish', (room, payload) => {
    socket.to(room).emit('message', payload);
  });
});

httpServer.listen(0, '127.0.0.1', () => {
  const { port } = httpServer.address();
  process.stdout.write(JSON.stringify({
    url: `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
    admin: `http://127.0.0.1:${port}`,
  }) + '\n');
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));

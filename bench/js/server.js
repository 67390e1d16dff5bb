// Socket.IO peer of `monologue bench` (see ../README.md).
//
// One Node process, WebSocket transport only, no compression. It prints one
// JSON line {"url":…,"admin":…} on stdout when it listens, and exits when its
// stdin ends (so it never outlives the harness).
//
// With `--redis HOST:PORT` it is one node of several sharing that Redis
// through @socket.io/redis-adapter (the harness starts redis-server and the
// nodes): rooms and acknowledgements then span the nodes.
//
// Events, all from the Go load generator's minimal Engine.IO v4 client:
//   call(to, payload, ack)  relays payload to socket `to` with emitWithAck and
//                           acknowledges the caller with the target's answer,
//                           or with {error} when the target is gone or silent.
//                           With Redis, `to` may be on any node: the call goes
//                           to the room of that socket's ID with
//                           io.to(to).timeout().emitWithAck, the adapter's
//                           way to reach a socket on another node.
//   subscribe(room, ack)    joins room and acknowledges with true.
//   publish(room, payload)  emits message(payload) to every other room member.
// GET /heap on the same port answers {"heapInuse":…} after a GC when Node
// runs with --expose-gc.
'use strict';

const http = require('http');
const { Server } = require('socket.io');

const callTimeoutMs = 10000;

// --redis HOST:PORT: the Redis the nodes share.
const redisFlag = process.argv.indexOf('--redis');
const redisAddr = redisFlag >= 0 ? process.argv[redisFlag + 1] : '';

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

// callAnyNode relays a call to socket `to` on whichever node holds it.
async function callAnyNode(to, payload, ack) {
  try {
    const answers = await io.to(to).timeout(callTimeoutMs).emitWithAck('call', payload);
    ack(answers.length === 1 ? answers[0] : { error: 'gone' });
  } catch (err) {
    ack({ error: 'timeout' });
  }
}

io.on('connection', (socket) => {
  socket.on('call', async (to, payload, ack) => {
    if (typeof ack !== 'function') return;
    if (redisAddr) {
      await callAnyNode(to, payload, ack);
      return;
    }
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

// useRedis connects the adapter's two clients (publish, subscribe) to the
// Redis at addr. Responses to a node's requests come on a channel of its
// own (publishOnSpecificResponseChannel), not on one every node reads.
async function useRedis(addr) {
  const { createClient } = require('redis');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pubClient = createClient({ url: `redis://${addr}` });
  const subClient = pubClient.duplicate();
  for (const c of [pubClient, subClient]) {
    c.on('error', (err) => process.stderr.write(`redis: ${err}\n`));
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient, { publishOnSpecificResponseChannel: true }));
}

async function main() {
  if (redisAddr) await useRedis(redisAddr);
  httpServer.listen(0, '127.0.0.1', () => {
    const { port } = httpServer.address();
    process.stdout.write(JSON.stringify({
      url: `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
      admin: `http://127.0.0.1:${port}`,
    }) + '\n');
  });
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));

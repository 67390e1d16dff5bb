// Messages over the gateway's limit (128 KiB), sent in parts (wire/PROTOCOL.md, Chunking).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbortError,
  ChunkingUnsupportedError,
  Monologue,
  PayloadTooLargeError,
  TimeoutError,
  type Message,
} from '@monologue-go/monologue';
import { bigString, connect, rawPeer, sleep, waitFor } from './helpers.js';

describe('chunked messages between TypeScript clients', () => {
  let server: Monologue;
  let client: Monologue;
  const messages: Message[] = [];
  before(async () => {
    [server, client] = await Promise.all([connect(), connect()]);
    server.handle('echo', (x: unknown) => x);
    server.handle('make', (n: number) => bigString(n));
    server.handle('length', (s: string) => s.length);
    server.on('message', (m) => messages.push(m));
  });

  it('a 3 MiB argument and the same result (10 MiB: interop.test.ts, with the Go client)', async () => {
    const big = bigString(3 << 20);
    const t0 = Date.now();
    const back = await client.call(server.id, 'echo', big);
    console.log(`3 MiB there and back in ${Date.now() - t0} ms`);
    assert.equal(back.length, big.length);
    assert.ok(back === big);
  });

  it('a large result to a small request, a large structured argument', async () => {
    assert.equal(await client.call(server.id, 'make', 1 << 20), bigString(1 << 20));
    const doc = { name: 'é€😀', rows: Array.from({ length: 20_000 }, (_, i) => ({ i, s: `row ${i} "quoted" \\ é` })) };
    assert.deepEqual(await client.call(server.id, 'echo', doc), doc);
  });

  it('a large message', async () => {
    const payload = { blob: bigString(1 << 20), n: 1 };
    await client.send(server.id, payload);
    await waitFor('the message', () => messages.length === 1);
    assert.deepEqual(messages[0], { from: client.id, channel: undefined, payload, via: undefined });
  });

  it('many parts: a small maxSendSize', async () => {
    const small = await connect({ maxSendSize: 2048 });
    assert.equal(await small.call(server.id, 'length', bigString(200_000)), 200_000);
  });

  it('several transfers at once', async () => {
    const args = [300_000, 400_001, 250_002, 500_003].map((n) => bigString(n));
    const back = await Promise.all(args.map((a) => client.call(server.id, 'echo', a)));
    back.forEach((b, i) => assert.ok(b === args[i]));
  });
});

describe('chunked messages refused or cut short', () => {
  it('a peer with chunking off: ChunkingUnsupportedError at once', async () => {
    const [off, client] = await Promise.all([connect({ chunkBudget: -1 }), connect()]);
    off.handle('echo', (x: unknown) => x);
    const t0 = Date.now();
    await assert.rejects(client.call(off.id, 'echo', bigString(200_000)), ChunkingUnsupportedError);
    await assert.rejects(client.send(off.id, bigString(200_000)), ChunkingUnsupportedError);
    assert.ok(Date.now() - t0 < 3000, 'not after the 15 s timeout');
    // Its own large arguments are refused before anything is sent.
    await assert.rejects(off.call(client.id, 'echo', bigString(200_000)), PayloadTooLargeError);
  });

  it('over the receiver budget: PayloadTooLargeError', async () => {
    const [small, client] = await Promise.all([connect({ chunkBudget: 150_000 }), connect()]);
    small.handle('echo', (x: unknown) => x);
    const err = await client.call(small.id, 'echo', bigString(200_000)).catch((e) => e);
    assert.ok(err instanceof PayloadTooLargeError, String(err));
    assert.match(err.message, /refused a chunked message/);
  });

  it('a large result to a caller with chunking off: PayloadTooLargeError from the callee', async () => {
    const [server, off] = await Promise.all([connect(), connect({ chunkBudget: -1 })]);
    server.handle('make', (n: number) => bigString(n));
    const err = await off.call(server.id, 'make', 200_000).catch((e) => e);
    assert.ok(err instanceof PayloadTooLargeError, String(err));
    assert.match(err.message, /could not be sent in parts/);
  });

  it('a silent peer: ChunkingUnsupportedError after the timeout, and it never receives a part', async () => {
    const [peer, client] = await Promise.all([rawPeer(), connect({ timeout: 300 })]);
    const err = await client.call(peer.id, 'echo', bigString(200_000)).catch((e) => e);
    assert.ok(err instanceof ChunkingUnsupportedError, String(err));
    const offer = await peer.next('the offer');
    assert.equal(offer.payload.type, 'REQ');
    assert.equal(offer.payload.data.name, '$chunked');
    await sleep(100);
    assert.deepEqual(peer.frames, [], 'nothing but the offer');
  });

  it('an aborted transfer is cancelled: the receiver gets CHUNK_CANCEL', async () => {
    const [peer, client] = await Promise.all([rawPeer(), connect({ maxSendSize: 4096 })]);
    const controller = new AbortController();
    const call = client.callWith({ signal: controller.signal }, peer.id, 'length', bigString(20_000));
    const offer = await peer.next('the offer');
    peer.send(client.id, { type: 'ACK', data: { token: offer.payload.data.token, ret: { window: 2 } } });
    await peer.next('a first chunk', (f) => f.payload?.type === 'CHUNK');
    controller.abort();
    await assert.rejects(call, AbortError);
    const cancel = await peer.next('the cancel', (f) => f.payload?.type === 'CHUNK_CANCEL');
    assert.equal(cancel.payload.data.token, offer.payload.data.token);
    assert.equal(cancel.payload.data.error.code, 'aborted');
  });

  it('a cancelled transfer gives its budget back', async () => {
    const [receiver, peer] = await Promise.all([connect({ chunkBudget: 100 }), rawPeer()]);
    const offer = (token: number) =>
      peer.send(receiver.id, { type: 'REQ', data: { token, name: '$chunked', args: [{ size: 100, chunks: 2, chunk: 50 }] } });
    offer(1);
    assert.equal((await peer.next('the accept')).payload.type, 'ACK');
    offer(2);
    const busy = await peer.next('the refusal');
    assert.deepEqual([busy.payload.type, busy.payload.data.error.code], ['ERR', 'rate_limited']);
    peer.send(receiver.id, { type: 'CHUNK_CANCEL', data: { token: 1, error: { code: 'aborted', message: 'no' } } });
    offer(3);
    assert.equal((await peer.next('the accept after the cancel')).payload.type, 'ACK');
  });

  it('the receiver drops an incomplete message after chunkTimeout and tells the sender', async () => {
    const [receiver, peer] = await Promise.all([connect({ chunkTimeout: 200 }), rawPeer()]);
    peer.send(receiver.id, { type: 'REQ', data: { token: 1, name: '$chunked', args: [{ size: 6, chunks: 2, chunk: 3 }] } });
    const accept = await peer.next('the accept', (f) => f.payload?.type === 'ACK');
    assert.ok(accept.payload.data.ret.window >= 1);
    peer.send(receiver.id, { type: 'CHUNK', data: { token: 1, seq: 0, data: Buffer.from('"ab').toString('base64') } });
    assert.equal((await peer.next('the ack', (f) => f.payload?.type === 'CHUNK_ACK')).payload.data.received, 1);
    const end = await peer.next('the timeout', (f) => f.payload?.type === 'CHUNK_ERR');
    assert.equal(end.payload.data.error.code, 'timeout');
  });

  it('a stalled receiver: TimeoutError at the sender', async () => {
    const [peer, client] = await Promise.all([rawPeer(), connect({ timeout: 300, maxSendSize: 4096 })]);
    const sending = client.send(peer.id, bigString(20_000));
    const offer = await peer.next('the offer');
    peer.send(client.id, { type: 'ACK', data: { token: offer.payload.data.token, ret: { window: 2 } } });
    const err = await sending.catch((e) => e);
    assert.ok(err instanceof TimeoutError, String(err));
    await peer.next('the cancel', (f) => f.payload?.type === 'CHUNK_CANCEL');
    assert.equal(peer.frames.filter((f) => f.payload?.type === 'CHUNK').length, 2, 'no more than the window');
  });
});

// Interoperability: the TypeScript client with the Go client (a peer run by
// the Go harness, which also calls and messages the TypeScript side on
// request), and with the model of the original JavaScript client (v2, the
// version whose RPC convention wire/PROTOCOL.md specifies).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ChunkingUnsupportedError, HandlerError, Monologue, NotFoundError, TimeoutError, type Message } from '@monologue-go/monologue';
import { bigString, connect, control, env, sleep, waitFor } from './helpers.js';

describe('TypeScript → Go', () => {
  let ts: Monologue;
  before(async () => {
    ts = await connect();
  });

  it('calls with every JSON kind, and the Go handler sees the caller', async () => {
    assert.equal(await ts.call(env.goPeer, 'concat', 'from', 'machine1'), 'frommachine1');
    const args = ['s', 1, 2.5, true, null, { a: [1, 'é€😀'] }];
    assert.deepEqual(await ts.call(env.goPeer, 'echo', ...args), args);
    assert.equal(await ts.call(env.goPeer, 'caller'), ts.id);
  });

  it('errors: not_found, handler_error', async () => {
    await assert.rejects(ts.call(env.goPeer, 'no-such-method'), NotFoundError);
    await assert.rejects(ts.call(env.goPeer, 'fail'), (e) => e instanceof HandlerError && /on purpose/.test(e.message));
  });

  it('a 10 MiB argument round-trips through a 128 KiB gateway (chunked both ways)', async () => {
    const big = bigString(10 << 20);
    const t0 = Date.now();
    const back = await ts.call(env.goPeer, 'echo', big);
    console.log(`TypeScript → Go → TypeScript, 10 MiB each way: ${Date.now() - t0} ms`);
    assert.equal(back.length, 1);
    assert.ok(back[0] === big);
    assert.equal(await ts.call(env.goPeer, 'length', bigString(1 << 20)), 1 << 20);
  });

  it('messages, small and chunked, reach the Go client', async () => {
    await ts.send(env.goPeer, { hello: 'go' });
    const small = await control('/message');
    assert.deepEqual([small.from, small.payload], [ts.id, { hello: 'go' }]);
    await ts.send(env.goPeer, bigString(1 << 20));
    const big = await control('/message');
    assert.equal(big.from, ts.id);
    assert.equal(big.payload, bigString(1 << 20));
  });
});

describe('Go → TypeScript', () => {
  let ts: Monologue;
  const messages: Message[] = [];
  before(async () => {
    ts = await connect();
    ts.handle('sample-method', async (a: string, b: string) => `hello ${a} ${b}!`);
    ts.handle('echo', (x: unknown) => x);
    ts.handle('throws', () => {
      throw new Error('the TypeScript handler failed');
    });
    ts.on('message', (m) => messages.push(m));
  });

  it('the Go client calls a TypeScript handler', async () => {
    const r = await control('/call', { to: ts.id, method: 'sample-method', args: ['from', 'machine1'], timeoutMs: 5000 });
    assert.deepEqual(r, { result: 'hello from machine1!' });
  });

  it('the Go client gets not_found and handler_error', async () => {
    const missing = await control('/call', { to: ts.id, method: 'nope', args: [], timeoutMs: 5000 });
    assert.equal(missing.error.code, 'not_found');
    const failed = await control('/call', { to: ts.id, method: 'throws', args: [], timeoutMs: 5000 });
    assert.equal(failed.error.code, 'handler_error');
    assert.match(failed.error.message, /the TypeScript handler failed/);
  });

  it('a 3 MiB argument from Go round-trips through a TypeScript handler', async () => {
    const t0 = Date.now();
    const r = await control('/call', { to: ts.id, method: 'echo', args: [], bigArg: 3 << 20, timeoutMs: 60000 });
    console.log(`Go → TypeScript → Go, 3 MiB each way: ${Date.now() - t0} ms`);
    assert.deepEqual(r, { length: 3 << 20, same: true });
  });

  it('the Go client sends small and chunked messages', async () => {
    assert.deepEqual(await control('/send', { to: ts.id, payload: { hi: 'ts' } }), {});
    assert.deepEqual(await control('/send', { to: ts.id, bigPayload: 1 << 20 }), {});
    await waitFor('both messages', () => messages.length === 2);
    assert.deepEqual(messages[0], { from: env.goPeer, channel: undefined, payload: { hi: 'ts' }, via: undefined });
    assert.equal(messages[1]!.payload, bigString(1 << 20));
  });
});

describe('names across the TypeScript and Go clients', () => {
  let ts: Monologue;
  const messages: Message[] = [];
  before(async () => {
    ts = await connect({ name: 'interop-ts-worker' });
    ts.handle('sample-method', async (a: string, b: string) => `hello ${a} ${b}!`);
    ts.handle('context', function () {
      return { from: this.from, via: this.via };
    });
    ts.on('message', (m) => messages.push(m));
  });

  it('the Go client calls and messages a TypeScript worker by name', async () => {
    const r = await control('/call', { to: '@interop-ts-worker', method: 'sample-method', args: ['from', 'Go'], timeoutMs: 5000 });
    assert.deepEqual(r, { result: 'hello from Go!' });
    const c = await control('/call', { to: '@interop-ts-worker', method: 'context', args: [], timeoutMs: 5000 });
    assert.deepEqual(c, { result: { from: env.goPeer, via: '@interop-ts-worker' } });
    const missing = await control('/call', { to: '@interop-ts-worker', method: 'nope', args: [], timeoutMs: 5000 });
    assert.equal(missing.error.code, 'not_found', 'an ERR from a holder answers the call too');
    const gone = await control('/call', { to: '@interop-nobody', method: 'x', args: [], timeoutMs: 5000 });
    assert.equal(gone.error.code, 'gone');

    assert.deepEqual(await control('/send', { to: '@interop-ts-worker', payload: { hi: 'by name' } }), {});
    await waitFor('the message', () => messages.length === 1);
    assert.deepEqual(messages[0], { from: env.goPeer, channel: undefined, payload: { hi: 'by name' }, via: '@interop-ts-worker' });
  });

  it('TypeScript calls and messages the Go client by name', async () => {
    const name = '@' + env.goPeerName;
    assert.deepEqual(await ts.holders(env.goPeerName), { count: 1, members: [env.goPeer] });
    assert.equal(await ts.call(name, 'concat', 'by ', 'name'), 'by name');
    assert.equal(await ts.call(name, 'caller'), ts.id);
    await assert.rejects(ts.call(name, 'fail'), (e) => e instanceof HandlerError && e.peer === env.goPeer);
    assert.equal(await ts.call(name, 'length', bigString(1 << 20)), 1 << 20, 'a chunked call goes to the holder that accepted it');

    await ts.send(name, { hello: 'go, by name' });
    const m = await control('/message');
    assert.deepEqual([m.from, m.via, m.payload], [ts.id, name, { hello: 'go, by name' }]);
  });

  it('a Go holder and TypeScript holders of one name serve one pool', async () => {
    const others = await Promise.all([connect(), connect()]);
    for (const o of others) o.handle('caller', () => o.id);
    ts.handle('caller', () => ts.id);
    await Promise.all(others.map((o) => o.claim(env.goPeerName)));
    await ts.claim(env.goPeerName);
    try {
      const caller = await connect();
      const holders = await caller.holders(env.goPeerName);
      assert.equal(holders.count, 4);
      const answers = await Promise.all(Array.from({ length: 40 }, () => caller.call('@' + env.goPeerName, 'caller')));
      const by = new Set(answers);
      assert.ok(by.has(caller.id), 'the Go holder answered (its "caller" returns the caller)');
      assert.ok(by.size >= 3, `spread over ${by.size} kinds of answer`);
    } finally {
      await Promise.all([...others.map((o) => o.release(env.goPeerName)), ts.release(env.goPeerName)]);
    }
  });
});

// The original client's model reads its configuration once, at import, from a
// .monologuerc found from the working directory (see compat/README.md).
async function loadOriginal(timeout: number): Promise<any> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'monologue-ts-compat-'));
  fs.writeFileSync(path.join(dir, '.monologuerc'), `[opts]\nendpoint=${env.endpoint}\napiKey=${env.apiKey}\ntimeout=${timeout}\n`);
  const cwd = process.cwd();
  const home = process.env.HOME;
  process.chdir(dir);
  process.env.HOME = dir;
  try {
    const url = pathToFileURL(path.join(env.compatDir, 'original-v2.mjs')).href + `?t=${timeout}`;
    return (await import(url)).default;
  } finally {
    process.chdir(cwd);
    process.env.HOME = home;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('TypeScript ↔ the original JavaScript client (v2 model)', () => {
  let Original: any;
  let original: any;
  let ts: Monologue;
  before(async () => {
    Original = await loadOriginal(600);
    original = new Original();
    await original.connect();
    original.on('sample-method', async (a: string, b: string) => `hello ${a} ${b}!`);
    original.on('nothing', async () => undefined);
    ts = await connect({ timeout: 600 });
    ts.handle('sample-method', async (a: string, b: string) => `hello ${a} ${b}!`);
    ts.handle('structured', (a: unknown, b: unknown) => ({ got: [a, b] }));
    ts.handle('make', (n: number) => bigString(n));
  });

  it('TypeScript calls the original', async () => {
    assert.equal(await ts.call(original.connectionId, 'sample-method', 'from', 'machine1'), 'hello from machine1!');
    assert.equal(await ts.call(original.connectionId, 'nothing'), undefined, 'an ACK without ret');
  });

  it('the original calls TypeScript', async () => {
    assert.equal(await original.call(ts.id, 'sample-method', 'from', 'machine1'), 'hello from machine1!');
    assert.deepEqual(await original.call(ts.id, 'structured', 'string1', { data: [1] }), { got: ['string1', { data: [1] }] });
    assert.deepEqual(original.loopErrors, []);
  });

  it('an unknown method on the original: TimeoutError (it never answers)', async () => {
    await assert.rejects(ts.call(original.connectionId, 'no-such-method'), TimeoutError);
  });

  it('an unknown method on TypeScript: the original ignores the ERR and times out, as it always did', async () => {
    await assert.rejects(original.call(ts.id, 'no-such-method'), (e: Error) => e.name === 'TimeoutError');
    assert.ok(original.wire.some((f: any) => f.dir === 'in' && f.data.includes('"ERR"')), 'the ERR reached it');
  });

  it('a chunked call to the original: a clear error at the sender, and the original sees only the offer', async () => {
    const before = original.wire.length;
    const sentBefore = original.wire.filter((f: any) => f.dir === 'out').length;
    const err = await ts.call(original.connectionId, 'sample-method', bigString(200_000)).catch((e) => e);
    assert.ok(err instanceof ChunkingUnsupportedError, String(err));
    assert.match(err.message, /does not accept chunked messages/);
    await sleep(100);
    const seen = original.wire.slice(before).filter((f: any) => f.dir === 'in').map((f: any) => JSON.parse(f.data));
    assert.equal(seen.length, 1);
    assert.equal(seen[0].payload.data.name, '$chunked', 'a request it has no handler for');
    assert.equal(original.wire.filter((f: any) => f.dir === 'out').length, sentBefore, 'it answered nothing');
  });

  it('a large result to the original: no part is sent; it times out', async () => {
    const before = original.wire.length;
    await assert.rejects(original.call(ts.id, 'make', 200_000), (e: Error) => e.name === 'TimeoutError');
    await sleep(700); // the offer's timeout, then the ERR payload_too_large
    const seen = original.wire.slice(before).filter((f: any) => f.dir === 'in').map((f: any) => JSON.parse(f.data));
    assert.ok(seen.every((f: any) => f.payload.type !== 'CHUNK'), 'no chunk reached it');
    assert.ok(seen.some((f: any) => f.payload.data?.name === '$chunked'));
    await original.close();
  });
});

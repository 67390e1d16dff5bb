// The client against a real gateway: every API, its errors and timeouts.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbortError,
  ClosedError,
  DisconnectedError,
  ForbiddenError,
  GoneError,
  HandlerError,
  Monologue,
  MonologueError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  TimeoutError,
  type Message,
} from '@monologue-go/monologue';
import { connect, deleteConnection, env, sleep, track, waitFor } from './helpers.js';

describe('connect', () => {
  it('learns a connection ID; two clients have two', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    assert.match(a.id, /^[A-Za-z0-9+/]{15}=$/);
    assert.notEqual(a.id, b.id);
    assert.equal(a.connected, true);
  });

  it('a wrong key is ForbiddenError, at once', async () => {
    const t0 = Date.now();
    await assert.rejects(Monologue.connect({ endpoint: env.endpoint, apiKey: 'wrong' }), ForbiddenError);
    await assert.rejects(Monologue.connect({ endpoint: env.endpoint }), (err: MonologueError) => err.code === 'forbidden');
    assert.ok(Date.now() - t0 < 2000);
  });

  it('a gateway that is not there is DisconnectedError', async () => {
    await assert.rejects(Monologue.connect({ endpoint: 'ws://127.0.0.1:1/', apiKey: 'k' }), DisconnectedError);
  });

  it('takes the key in the query too (as a browser sends it), and an http endpoint', async () => {
    const url = new URL(env.endpoint);
    url.searchParams.set('apiKey', env.apiKey);
    const c = track(await Monologue.connect({ endpoint: url.href.replace(/^ws/, 'http') }));
    assert.ok(c.id);
  });

  it('an aborted signal cancels connecting', async () => {
    await assert.rejects(Monologue.connect({ endpoint: env.endpoint, apiKey: env.apiKey, signal: AbortSignal.abort() }), DisconnectedError);
  });
});

describe('calls', () => {
  let server: Monologue;
  let client: Monologue;
  before(async () => {
    [server, client] = await Promise.all([connect(), connect({ timeout: 2000 })]);
    server.handle('sample-method', async (a: string, b: string) => `hello ${a} ${b}!`);
    server.handle('echo', (...args: unknown[]) => args);
    server.handle('whoami', function () {
      return { from: this.from, method: this.method };
    });
    server.handle('via', function () {
      return this.via ?? null;
    });
    server.handle('nothing', () => undefined);
    server.handle('throws', () => {
      throw new Error('it broke');
    });
    server.handle('not-here', () => {
      throw new NotFoundError('not today');
    });
    server.handle('slow', (ms: number) => sleep(ms).then(() => 'late'));
  });

  it('calls with arguments in order, returns values of every JSON kind', async () => {
    assert.equal(await client.call(server.id, 'sample-method', 'from', 'machine1'), 'hello from machine1!');
    const args = ['s', 1, -2.5, true, false, null, { a: [1, { b: 'é€😀' }] }, [], ''];
    assert.deepEqual(await client.call(server.id, 'echo', ...args), args);
    assert.deepEqual(await client.call(server.id, 'echo'), []);
    assert.equal(await client.call(server.id, 'nothing'), undefined);
    assert.deepEqual(await client.call(server.id, 'echo', undefined), [null], 'undefined in an array is null, as JSON.stringify');
  });

  it('a handler sees the caller and the method as this', async () => {
    assert.deepEqual(await client.call(server.id, 'whoami'), { from: client.id, method: 'whoami' });
    assert.equal(await client.call(server.id, 'via'), null, 'no name: via is undefined (null once in JSON)');
  });

  it('an unknown method is NotFoundError, at once', async () => {
    const t0 = Date.now();
    const err = await client.call(server.id, 'no-such-method').catch((e) => e);
    assert.ok(err instanceof NotFoundError, String(err));
    assert.equal(err.code, 'not_found');
    assert.equal(err.peer, server.id);
    assert.equal(err.method, 'no-such-method');
    assert.match(err.message, /no handler for method "no-such-method"/);
    assert.ok(Date.now() - t0 < 1500, 'not after the 2 s timeout');
  });

  it('a handler that throws is HandlerError with its message; one that throws NotFoundError is not_found', async () => {
    await assert.rejects(client.call(server.id, 'throws'), (err) => err instanceof HandlerError && /it broke/.test(err.message));
    await assert.rejects(client.call(server.id, 'not-here'), (err) => err instanceof NotFoundError && /not today/.test(err.message));
  });

  it('a peer that is not connected is GoneError, at once', async () => {
    const t0 = Date.now();
    await assert.rejects(client.call('AAAAAAAAAAAAAAAAAAAAAA==', 'x'), GoneError);
    assert.ok(Date.now() - t0 < 1500, 'not after the 2 s timeout');
  });

  it('no answer within the timeout is TimeoutError; callWith sets its own', async () => {
    const t0 = Date.now();
    await assert.rejects(client.callWith({ timeout: 200 }, server.id, 'slow', 1000), TimeoutError);
    const took = Date.now() - t0;
    assert.ok(took >= 190 && took < 1900, `${took} ms`);
    assert.equal(await client.callWith({ timeout: 2000 }, server.id, 'slow', 10), 'late');
  });

  it('an AbortSignal cancels a call', async () => {
    const controller = new AbortController();
    const call = client.callWith({ signal: controller.signal }, server.id, 'slow', 1000);
    setTimeout(() => controller.abort(new Error('changed my mind')), 50);
    await assert.rejects(call, AbortError);
    await assert.rejects(client.callWith({ signal: AbortSignal.abort() }, server.id, 'slow', 1), AbortError);
    assert.equal(await client.call(server.id, 'slow', 1), 'late', 'the client is still usable');
  });

  it('1,000 concurrent calls, each answered with its own result', async () => {
    const n = 1000;
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: n }, (_, i) => client.call(server.id, 'echo', i, `n${i}`)));
    results.forEach((r, i) => assert.deepEqual(r, [i, `n${i}`]));
    console.log(`1,000 concurrent calls in ${Date.now() - t0} ms`);
  });

  it('past maxConcurrentHandlers a request is answered RateLimitedError', async () => {
    const busy = await connect({ maxConcurrentHandlers: 1 });
    let started = false;
    let release = () => {};
    busy.handle('hold', () => {
      started = true;
      return new Promise<void>((r) => (release = r));
    });
    const first = client.call(busy.id, 'hold');
    await waitFor('the first handler to start', () => started);
    await assert.rejects(client.call(busy.id, 'hold'), RateLimitedError);
    release();
    await first;
  });

  it('handle refuses the reserved name and removes with null', async () => {
    assert.throws(() => server.handle('$chunked', () => 1), TypeError);
    server.handle('temporary', () => 1);
    assert.equal(await client.call(server.id, 'temporary'), 1);
    server.handle('temporary', null);
    await assert.rejects(client.call(server.id, 'temporary'), NotFoundError);
  });
});

describe('messages', () => {
  it('send delivers any JSON payload, or none, as a message event', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const got: Message[] = [];
    b.on('message', (m) => got.push(m));
    const payloads = [{ hello: 'world' }, 'text', 42, null, [1, 2], undefined];
    for (const p of payloads) await a.send(b.id, p);
    await waitFor('the messages', () => got.length === payloads.length);
    assert.deepEqual(got.map((m) => m.payload), payloads);
    for (const m of got) {
      assert.equal(m.from, a.id);
      assert.equal(m.channel, undefined);
    }
  });

  it("the gateway's error about a send comes as an error event", async () => {
    const a = await connect();
    const errors: MonologueError[] = [];
    a.on('error', (e) => errors.push(e));
    a.send('AAAAAAAAAAAAAAAAAAAAAA==', 'hello?'); // not awaited: the promise may be ignored
    await a.ping();
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof GoneError);
    assert.equal(errors[0]!.peer, 'AAAAAAAAAAAAAAAAAAAAAA==');
  });
});

describe('channels', () => {
  it('subscribe, publish, unsubscribe', async () => {
    const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
    const onB: Message[] = [];
    const events: Message[] = [];
    const sub = await b.subscribe('news', (m) => onB.push(m));
    b.on('message', (m) => events.push(m));
    await c.subscribe('news');
    const onC: Message[] = [];
    c.on('message', (m) => onC.push(m));
    await a.publish('news', { headline: 'one' });
    await waitFor('b and c to receive', () => onB.length === 1 && onC.length === 1);
    assert.deepEqual(onB[0], { from: a.id, channel: 'news', payload: { headline: 'one' }, via: undefined });
    assert.deepEqual(events, onB);
    await c.publish('news', 'from c');
    await waitFor('b to receive', () => onB.length === 2);
    await c.ping();
    assert.equal(onC.length, 1, 'a publisher does not receive its own publication');

    await sub.unsubscribe();
    await a.publish('news', 'after');
    await waitFor('c to receive', () => onC.length === 2);
    await b.ping();
    assert.equal(onB.length, 2, 'nothing after unsubscribe');
    await c.unsubscribe('news');
  });

  it('the gateway broadcast (HTTP POST /channels) arrives without a sender', async () => {
    const a = await connect();
    const got: Message[] = [];
    await a.subscribe('alerts', (m) => got.push(m));
    const res = await fetch(`${env.publicURL}/channels/alerts`, { method: 'POST', headers: { 'x-api-key': env.apiKey }, body: '{"level":3}' });
    assert.ok(res.ok, `POST /channels/alerts: ${res.status}`);
    await waitFor('the broadcast', () => got.length === 1);
    assert.deepEqual(got[0], { from: undefined, channel: 'alerts', payload: { level: 3 }, via: undefined });
  });

  it('a publication over the limit, or an empty channel name, is refused', async () => {
    const a = await connect();
    await assert.rejects(a.publish('news', 'x'.repeat(130 << 10)), PayloadTooLargeError);
    await assert.rejects(a.publish('', 1), TypeError);
    await assert.rejects(a.subscribe('c'.repeat(257)), TypeError);
  });
});

describe('ping and close', () => {
  it('ping resolves', async () => {
    const a = await connect();
    await a.ping();
  });

  it('close fails what is in flight and everything after with ClosedError; emits close once', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    b.handle('never', () => new Promise(() => {}));
    const closes: unknown[] = [];
    a.on('close', (err) => closes.push(err));
    const call = a.call(b.id, 'never');
    await sleep(20);
    await Promise.all([a.close(), a.close()]);
    await assert.rejects(call, ClosedError);
    await assert.rejects(a.call(b.id, 'never'), ClosedError);
    await assert.rejects(a.send(b.id, 1), ClosedError);
    await assert.rejects(a.subscribe('x'), ClosedError);
    assert.deepEqual(closes, [undefined]);
    assert.equal(a.connected, false);
  });

  it('without reconnect, a dropped connection fails calls with DisconnectedError and emits disconnect', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    b.handle('never', () => new Promise(() => {}));
    const drops: MonologueError[] = [];
    a.on('disconnect', (err) => drops.push(err));
    const call = a.call(b.id, 'never');
    await sleep(20);
    await deleteConnection(a.id);
    await assert.rejects(call, DisconnectedError);
    assert.equal(drops.length, 1);
    await assert.rejects(a.call(b.id, 'never'), DisconnectedError);
    assert.equal(a.connected, false);
  });
});

// Names, service groups and presence against a real gateway: claim and
// release, calls and messages to "@name", a pool of holders behind one
// name, exclusive takeover, presence counts and joined/left events. (After
// a reconnection: reconnect.test.ts; with the Go client: interop.test.ts.)
// Every name and channel here starts with "names-": the test files share a
// gateway and a tenant, and run at the same time.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BadRequestError,
  GoneError,
  Monologue,
  MonologueError,
  type Message,
  type PresenceEvent,
} from '@monologue-go/monologue';
import { bigString, connect, env, sleep, waitFor } from './helpers.js';

function sorted(ids: string[]): string[] {
  return [...ids].sort();
}

describe('claim and release', () => {
  it('a claimed name is called and messaged at "@name"; released, it is gone', async () => {
    const [holder, caller] = await Promise.all([connect(), connect({ timeout: 3000 })]);
    holder.handle('context', function () {
      return { from: this.from, method: this.method, via: this.via };
    });
    const got: Message[] = [];
    holder.on('message', (m) => got.push(m));

    await holder.claim('names-solo');
    assert.deepEqual(await caller.holders('names-solo'), { count: 1, members: [holder.id] });
    assert.deepEqual(await caller.call('@names-solo', 'context'), { from: caller.id, method: 'context', via: '@names-solo' });
    assert.deepEqual(await caller.call(holder.id, 'context'), { from: caller.id, method: 'context' }, 'by ID: no via');

    await caller.send('@names-solo', { hello: 'name' });
    await waitFor('the message', () => got.length === 1);
    assert.deepEqual(got[0], { from: caller.id, channel: undefined, payload: { hello: 'name' }, via: '@names-solo' });

    await holder.claim('names-solo'); // claiming again is harmless
    assert.equal((await caller.holders('names-solo')).count, 1);

    await holder.release('names-solo');
    assert.deepEqual(await caller.holders('names-solo'), { count: 0, members: [] });
    const t0 = Date.now();
    const err = await caller.call('@names-solo', 'context').catch((e) => e);
    assert.ok(err instanceof GoneError, String(err));
    assert.equal(err.peer, '@names-solo');
    assert.ok(Date.now() - t0 < 1500, 'at once, not after the timeout');

    const errors: MonologueError[] = [];
    caller.on('error', (e) => errors.push(e));
    caller.send('@names-solo', 'anyone?');
    await caller.ping();
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof GoneError);
    assert.equal(errors[0]!.peer, '@names-solo');
  });

  it('a chunked message to a name arrives whole, with via', async () => {
    const [holder, sender] = await Promise.all([connect(), connect()]);
    await holder.claim('names-big');
    const got: Message[] = [];
    holder.on('message', (m) => got.push(m));
    await sender.send('@names-big', bigString(300_000));
    await waitFor('the message', () => got.length === 1);
    assert.equal(got[0]!.payload, bigString(300_000));
    assert.equal(got[0]!.from, sender.id);
    assert.equal(got[0]!.via, '@names-big');
  });

  it('names are checked before anything is sent: BadRequestError', async () => {
    const a = await connect();
    const bad = ['', '-lead', '.lead', 'has space', 'é', 'x'.repeat(129), '@names-x', 'a\nb', 'a*b'];
    for (const name of bad) {
      await assert.rejects(a.claim(name), BadRequestError, `claim ${JSON.stringify(name)}`);
      await assert.rejects(a.release(name), BadRequestError, `release ${JSON.stringify(name)}`);
      await assert.rejects(a.holders(name), BadRequestError, `holders ${JSON.stringify(name)}`);
      await assert.rejects(a.call('@' + name, 'm'), BadRequestError, `call @${JSON.stringify(name)}`);
      await assert.rejects(a.send('@' + name, 1), BadRequestError, `send @${JSON.stringify(name)}`);
    }
    await assert.rejects(a.claim('@names-x'), /the "@" only addresses a name/);
    const longest = 'names-' + 'x'.repeat(122);
    await a.claim(longest);
    await a.claim('names-9.a_b-c:d/e');
    assert.equal((await a.holders(longest)).count, 1);
    await assert.rejects(
      Monologue.connect({ endpoint: env.endpoint, apiKey: env.apiKey, name: 'not a name' }),
      BadRequestError,
      'connect checks its name before connecting'
    );
  });

  it('connect({ name }) claims before it resolves', async () => {
    const [a, b] = await Promise.all([connect({ name: 'names-dialed' }), connect()]);
    a.handle('id', function () {
      return this.via;
    });
    assert.deepEqual(await b.holders('names-dialed'), { count: 1, members: [a.id] });
    assert.equal(await b.call('@names-dialed', 'id'), '@names-dialed');
  });
});

describe('service groups', () => {
  it('a pool of 3 holders behind one name shares 30 calls; every call is answered', async () => {
    const workers = await Promise.all([connect(), connect(), connect()]);
    const caller = await connect();
    const served = new Map<string, number>();
    for (const w of workers) {
      w.handle('work', function (n: number) {
        served.set(w.id, (served.get(w.id) ?? 0) + 1);
        return { n: n * 2, by: w.id, via: this.via };
      });
      await w.claim('names-pool');
    }
    assert.deepEqual(sorted((await caller.holders('names-pool')).members), sorted(workers.map((w) => w.id)));

    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => caller.call('@names-pool', 'work', i)));
    const ids = new Set(workers.map((w) => w.id));
    answers.forEach((a, i) => {
      assert.equal(a.n, i * 2, 'each call gets its own answer');
      assert.ok(ids.has(a.by), 'from a holder');
      assert.equal(a.via, '@names-pool');
    });
    const by = new Set(answers.map((a) => a.by));
    console.log(`30 calls to @names-pool: ${[...served.values()].join(' + ')}`);
    assert.ok(by.size >= 2, `spread over ${by.size} holder(s)`);
    assert.equal([...served.values()].reduce((x, y) => x + y, 0), 30, 'each call served once');
  });

  it('chunked calls to a pool go whole to the holder that accepted them', async () => {
    const workers = await Promise.all([connect(), connect(), connect()]);
    const caller = await connect();
    for (const w of workers) {
      w.handle('length', function (s: string) {
        return { length: s.length, via: this.via };
      });
      await w.claim('names-bigpool');
    }
    const big = bigString(400_000);
    const answers = await Promise.all(Array.from({ length: 6 }, () => caller.call('@names-bigpool', 'length', big)));
    for (const a of answers) assert.deepEqual(a, { length: big.length, via: '@names-bigpool' });
  });

  it('an exclusive claim takes the name from every other holder, who hears of it', async () => {
    const [a, b, c, caller] = await Promise.all([connect(), connect(), connect(), connect()]);
    const lost: string[] = [];
    a.on('nameLost', (name) => lost.push(`a ${name}`));
    b.on('nameLost', (name) => lost.push(`b ${name}`));
    c.on('nameLost', (name) => lost.push(`c ${name}`));
    c.handle('who', () => 'c');
    await a.claim('names-leader');
    await b.claim('names-leader');
    await a.claim('names-other');
    assert.equal((await caller.holders('names-leader')).count, 2);

    await c.claim('names-leader', { exclusive: true });
    assert.deepEqual(await caller.holders('names-leader'), { count: 1, members: [c.id] });
    await waitFor('both losses', () => lost.length === 2);
    assert.deepEqual(lost.sort(), ['a names-leader', 'b names-leader']);
    for (let i = 0; i < 5; i++) assert.equal(await caller.call('@names-leader', 'who'), 'c');
    assert.deepEqual(await caller.holders('names-other'), { count: 1, members: [a.id] }, 'other names are kept');
    await Promise.all([a.ping(), b.ping(), c.ping()]);
    assert.equal(lost.length, 2, 'the new holder is not told');
  });
});

describe('presence', () => {
  it('counts and lists the members of a channel', async () => {
    const [a, b, c, asker] = await Promise.all([connect(), connect(), connect(), connect()]);
    assert.deepEqual(await asker.presence('names-empty'), { count: 0, members: [] });
    await Promise.all([a.subscribe('names-room'), b.subscribe('names-room'), c.subscribe('names-room')]);
    const p = await asker.presence('names-room');
    assert.equal(p.count, 3);
    assert.deepEqual(sorted(p.members), sorted([a.id, b.id, c.id]));
    await b.unsubscribe('names-room');
    await c.close();
    let after = await asker.presence('names-room');
    for (const deadline = Date.now() + 5000; after.count !== 1 && Date.now() < deadline; ) {
      await sleep(10); // the gateway drops a closed connection's subscriptions as it sees it close
      after = await asker.presence('names-room');
    }
    assert.deepEqual(after, { count: 1, members: [a.id] });
    await assert.rejects(asker.presence(''), TypeError);
  });

  it('a subscription with presence hears who joins and leaves', async () => {
    const [watcher, b, c, d] = await Promise.all([connect(), connect(), connect(), connect()]);
    const events: PresenceEvent[] = [];
    watcher.on('presence', (e) => events.push(e));
    const messages: Message[] = [];
    await watcher.subscribe('names-lobby', (m) => messages.push(m), { presence: true });

    await b.subscribe('names-lobby');
    await waitFor('b joined', () => events.length === 1);
    assert.deepEqual(events[0], { channel: 'names-lobby', joined: true, id: b.id });
    await b.unsubscribe('names-lobby');
    await waitFor('b left', () => events.length === 2);
    assert.deepEqual(events[1], { channel: 'names-lobby', joined: false, id: b.id });

    await c.subscribe('names-lobby');
    await c.close();
    await waitFor('c joined and left', () => events.length === 4);
    assert.deepEqual(events.slice(2), [
      { channel: 'names-lobby', joined: true, id: c.id },
      { channel: 'names-lobby', joined: false, id: c.id },
    ]);

    await d.subscribe('names-lobby');
    await d.publish('names-lobby', 'hi');
    await waitFor('the publication', () => messages.length === 1);
    assert.deepEqual(messages[0], { from: d.id, channel: 'names-lobby', payload: 'hi', via: undefined }, 'a presence event is no message');
    await waitFor('d joined', () => events.length === 5);
    assert.deepEqual(events[4], { channel: 'names-lobby', joined: true, id: d.id });
  });

  it('a channel joined without presence gets it when subscribed again with it', async () => {
    const [watcher, b] = await Promise.all([connect(), connect()]);
    const events: PresenceEvent[] = [];
    watcher.on('presence', (e) => events.push(e));
    const plain = await watcher.subscribe('names-upgrade');
    await b.subscribe('names-upgrade');
    await watcher.ping();
    assert.equal(events.length, 0, 'no presence events without presence');
    await watcher.subscribe('names-upgrade', { presence: true });
    await b.unsubscribe('names-upgrade');
    await waitFor('b left', () => events.length === 1);
    assert.deepEqual(events[0], { channel: 'names-upgrade', joined: false, id: b.id });
    await plain.unsubscribe(); // the presence subscription keeps the channel
    assert.deepEqual((await b.presence('names-upgrade')).members, [watcher.id]);
  });
});

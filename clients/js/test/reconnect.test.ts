// Reconnection: after the gateway closes the connection (handlers,
// channels, presence subscriptions and names come back), and after a
// gateway restarts with another API key (a 403: the end).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DisconnectedError,
  ForbiddenError,
  GoneError,
  Monologue,
  type Message,
  type MonologueError,
  type PresenceEvent,
} from '@monologue-go/monologue';
import { connect, control, deleteConnection, env, track, waitFor } from './helpers.js';

describe('reconnect', () => {
  it('comes back with a new ID, its handlers and its channels', async () => {
    const a = await connect({ reconnect: { minDelay: 20, maxDelay: 200 } });
    const b = await connect();
    a.handle('ping', () => 'pong');
    const got: Message[] = [];
    await a.subscribe('room', (m) => got.push(m));
    const events: string[] = [];
    a.on('disconnect', (err) => events.push(`disconnect ${err.code}`));
    const reconnected = new Promise<string>((resolve) => a.on('reconnect', resolve));
    const oldID = a.id;

    await deleteConnection(oldID);
    await waitFor('the disconnect event', () => events.length === 1);
    assert.equal(events[0], 'disconnect disconnected');
    await assert.rejects(a.call(b.id, 'x'), DisconnectedError, 'operations fail while reconnecting');
    const newID = await reconnected;
    assert.notEqual(newID, oldID);
    assert.equal(a.id, newID);
    assert.equal(a.connected, true);

    assert.equal(await b.call(a.id, 'ping'), 'pong', 'handlers are kept');
    await b.publish('room', 'after');
    await waitFor('the publication', () => got.length === 1);
    assert.equal(got[0]!.payload, 'after', 'the channel was subscribed again');
  });

  it('a named peer is called by name before and after a reconnection: names claimed again, presence kept', async () => {
    const a = await connect({ name: 'reconnect-named', nameExclusive: true, reconnect: { minDelay: 20, maxDelay: 200 } });
    const [b, c] = await Promise.all([connect(), connect()]);
    a.handle('whoami', function () {
      return { id: a.id, via: this.via };
    });
    await a.claim('reconnect-extra');
    const presence: PresenceEvent[] = [];
    a.on('presence', (e) => presence.push(e));
    await a.subscribe('reconnect-lobby', { presence: true });
    const oldID = a.id;
    assert.deepEqual(await b.call('@reconnect-named', 'whoami'), { id: oldID, via: '@reconnect-named' });

    const reconnected = new Promise<string>((resolve) => a.on('reconnect', resolve));
    await deleteConnection(oldID);
    const newID = await reconnected;
    assert.notEqual(newID, oldID);

    // Names are claimed again before the reconnect event.
    assert.deepEqual(await b.holders('reconnect-named'), { count: 1, members: [newID] });
    assert.deepEqual(await b.holders('reconnect-extra'), { count: 1, members: [newID] });
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await b.call('@reconnect-named', 'whoami'), { id: newID, via: '@reconnect-named' });
      assert.deepEqual(await b.call('@reconnect-extra', 'whoami'), { id: newID, via: '@reconnect-extra' });
    }

    // The channel is subscribed again with presence events.
    await c.subscribe('reconnect-lobby');
    await waitFor('c joined', () => presence.length === 1);
    assert.deepEqual(presence[0], { channel: 'reconnect-lobby', joined: true, id: c.id });
  });

  it('a name taken by another connection is not claimed again after a reconnection', async () => {
    const a = await connect({ reconnect: { minDelay: 20, maxDelay: 200 } });
    const [taker, b] = await Promise.all([connect(), connect()]);
    await a.claim('reconnect-taken');
    await a.claim('reconnect-released');
    await a.claim('reconnect-kept');
    const lost = new Promise<string>((resolve) => a.on('nameLost', resolve));
    await taker.claim('reconnect-taken', { exclusive: true });
    assert.equal(await lost, 'reconnect-taken');
    await a.release('reconnect-released');

    const reconnected = new Promise<string>((resolve) => a.on('reconnect', resolve));
    await deleteConnection(a.id);
    const newID = await reconnected;
    assert.deepEqual(await b.holders('reconnect-taken'), { count: 1, members: [taker.id] });
    assert.deepEqual(await b.holders('reconnect-released'), { count: 0, members: [] });
    assert.deepEqual(await b.holders('reconnect-kept'), { count: 1, members: [newID] });
    await assert.rejects(b.call('@reconnect-released', 'x'), GoneError);
  });

  it('a gateway that restarts with another key refuses it with 403: error, then close', async () => {
    const a = track(await Monologue.connect({ endpoint: env.restartEndpoint, apiKey: env.apiKey, reconnect: { minDelay: 20, maxDelay: 100 } }));
    const errors: MonologueError[] = [];
    const closed = new Promise<MonologueError | undefined>((resolve) => a.on('close', resolve));
    a.on('error', (err) => errors.push(err));
    let reconnects = 0;
    a.on('reconnect', () => reconnects++);

    await control('/restart', { key: 'rotated-' + env.apiKey });
    const err = await closed;
    assert.ok(err instanceof ForbiddenError, String(err));
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof ForbiddenError);
    assert.equal(reconnects, 0);
    assert.equal(a.connected, false);
    await assert.rejects(a.ping(), (e: MonologueError) => e.code === 'closed');
    await control('/restart', { key: env.apiKey });
  });
});

// Reconnection: after the gateway closes the connection, and after a
// gateway restarts with another API key (a 403: the end).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DisconnectedError, ForbiddenError, Monologue, type Message, type MonologueError } from '@monologue-go/monologue';
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

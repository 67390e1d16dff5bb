// The original JavaScript monologue client — modelled by original-v1.mjs (loopback /
// sendmessage) and original-v2.mjs (whoami / $default) — against a running gateway.
//
// Run by compat_test.go, or by hand:
//   MONOLOGUE_ENDPOINT=ws://127.0.0.1:8080/ MONOLOGUE_API_KEY=… \
//   [MONOLOGUE_OPEN_ENDPOINT=ws://127.0.0.1:8081/] node --test compat.test.mjs
// MONOLOGUE_ENDPOINT is a gateway that requires MONOLOGUE_API_KEY; the optional
// MONOLOGUE_OPEN_ENDPOINT is one that requires no key (as the original deployments did).
//
// The original never read these variables: this harness turns them into what the
// original did read — a .monologuerc in a temporary working directory (v2), or rc
// environment variables monologue_config__* (v1) — and imports a fresh instance of the
// model there, since the original read its configuration once, when it was loaded.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

const ENDPOINT = process.env.MONOLOGUE_ENDPOINT;
const KEY = process.env.MONOLOGUE_API_KEY;
const OPEN_ENDPOINT = process.env.MONOLOGUE_OPEN_ENDPOINT || '';
if (!ENDPOINT || !KEY) {
  throw new Error('MONOLOGUE_ENDPOINT and MONOLOGUE_API_KEY must name a running gateway and one of its API keys');
}

const SHORT = 600; // ms: the timeout used where a call is expected to expire

// ---------------------------------------------------------------------------------------
// harness

const tempDirs = [];
let instances = 0;

// Imports a fresh instance of a model with the working directory, $HOME and environment
// set up as given, so that its import-time rc lookup sees exactly that.
async function loadModel(file, { rc, env = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'monologue-compat-'));
  tempDirs.push(dir);
  if (rc !== undefined) fs.writeFileSync(path.join(dir, '.monologuerc'), rc);
  const saved = { cwd: process.cwd(), env: { ...process.env } };
  process.chdir(dir);
  process.env.HOME = dir;
  process.env.USERPROFILE = dir;
  Object.assign(process.env, env);
  try {
    const mod = await import(new URL(`./${file}?instance=${++instances}`, import.meta.url).href);
    return { Client: mod.default, TimeoutError: mod.TimeoutError, dir };
  } finally {
    process.chdir(saved.cwd);
    for (const k of Object.keys(process.env)) if (!(k in saved.env)) delete process.env[k];
    Object.assign(process.env, saved.env);
  }
}

function withKeyInQuery(endpoint, key) {
  const u = new URL(endpoint);
  u.searchParams.set('apiKey', key);
  return u.href;
}

const clients = [];
function track(c) {
  clients.push(c);
  return c;
}

async function connected(Client, opts) {
  const c = track(new Client(opts));
  await c.connect();
  return c;
}

async function waitFor(what, pred, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sent = (c) => c.wire.filter((f) => f.dir === 'out').map((f) => f.data);
const received = (c) => c.wire.filter((f) => f.dir === 'in').map((f) => f.data);
const parsedReceived = (c) =>
  received(c).flatMap((d) => {
    try {
      return [JSON.parse(d)];
    } catch {
      return [];
    }
  });

// A bare WebSocket peer speaking the wire protocol of wire/PROTOCOL.md, to send the original what
// the Go client or the gateway would send it.
async function rawPeer({ answer } = {}) {
  const ws = new WebSocket(ENDPOINT, { headers: { 'x-api-key': KEY } });
  await once(ws, 'open');
  ws.send('whoami');
  const [first] = await once(ws, 'message');
  const peer = { ws, id: first.toString(), frames: [] };
  ws.on('message', (data) => {
    const text = data.toString();
    peer.frames.push(text);
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (answer && frame.payload && frame.payload.type === 'REQ') {
      const reply = answer(frame.payload.data || {});
      if (reply) ws.send(JSON.stringify({ to: frame.from, payload: reply }));
    }
  });
  return peer;
}
const peers = [];

after(async () => {
  for (const c of clients) await Promise.resolve(c.close()).catch(() => {});
  for (const p of peers) p.ws.terminate();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

async function sampleMethodRoundTrip(caller, callee) {
  callee.on('sample-method', async (arg1, arg2) => `hello ${arg1} ${arg2}!`);
  return caller.call(callee.connectionId, 'sample-method', 'from', 'machine1');
}

// ---------------------------------------------------------------------------------------
// v2: whoami + $default, configured by the .monologuerc that `monologue serve` writes

describe('original v2 (whoami, $default) configured by .monologuerc [opts] endpoint + apiKey', () => {
  let V2;
  let TimeoutError;
  let m1;
  let m2;

  before(async () => {
    ({ Client: V2, TimeoutError } = await loadModel('original-v2.mjs', {
      rc: `[opts]\nendpoint=${ENDPOINT}\napiKey=${KEY}\n`,
    }));
    assert.equal(V2.config.opts.endpoint, ENDPOINT, 'the model read the endpoint from .monologuerc');
    assert.equal(V2.config.opts.apiKey, KEY, 'the model read the apiKey from .monologuerc');
    [m1, m2] = await Promise.all([connected(V2), connected(V2)]);
  });

  it('learns its ID from the first frame after the raw text whoami', () => {
    for (const m of [m1, m2]) {
      assert.deepEqual(m.handshake.options, { headers: { 'x-api-key': KEY } }, 'key sent as x-api-key');
      assert.equal(m.wire[0].dir, 'out');
      assert.equal(m.wire[0].data, 'whoami', 'first frame sent is the raw text whoami');
      assert.equal(m.wire[1].dir, 'in');
      assert.equal(typeof m.connectionId, 'string', 'the whoami reply is a text frame');
      assert.equal(m.wire[1].data, m.connectionId, 'the ID is the whole first frame, verbatim');
      assert.match(m.connectionId, /^[A-Za-z0-9_=+/-]{8,}$/, 'an opaque ID usable as a JSON string');
    }
    assert.notEqual(m1.connectionId, m2.connectionId);
  });

  it('calls sample-method on another client with args ["from","machine1"]', async () => {
    const ret = await sampleMethodRoundTrip(m2, m1);
    assert.equal(ret, 'hello from machine1!');

    const req = JSON.parse(sent(m2).at(-1));
    assert.deepEqual(Object.keys(req), ['to', 'payload'], 'a $default frame: no action');
    assert.equal(req.to, m1.connectionId);
    assert.equal(req.payload.type, 'REQ');
    assert.deepEqual(req.payload.data.args, ['from', 'machine1']);
    assert.equal(req.payload.data.name, 'sample-method');

    const delivered = parsedReceived(m1).find((f) => f.payload?.data?.token === req.payload.data.token);
    assert.ok(delivered, 'the callee received the request');
    assert.equal(delivered.from, m2.connectionId, 'from is the caller');
    assert.deepEqual(delivered.payload, req.payload, 'payload delivered unchanged');

    const ack = JSON.parse(sent(m1).at(-1));
    assert.deepEqual(ack, {
      to: m2.connectionId,
      payload: { data: { token: req.payload.data.token, ret: 'hello from machine1!' }, type: 'ACK' },
    });
  });

  it('passes arguments in order and returns structured values, undefined included', async () => {
    m1.on('structured', async (a, b, c) => ({ got: [a, b, c] }));
    m1.on('nothing', async () => undefined);
    const args = ['string1', { data: 'string1', n: [1, 2.5, null] }, true];
    assert.deepEqual(await m2.call(m1.connectionId, 'structured', ...args), { got: args });
    assert.equal(await m2.call(m1.connectionId, 'nothing'), undefined);
  });

  it('matches concurrent ACKs to their calls by token', async () => {
    m1.on('square', async (n) => {
      await new Promise((r) => setTimeout(r, (n * 7) % 23));
      return n * n;
    });
    const ns = Array.from({ length: 25 }, (_, i) => i);
    const rets = await Promise.all(ns.map((n) => m2.call(m1.connectionId, 'square', n)));
    assert.deepEqual(rets, ns.map((n) => n * n));
  });

  it('times out a call to an unknown method (no reply is ever sent)', async () => {
    const caller = await connected(V2, { timeout: SHORT });
    const before = sent(m1).length;
    const t0 = Date.now();
    await assert.rejects(caller.call(m1.connectionId, 'no-such-method', 1), TimeoutError);
    assert.ok(Date.now() - t0 >= SHORT - 50, 'it waited for its timeout');
    assert.ok(
      parsedReceived(m1).some((f) => f.payload?.data?.name === 'no-such-method' && f.from === caller.connectionId),
      'the request was delivered'
    );
    assert.equal(sent(m1).length, before, 'the callee sent nothing back');
  });

  it('ignores an ERR reply (from a Go-client callee) and times out instead; an ACK in the form of wire/PROTOCOL.md resolves', async () => {
    const peer = await rawPeer({
      answer: ({ token, name, args }) =>
        name === 'echo'
          ? { type: 'ACK', data: { token, ret: args } }
          : { type: 'ERR', data: { token, error: { code: 'not_found', message: `no method ${name}` } } },
    });
    peers.push(peer);
    const caller = await connected(V2, { timeout: SHORT });
    assert.deepEqual(await caller.call(peer.id, 'echo', 'a', 2), ['a', 2]);
    await assert.rejects(caller.call(peer.id, 'missing'), TimeoutError);
    assert.ok(
      parsedReceived(caller).some((f) => f.payload?.type === 'ERR'),
      'the ERR reached the original client, which ignored it'
    );
    assert.deepEqual(caller.loopErrors, []);
  });

  it('ignores the gateway error frame for a call to an unknown ID, times out, and stays usable', async () => {
    const caller = await connected(V2, { timeout: SHORT });
    await assert.rejects(caller.call('AAAAAAAAAAAAAAAAAAAA', 'sample-method'), TimeoutError);
    const errors = parsedReceived(caller).filter((f) => f.error);
    assert.equal(errors.length, 1, `one error frame: ${received(caller).join(' | ')}`);
    assert.equal(errors[0].error.code, 'gone');
    assert.equal(await caller.call(m1.connectionId, 'sample-method', 'still', 'here'), 'hello still here!');
  });

  it('a handshake without the key is refused, and connect() times out, as the original did', async () => {
    const noKey = track(new V2({ apiKey: '', timeout: SHORT }));
    await assert.rejects(noKey.connect(), TimeoutError);
    assert.deepEqual(noKey.wire, [], 'nothing was sent');
  });

  it('close() forgets the ID; a later call fails its assertion', async () => {
    const c = await connected(V2);
    await c.close();
    assert.equal(c.connectionId, '');
    await assert.rejects(c.call(m1.connectionId, 'sample-method'), assert.AssertionError);
  });
});

// ---------------------------------------------------------------------------------------
// v2 exactly as stored (no apiKey option): the key can only ride in the endpoint URL

describe('original v2 without an apiKey option, key in the endpoint query', () => {
  it('connects with no header and calls a v2 client that sends x-api-key (same tenant)', async () => {
    const { Client: Bare } = await loadModel('original-v2.mjs', {
      rc: `[opts]\nendpoint=${withKeyInQuery(ENDPOINT, KEY)}\n`,
    });
    const { Client: Keyed } = await loadModel('original-v2.mjs', {
      rc: `[opts]\nendpoint=${ENDPOINT}\napiKey=${KEY}\n`,
    });
    const [bare, keyed] = await Promise.all([connected(Bare), connected(Keyed)]);
    assert.equal(bare.handshake.options, undefined, 'no WebSocket options, no headers');
    assert.equal(await sampleMethodRoundTrip(bare, keyed), 'hello from machine1!');
    assert.equal(await sampleMethodRoundTrip(keyed, bare), 'hello from machine1!');
  });
});

// ---------------------------------------------------------------------------------------
// v1: loopback + sendmessage

describe('original v1 (loopback, sendmessage) configured by rc environment variables', () => {
  let V1;
  let m1;
  let m2;

  before(async () => {
    // v1 keeps its options in rc section "config"; with no rc file anywhere it reads them
    // from monologue_config__* (a .monologuerc would clobber them: see below).
    ({ Client: V1 } = await loadModel('original-v1.mjs', {
      env: { monologue_config__endpoint: withKeyInQuery(ENDPOINT, KEY), monologue_config__timeout: '15000' },
    }));
    assert.equal(V1.config.configs, undefined, `no rc file may be in reach: ${V1.config.configs}`);
    [m1, m2] = await Promise.all([connected(V1), connected(V1)]);
  });

  it('learns its ID from the loopback reply: {to, from, payload} with to = from and the token echoed', () => {
    for (const m of [m1, m2]) {
      assert.equal(m.handshake.options, undefined, 'no headers: v1 had no API key option');
      assert.equal(m.wire[0].dir, 'out');
      const req = JSON.parse(m.wire[0].data);
      assert.equal(m.wire[0].data, JSON.stringify({ action: 'loopback', payload: { token: req.payload.token } }));
      assert.equal(m.wire[1].dir, 'in');
      const reply = JSON.parse(m.wire[1].data);
      assert.deepEqual(reply, { to: m.connectionId, from: m.connectionId, payload: req.payload });
    }
    assert.notEqual(m1.connectionId, m2.connectionId);
  });

  it('calls sample-method on another client with args ["from","machine1"]', async () => {
    const ret = await sampleMethodRoundTrip(m2, m1);
    assert.equal(ret, 'hello from machine1!');

    const req = JSON.parse(sent(m2).at(-1));
    const token = req.payload.token;
    assert.equal(
      sent(m2).at(-1),
      JSON.stringify({
        to: m1.connectionId,
        action: 'sendmessage',
        payload: { token, name: 'sample-method', args: ['from', 'machine1'], type: 'REQ' },
      })
    );
    const delivered = parsedReceived(m1).find((f) => f.payload?.token === token);
    assert.deepEqual(delivered, { to: m1.connectionId, from: m2.connectionId, payload: req.payload });
    assert.equal(
      sent(m1).at(-1),
      JSON.stringify({
        to: m2.connectionId,
        action: 'sendmessage',
        payload: { token, ret: 'hello from machine1!', type: 'ACK' },
      })
    );
    for (const m of [m1, m2]) assert.deepEqual(m.unhandledRejections, []);
  });

  it('passes arguments in order and matches concurrent ACKs by token', async () => {
    m1.on('test1', async (a, b, c) => ({ sample: [a, b, c] }));
    const args = ['string1', { data: 'string1' }, true];
    assert.deepEqual(await m2.call(m1.connectionId, 'test1', ...args), { sample: args });
    m1.on('double', async (n) => 2 * n);
    const ns = Array.from({ length: 20 }, (_, i) => i);
    assert.deepEqual(await Promise.all(ns.map((n) => m2.call(m1.connectionId, 'double', n))), ns.map((n) => 2 * n));
    for (const m of [m1, m2]) assert.deepEqual(m.unhandledRejections, []);
  });

  it('a call to an unknown method resolves to undefined after the timeout', async () => {
    const caller = await connected(V1, { timeout: SHORT });
    const before = sent(m1).length;
    const t0 = Date.now();
    assert.equal(await caller.call(m1.connectionId, 'no-such-method'), undefined);
    assert.ok(Date.now() - t0 >= SHORT - 50, 'it waited for its timeout');
    assert.equal(sent(m1).length, before, 'the callee sent nothing back');
    await waitFor('the callee to reject the request', () => m1.unhandledRejections.length === 1);
    assert.equal(m1.unhandledRejections[0].name, 'AssertionError', 'no handler: an assertion, no reply');
    m1.unhandledRejections.length = 0;
  });

  it('with a .monologuerc in reach, v1 loses its configuration (rc overwrites "config" with the file path)', async () => {
    const { Client } = await loadModel('original-v1.mjs', {
      rc: `[config]\nendpoint=${withKeyInQuery(ENDPOINT, KEY)}\n`,
    });
    assert.equal(typeof Client.config.config, 'string');
    const c = track(new Client());
    assert.equal(c._opts.endpoint, undefined);
    await assert.rejects(c.connect());
  });
});

// ---------------------------------------------------------------------------------------
// v1 and v2 on one gateway

describe('original v1 and v2 on one gateway', () => {
  let v1;
  let v2;
  let V2TimeoutError;

  before(async () => {
    const { Client: V1 } = await loadModel('original-v1.mjs', {
      env: { monologue_config__endpoint: withKeyInQuery(ENDPOINT, KEY), monologue_config__timeout: String(SHORT) },
    });
    const loaded = await loadModel('original-v2.mjs', {
      rc: `[opts]\nendpoint=${ENDPOINT}\napiKey=${KEY}\ntimeout=${SHORT}\n`,
    });
    V2TimeoutError = loaded.TimeoutError;
    [v1, v2] = await Promise.all([connected(V1), connected(loaded.Client)]);
    v1.on('sample-method', async (a, b) => `hello ${a} ${b}!`);
    v2.on('sample-method', async (a, b) => `hello ${a} ${b}!`);
  });

  it('v1 → v2: the sendmessage frame is delivered, v2 cannot read a flat payload, v1 resolves undefined', async () => {
    assert.equal(await v1.call(v2.connectionId, 'sample-method', 'from', 'machine1'), undefined);
    const req = JSON.parse(sent(v1).at(-1));
    const delivered = parsedReceived(v2).find((f) => f.payload?.token === req.payload.token);
    assert.ok(delivered, 'the v1 request reached the v2 client');
    assert.equal(delivered.from, v1.connectionId);
    assert.deepEqual(delivered.payload, req.payload);
    assert.deepEqual(sent(v2), ['whoami'], 'v2 sent no reply');
  });

  it('v2 → v1: the $default frame is delivered with to = v1, v1 cannot read a nested payload, v2 times out', async () => {
    const v1Sent = sent(v1).length;
    await assert.rejects(v2.call(v1.connectionId, 'sample-method', 'from', 'machine1'), V2TimeoutError);
    const req = JSON.parse(sent(v2).at(-1));
    const delivered = parsedReceived(v1).find((f) => f.payload?.data?.token === req.payload.data.token);
    assert.ok(delivered, 'the v2 request reached the v1 client');
    assert.equal(delivered.to, v1.connectionId, 'v1 requires to = its own ID');
    assert.equal(delivered.from, v2.connectionId);
    assert.deepEqual(delivered.payload, req.payload);
    assert.equal(sent(v1).length, v1Sent, 'v1 sent no reply');
    assert.equal(v1.unhandledRejections.length, 1, 'v1 failed an assertion on the request (no name, no token)');
    assert.equal(v1.unhandledRejections[0].name, 'AssertionError');
  });
});

// ---------------------------------------------------------------------------------------
// the stored sources, unchanged, against a gateway that requires no key

describe('original v1 and v2 with no key at all, on a gateway that requires none', { skip: !OPEN_ENDPOINT && 'MONOLOGUE_OPEN_ENDPOINT not set' }, () => {
  it('v1 ↔ v1 and v2 ↔ v2', async () => {
    const { Client: V1 } = await loadModel('original-v1.mjs', {
      env: { monologue_config__endpoint: OPEN_ENDPOINT, monologue_config__timeout: '15000' },
    });
    const { Client: V2 } = await loadModel('original-v2.mjs', { rc: `[opts]\nendpoint=${OPEN_ENDPOINT}\n` });
    const [a1, b1, a2, b2] = await Promise.all([connected(V1), connected(V1), connected(V2), connected(V2)]);
    assert.equal(await sampleMethodRoundTrip(a1, b1), 'hello from machine1!');
    assert.equal(await sampleMethodRoundTrip(a2, b2), 'hello from machine1!');
  });
});

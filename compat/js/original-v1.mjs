// Behavioural model of the ORIGINAL monologue JavaScript client, older version ("v1"):
// `{"action":"loopback",…}` to learn the connection ID, then `{"action":"sendmessage",…}`
// frames whose payload is flat: {"token","name","args","type":"REQ"} /
// {"token","ret","type":"ACK"}.
//
// Models: github.com/rootstream/monologue, stored as rootstream/_ARCHIVED-monologue —
//   index.js         at 06bcfbd729cf62aca73b89f73ade9c98b2f8b35e (the loopback/sendmessage client),
//   once.js          at 06bcfbd729cf62aca73b89f73ade9c98b2f8b35e (its connect/close guard),
//   package.json     at 06bcfbd729cf62aca73b89f73ade9c98b2f8b35e (ws ^7.1.2, rc, eventemitter2,
//                    bluebird, uniqid, lodash),
//   test/client.test.js at 06bcfbd729cf62aca73b89f73ade9c98b2f8b35e,
//   loopback/app.js  at 6c6d7e242e3d0f55c74b118902d4f6914ead582d (the server's loopback reply
//                    {to, from, payload} with to = from = the sender).
// This is a re-implementation written from a study of the original's behaviour: same
// frames, same order, same parsing, same ID logic, same ACK matching, same configuration
// lookup. No code was copied from it. It runs on ws 8 where the original ran on ws 7.
//
// What v1 did that differs from v2 (and from the RPC convention in wire/PROTOCOL.md):
//  * RPC payloads are flat ({token,name,args,type}), not {type,data:{…}}: v1 and v2 (and
//    so the Go client) never understood each other's calls.
//  * Configuration lives in rc section "config" (`[config]` in .monologuerc, or env
//    `monologue_config__endpoint=…`). But rc, whenever it reads any file, sets the
//    top-level key `config` to that file's path — so with any .monologuerc (or
//    ~/.monologuerc …) present, v1 loses all its configured options, and its timeout
//    becomes NaN (a ~1 ms connect timeout) unless passed to the constructor.
//  * No API key option: `new WebSocket(endpoint)` with no headers. A key can only travel
//    in the endpoint URL (`?apiKey=…`).
//  * Any frame that is neither a REQ nor an ACK for it (an error frame, an ERR payload, a
//    frame whose `to` is not its own ID) fails an assertion inside an async 'message'
//    listener: an unhandled promise rejection — a warning on the Node 10 it was written
//    for, a process crash on Node >= 15. The model records these in `unhandledRejections`
//    instead of crashing the test process.
//  * A call that gets no ACK resolves to `undefined` after the timeout (it does not reject).

import assert from 'node:assert';
import WebSocket from 'ws';
import {
  Emitter2,
  defaultsDeep,
  get,
  loadRc,
  oneShot,
  uniqid,
  withTimeout,
  ws7MessageValue,
} from './original-support.mjs';

const DEFAULT_CONFIG = { config: { endpoint: '', timeout: 5000, listeners: 100 } };

// Read once, when the module is loaded, like the original's module-level rc('monologue').
const CONFIG = loadRc('monologue', DEFAULT_CONFIG);

export { TimeoutError } from './original-support.mjs';

export default class MonologueClient extends Emitter2 {
  // The merged configuration this module instance read at import time.
  static get config() {
    return CONFIG;
  }

  constructor(opts) {
    super({ maxListeners: get(CONFIG.config, ['listeners']) });
    this._id = uniqid('client');
    this._opts = defaultsDeep(opts, CONFIG.config);
    this._callbacks = Object.create(null);
    this._connected = false;
    this._connectionId = '';
    // Model-only observation hooks (the original logged the same through debug()).
    this.wire = [];
    this.handshake = null;
    this.unhandledRejections = [];
    // In the original an exception here escaped a ws event listener: an uncaught
    // exception that ended the process. The model records it and fails connect() instead.
    this.uncaughtExceptions = [];

    this.connect = oneShot(() => this._doConnect());
    this.close = oneShot(() => this._doClose());
  }

  get connectionId() {
    return this._connectionId;
  }

  async _doConnect() {
    assert.ok(!this._connected);
    this.handshake = { endpoint: this._opts.endpoint, options: undefined };
    this._ws = new WebSocket(this._opts.endpoint);
    // close() is the listener itself; when it fails ("not connected") nobody catches it.
    const closeListener = () => {
      Promise.resolve(this.close()).catch((err) => this.unhandledRejections.push(err));
    };
    this._ws.once('close', closeListener);
    this._ws.once('error', closeListener);
    await withTimeout(
      new Promise((resolve, reject) => {
        this._ws.once('open', () => {
          const token = uniqid(this._id);
          this._send(JSON.stringify({ action: 'loopback', payload: { token } }));
          // The first frame after the loopback request must be its reply.
          this._ws.once('message', (data, isBinary) => {
            const value = ws7MessageValue(data, isBinary);
            this.wire.push({ dir: 'in', data: value });
            try {
              const { to, from, payload } = JSON.parse(value);
              assert.ok(get(payload, ['token']) === token);
              assert.ok(to === from);
              this._connectionId = to;
              this._connected = true;
              this._ws.on('message', (d, b) => {
                this._messageLoop(ws7MessageValue(d, b)).catch((err) => this.unhandledRejections.push(err));
              });
              this.emit('connect');
              resolve();
            } catch (err) {
              this.uncaughtExceptions.push(err);
              reject(err);
            }
          });
        });
      }),
      +this._opts.timeout
    );
  }

  async _messageLoop(what) {
    this.wire.push({ dir: 'in', data: what });
    const { to, from, payload } = JSON.parse(what);
    assert.ok(to === this._connectionId);

    const type = get(payload, ['type'], '');
    const token = get(payload, ['token'], 'invalid');

    if (type === 'REQ') {
      const name = get(payload, ['name'], '');
      const args = get(payload, ['args'], []);
      const fn = this.listeners(name)[0];
      assert.ok(typeof fn === 'function');
      const ret = await fn.apply(null, args);
      this._send(JSON.stringify({ to: from, action: 'sendmessage', payload: { token, ret, type: 'ACK' } }));
    } else if (type === 'ACK') {
      assert.ok(this._callbacks[token]);
      const ret = get(payload, ['ret']);
      this._callbacks[token](ret);
      delete this._callbacks[token];
    } else {
      assert.ok(false);
    }
  }

  async call(to, name, ...args) {
    assert.ok(this._connected);
    const token = uniqid(this._id);
    this._send(JSON.stringify({ to, action: 'sendmessage', payload: { token, name, args, type: 'REQ' } }));
    try {
      return await withTimeout(
        new Promise((resolve) => {
          this._callbacks[token] = resolve;
        }),
        this._opts.timeout
      );
    } catch {
      // Expired: forgotten, and the call resolves to undefined.
      delete this._callbacks[token];
      return undefined;
    }
  }

  async _doClose() {
    assert.ok(this._connected);
    this._ws.close();
    this._connected = false;
    this._connectionId = '';
  }

  _send(text) {
    this.wire.push({ dir: 'out', data: text });
    this._ws.send(text);
  }
}

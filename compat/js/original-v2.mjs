// Behavioural model of the ORIGINAL monologue JavaScript client, newer version ("v2"):
// raw-text `whoami` to learn the connection ID, then `$default`-route frames
// {"to":ID,"payload":{"data":{…},"type":"REQ"|"ACK"}}.
//
// Models: github.com/rootstream/monologue (npm @rootstream/monologue), stored as
// rootstream/_ARCHIVED-monologue —
//   index.js      at f70e4260af2534d6d9c05eed7dee9348bc2d75b4 (the whoami/$default client),
//   README.md     at 70c2a71fc2190d1593a891413d09beee55477533 (options endpoint, apiKey,
//                 timeout "default: 15s", listeners "default: 100"),
//   package.json  at 7d9869b345365c0cc2317bd7193d711483a95cd4 (deps ws ^7.1.2, rc,
//                 eventemitter2, bluebird, uniqid, @rootstream/once; its `configure`
//                 script writes `.monologuerc` as "[opts]" + "endpoint=…" + "apiKey=…"),
//   router/app.js at 2c4a1839c33a1ce101909083a065a32b8b8d976d (the server it talked to).
// This is a re-implementation written from a study of the original's behaviour: same
// frames, same order, same parsing, same ID logic, same ACK matching, same configuration
// lookup. No code was copied from it. It runs on ws 8 where the original ran on ws 7.
//
// Two points where the stored source and its documentation differ, and what this does:
//  * API key. The stored index.js calls `new WebSocket(endpoint)` with no options, so it
//    sends no key at all; the README documents an `apiKey` option and the deploy script
//    writes `apiKey=` into .monologuerc, and the only way API Gateway accepts a key on a
//    WebSocket is the `x-api-key` handshake header. The model sends `x-api-key: <apiKey>`
//    when an apiKey is configured and no header otherwise — which is exactly the stored
//    source when apiKey is unset (a key can then only travel in the endpoint URL,
//    e.g. `endpoint=ws://host/?apiKey=…`).
//  * Defaults. The stored source defaults to timeout 5000 ms and 20 listeners; the README
//    says 15 s and 100. The model uses the README's (published) values.

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

const DEFAULT_CONFIG = { opts: { endpoint: '', timeout: 15000, listeners: 100 } };

// Read once, when the module is loaded, like the original's module-level rc('monologue').
const CONFIG = loadRc('monologue', DEFAULT_CONFIG);

export { TimeoutError } from './original-support.mjs';

export default class MonologueClient extends Emitter2 {
  // The merged configuration this module instance read at import time.
  static get config() {
    return CONFIG;
  }

  constructor(opts) {
    super({ maxListeners: CONFIG.opts?.listeners });
    this._id = uniqid('client');
    this._opts = defaultsDeep(opts, CONFIG.opts);
    this._callbacks = Object.create(null);
    this._connected = false;
    this._connectionId = '';
    // Model-only observation hooks (the original logged the same through debug()):
    // every frame sent or handled, in order, as ws 7 would have handed it over, and the
    // options given to the WebSocket constructor.
    this.wire = [];
    this.handshake = null;
    this.loopErrors = [];

    this.connect = oneShot(() => this._doConnect());
    this.close = oneShot(() => this._doClose());
  }

  get connectionId() {
    return this._connectionId;
  }

  async _doConnect() {
    assert.ok(!this._connected);
    const wsOptions = this._opts.apiKey ? { headers: { 'x-api-key': String(this._opts.apiKey) } } : undefined;
    this.handshake = { endpoint: this._opts.endpoint, options: wsOptions };
    this._ws = new WebSocket(this._opts.endpoint, wsOptions);
    // A failed handshake or a dropped socket ends up in close(), whose failure ("not
    // connected") is swallowed: connect() then simply times out.
    const silentClose = async () => {
      await this.close().catch(() => {});
    };
    this._ws.once('close', silentClose);
    this._ws.once('error', silentClose);
    await withTimeout(
      new Promise((resolve) => {
        this._ws.once('open', () => {
          this._send('whoami');
          // The first frame after `whoami`, whatever it is, is taken as the ID, verbatim.
          this._ws.once('message', (data, isBinary) => {
            const value = ws7MessageValue(data, isBinary);
            this.wire.push({ dir: 'in', data: value });
            this._connectionId = value;
            this._connected = true;
            this._ws.on('message', (d, b) => this._messageLoop(ws7MessageValue(d, b)));
            resolve();
          });
        });
      }),
      +this._opts.timeout
    );
  }

  async _messageLoop(what) {
    this.wire.push({ dir: 'in', data: what });
    try {
      // Only `from` and `payload` are read; `to` (and anything else) is ignored.
      const { from, payload } = JSON.parse(what);
      const type = get(payload, ['type'], '');
      const token = get(payload, ['data', 'token'], 'invalid');

      if (type === 'REQ') {
        const name = get(payload, ['data', 'name'], '');
        const args = get(payload, ['data', 'args'], []);
        const fn = this.listeners(name)[0];
        assert.ok(fn); // no handler: nothing is sent back, the caller times out
        const ret = await fn.apply(null, args); // a throwing handler: same, no reply
        this._send(JSON.stringify({ to: from, payload: { data: { token, ret }, type: 'ACK' } }));
      }

      if (type === 'ACK') {
        assert.ok(this._callbacks[token]);
        const ret = get(payload, ['data', 'ret']);
        this._callbacks[token](ret);
        delete this._callbacks[token];
      }
      // Any other type ("ERR" included), an error frame, or a frame that is not JSON:
      // nothing happens.
    } catch (err) {
      this.loopErrors.push(err);
    }
  }

  async call(to, name, ...args) {
    assert.ok(this._connected);
    const token = uniqid(this._id);
    this._send(JSON.stringify({ to, payload: { data: { token, name, args }, type: 'REQ' } }));
    try {
      return await withTimeout(
        new Promise((resolve) => {
          this._callbacks[token] = resolve;
        }),
        +this._opts.timeout
      );
    } catch (err) {
      delete this._callbacks[token];
      throw err; // TimeoutError, back to the caller
    }
  }

  async _doClose() {
    assert.ok(this._connected);
    this._ws.removeAllListeners('message');
    this._ws.close();
    this._connected = false;
    this._connectionId = '';
  }

  _send(text) {
    this.wire.push({ dir: 'out', data: text });
    this._ws.send(text);
  }
}

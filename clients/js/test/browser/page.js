// Scenarios of the client in a real browser (native WebSocket, the API key
// in the query). browser.test.ts runs each through window.scenarios and
// fails with the error a scenario throws.

import {
  AbortError,
  ClosedError,
  DisconnectedError,
  GoneError,
  HandlerError,
  Monologue,
  MonologueError,
  NotFoundError,
  TimeoutError,
} from '/dist/index.js';

const params = new URLSearchParams(location.search);
const endpoint = params.get('endpoint');
const apiKey = params.get('apiKey');
const goPeer = params.get('goPeer');

function assert(cond, what) {
  if (!cond) throw new Error(`assertion failed: ${what}`);
}

async function rejects(promise, Class, what) {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Class) return err;
    throw new Error(`${what}: rejected with ${err}, want ${Class.name}`);
  }
  throw new Error(`${what}: resolved, want ${Class.name}`);
}

function bigString(n) {
  const parts = [];
  let length = 0;
  for (let i = 0; length < n; i++) {
    const part = String(i).padStart(8, '0') + '.';
    parts.push(part);
    length += part.length;
  }
  return parts.join('').slice(0, n);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const connect = (options = {}) => Monologue.connect({ endpoint, apiKey, ...options });

let a;
let b;
let c;
let reconnected;

window.scenarios = {
  async connect() {
    a = await connect();
    b = await connect({ timeout: 2000 });
    assert(typeof WebSocket === 'function', 'a native WebSocket');
    assert(/^[A-Za-z0-9+/]{15}=$/.test(a.id) && a.id !== b.id, `two IDs: ${a.id} ${b.id}`);
    return a.id;
  },

  async refusedKey() {
    // A browser is not told the status of a refused handshake: DisconnectedError, not ForbiddenError.
    const err = await rejects(Monologue.connect({ endpoint, apiKey: 'wrong' }), DisconnectedError, 'a wrong key');
    assert(err instanceof MonologueError, 'a MonologueError');
  },

  async calls() {
    a.handle('sample-method', async (x, y) => `hello ${x} ${y}!`);
    a.handle('whoami', function () {
      return { from: this.from, method: this.method };
    });
    a.handle('echo', (...args) => args);
    assert((await b.call(a.id, 'sample-method', 'from', 'machine1')) === 'hello from machine1!', 'the result');
    const who = await b.call(a.id, 'whoami');
    assert(who.from === b.id && who.method === 'whoami', 'this.from and this.method');
    const args = ['s', 1, 2.5, true, null, { x: ['é€😀'] }];
    assert(JSON.stringify(await b.call(a.id, 'echo', ...args)) === JSON.stringify(args), 'every JSON kind');
  },

  async errors() {
    a.handle('throws', () => {
      throw new Error('broken in the browser');
    });
    const notFound = await rejects(b.call(a.id, 'nope'), NotFoundError, 'an unknown method');
    assert(notFound.code === 'not_found' && notFound.peer === a.id, 'code and peer');
    const failed = await rejects(b.call(a.id, 'throws'), HandlerError, 'a handler that throws');
    assert(/broken in the browser/.test(failed.message), failed.message);
    await rejects(b.call('AAAAAAAAAAAAAAAAAAAAAA==', 'x'), GoneError, 'a gone peer');
  },

  async timeoutAndAbort() {
    a.handle('slow', (ms) => sleep(ms).then(() => 'late'));
    await rejects(b.callWith({ timeout: 150 }, a.id, 'slow', 1000), TimeoutError, 'a timeout');
    const controller = new AbortController();
    const call = b.callWith({ signal: controller.signal }, a.id, 'slow', 1000);
    setTimeout(() => controller.abort(), 30);
    await rejects(call, AbortError, 'an aborted call');
  },

  async messages() {
    const got = [];
    a.on('message', (m) => got.push(m));
    await b.send(a.id, { hello: 'page' });
    for (let i = 0; got.length === 0 && i < 200; i++) await sleep(10);
    assert(got.length === 1 && got[0].from === b.id && got[0].payload.hello === 'page', JSON.stringify(got));
  },

  async channels() {
    const got = [];
    const sub = await a.subscribe('page-news', (m) => got.push(m));
    await b.publish('page-news', 'one');
    for (let i = 0; got.length === 0 && i < 200; i++) await sleep(10);
    assert(got.length === 1 && got[0].channel === 'page-news' && got[0].from === b.id, JSON.stringify(got));
    await sub.unsubscribe();
    await b.publish('page-news', 'two');
    await a.ping();
    await b.ping();
    assert(got.length === 1, 'nothing after unsubscribe');
  },

  async concurrentCalls() {
    const n = 500;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => b.call(a.id, 'echo', i)));
    assert(results.every((r, i) => r[0] === i), 'each call its own result');
  },

  async goPeer() {
    assert((await b.call(goPeer, 'concat', 'from ', 'the browser')) === 'from the browser', 'a call to the Go client');
    const big = bigString(1 << 20);
    const back = await b.call(goPeer, 'echo', big);
    assert(back[0] === big, '1 MiB to the Go client and back, in parts');
  },

  async chunked() {
    const big = bigString(2 << 20);
    const back = await b.call(a.id, 'echo', big);
    assert(back[0] === big, '2 MiB between two clients of the page, in parts');
  },

  async reconnectStart() {
    c = await connect({ reconnect: { minDelay: 20, maxDelay: 200 } });
    c.handle('still-here', () => 'yes');
    reconnected = new Promise((resolve) => c.on('reconnect', resolve));
    return c.id;
  },

  async reconnectCheck(oldID) {
    const id = await reconnected;
    assert(id !== oldID && c.id === id, 'a new ID');
    assert((await b.call(c.id, 'still-here')) === 'yes', 'handlers kept');
  },

  async close() {
    await Promise.all([a.close(), b.close(), c.close()]);
    await rejects(a.call(b.id, 'x'), ClosedError, 'a call after close');
  },
};

window.ready = true;

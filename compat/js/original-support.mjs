// Pieces shared by the two behavioural models of the original JavaScript monologue
// client (original-v1.mjs, original-v2.mjs).
//
// The original (github.com/rootstream/monologue, stored as rootstream/_ARCHIVED-monologue)
// leaned on a handful of npm packages whose behaviour shows on the wire or in how the
// client is configured: `rc` + `ini` (configuration), `eventemitter2` (RPC handlers are
// event listeners), `uniqid` (call tokens), `bluebird` (`.timeout()`), and its own `once`
// helper (./once.js, later @rootstream/once). This file re-implements only the parts of
// their behaviour that the client depends on. It was written from a study of that
// behaviour; no code was copied from those projects.

import fs from 'node:fs';
import path from 'node:path';

// ---------------------------------------------------------------------------------------
// bluebird's Promise#timeout(ms): rejects with a TimeoutError("operation timed out") when
// the promise has not settled after +ms milliseconds. A NaN delay behaves as setTimeout's
// (about 1 ms), which matters for v1 when its configuration is lost (see original-v1.mjs).

export class TimeoutError extends Error {
  constructor(message = 'operation timed out') {
    super(message);
    this.name = 'TimeoutError';
  }
}

export function withTimeout(promise, ms) {
  const delay = +ms;
  let timer;
  const expiry = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError()), delay);
  });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------
// The original's `once(fn, { reentrant: true })`. It only takes its reentrant branch when
// util.types.isAsyncFunction(fn) is true, and the client always passed a *bound* method
// (`this._doConnect.bind(this)`), for which isAsyncFunction is false. So in practice
// connect() and close() run their body at most once per client object: every later call
// returns the first call's promise, settled or not. (Hence "not reentrant!" in its README.)

export function oneShot(fn) {
  let called = false;
  let value;
  return function oneShotWrapper(...args) {
    if (called) return value;
    called = true;
    value = fn.apply(this, args);
    return value;
  };
}

// ---------------------------------------------------------------------------------------
// uniqid(prefix): prefix + a per-process "address" + a base-36 timestamp that never
// repeats within the process. Only its shape (a unique string) matters on the wire.

const processAddress = (process.pid.toString(36) + Math.random().toString(36).slice(2, 8)).slice(0, 10);
let lastStamp = 0;

export function uniqid(prefix = '') {
  const now = Date.now();
  lastStamp = now > lastStamp ? now : lastStamp + 1;
  return prefix + processAddress + lastStamp.toString(36);
}

// ---------------------------------------------------------------------------------------
// lodash's _.get(obj, path, default) for a path given as an array of keys: the default is
// used only when the value found is undefined.

export function get(obj, keys, fallback) {
  let cur = obj;
  for (const k of keys) {
    if (cur === null || cur === undefined) return fallback;
    cur = cur[k];
  }
  return cur === undefined ? fallback : cur;
}

// lodash's _.defaultsDeep(opts, source): fills keys missing (undefined) in opts from
// source, recursing into plain objects. A source that is not an object contributes no
// option (lodash would copy a string's character indices, which the client never reads).

export function defaultsDeep(opts, source) {
  const out = opts !== null && typeof opts === 'object' ? opts : {};
  if (source === null || typeof source !== 'object') return out;
  for (const [k, v] of Object.entries(source)) {
    if (out[k] === undefined) {
      out[k] = isPlainObject(v) ? defaultsDeep({}, v) : v;
    } else if (isPlainObject(out[k]) && isPlainObject(v)) {
      defaultsDeep(out[k], v);
    }
  }
  return out;
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------
// `ini` (as used by rc 1.2): "[section]" lines open a section; "key=value" splits at the
// first "="; lines starting with ; or # are comments; an unquoted value ends at the first
// unescaped ; or #; "quoted" values are JSON-decoded; true/false/null become booleans and
// null; every other value stays a string (so timeout=5000 is the string "5000", which is
// why the client writes `+this._opts.timeout`); dotted section names nest.

export function parseIni(text) {
  const out = {};
  let cursor = out;
  for (const rawLine of text.split(/[\r\n]+/)) {
    if (!rawLine || /^\s*[;#]/.test(rawLine)) continue;
    const line = rawLine.trim();
    const section = /^\[([^\]]*)\]$/.exec(line);
    if (section) {
      const name = iniValue(section[1]);
      cursor = out[name] = isPlainObject(out[name]) ? out[name] : {};
      continue;
    }
    const eq = line.indexOf('=');
    const key = iniValue(eq < 0 ? line : line.slice(0, eq));
    if (!key) continue;
    let value = eq < 0 ? true : iniValue(line.slice(eq + 1));
    if (value === 'true' || value === 'false' || value === 'null') value = JSON.parse(value);
    if (key.length > 2 && key.endsWith('[]')) {
      const k = key.slice(0, -2);
      cursor[k] = Array.isArray(cursor[k]) ? cursor[k] : cursor[k] === undefined ? [] : [cursor[k]];
      cursor[k].push(value);
    } else {
      cursor[key] = value;
    }
  }
  // [a.b] → { a: { b: … } }
  for (const name of Object.keys(out)) {
    if (!name.includes('.') || !isPlainObject(out[name])) continue;
    const parts = name.split('.');
    const leaf = parts.pop();
    let p = out;
    for (const part of parts) p = p[part] = isPlainObject(p[part]) ? p[part] : {};
    p[leaf] = out[name];
    delete out[name];
  }
  return out;
}

function iniValue(raw) {
  const v = raw.trim();
  if ((v.startsWith('"') && v.endsWith('"') && v.length > 1) || (v.startsWith("'") && v.endsWith("'") && v.length > 1)) {
    const inner = v.startsWith("'") ? v.slice(1, -1) : v;
    try {
      return JSON.parse(inner);
    } catch {
      return inner;
    }
  }
  let s = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c === '\\' && i + 1 < v.length) {
      const n = v[++i];
      s += n === ';' || n === '#' || n === '\\' ? n : '\\' + n;
    } else if (c === ';' || c === '#') {
      break;
    } else {
      s += c;
    }
  }
  return s.trim();
}

// ---------------------------------------------------------------------------------------
// rc(appname, defaults) as of rc 1.2: deep-merges, lowest precedence first, the defaults,
// /etc/<app>/config, /etc/<app>rc, ~/.config/<app>/config, ~/.config/<app>,
// ~/.<app>/config, ~/.<app>rc, the first .<app>rc found walking up from the current
// directory, the file named by <app>_config, then environment variables
// `<app>_a__b=value` (prefix matched case-insensitively, `__` nests: a.b = value), and
// finally — whenever at least one file was read — { configs: [files…], config: <last
// file> }. That last step overwrites a top-level key named `config`, which is exactly
// the section v1 of the client kept its options in (see original-v1.mjs). Files that
// start with "{" are JSON, anything else INI. (rc also merges command-line flags parsed
// by minimist; the models do not, the test runner's flags being no client's config.)
// Like the original, which called rc at require time, the models call this once, when
// they are imported, relative to process.cwd() and $HOME at that moment.

export function loadRc(name, defaults) {
  const home = process.platform === 'win32' ? process.env.USERPROFILE : process.env.HOME;
  const env = envConfig(name + '_');
  const layers = [structuredClone(defaults)];
  const files = [];
  const add = (file) => {
    if (!file || files.includes(file)) return;
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return;
    }
    if (!text) return;
    layers.push(/^\s*{/.test(text) ? JSON.parse(text) : parseIni(text));
    files.push(file);
  };
  if (process.platform !== 'win32') {
    add(path.join('/etc', name, 'config'));
    add(path.join('/etc', name + 'rc'));
  }
  if (home) {
    add(path.join(home, '.config', name, 'config'));
    add(path.join(home, '.config', name));
    add(path.join(home, '.' + name, 'config'));
    add(path.join(home, '.' + name + 'rc'));
  }
  add(findUp('.' + name + 'rc'));
  if (typeof env.config === 'string') add(env.config);
  layers.push(env);
  if (files.length) layers.push({ configs: files, config: files[files.length - 1] });
  return layers.reduce((acc, layer) => deepExtend(acc, layer), {});
}

function findUp(rel) {
  let dir = process.cwd();
  for (;;) {
    const candidate = path.join(dir, rel);
    try {
      fs.statSync(candidate);
      return candidate;
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  }
}

function envConfig(prefix) {
  const out = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith(prefix.toLowerCase())) continue;
    const keys = k.slice(prefix.length).split('__').filter(Boolean);
    let cursor = out;
    keys.forEach((key, i) => {
      if (typeof cursor !== 'object') return;
      if (i === keys.length - 1) cursor[key] = v;
      if (cursor[key] === undefined) cursor[key] = {};
      cursor = cursor[key];
    });
  }
  return out;
}

// deep-extend: objects merge key by key; anything else (string, number, array) replaces.
function deepExtend(target, source) {
  if (!isPlainObject(source)) return target;
  for (const [k, v] of Object.entries(source)) {
    if (isPlainObject(v)) {
      target[k] = deepExtend(isPlainObject(target[k]) ? target[k] : {}, v);
    } else {
      target[k] = Array.isArray(v) ? v.slice() : v;
    }
  }
  return target;
}

// ---------------------------------------------------------------------------------------
// EventEmitter2 with { wildcard: true } (delimiter "."): the client *is* the emitter, and
// an RPC method is just a listener: `client.on('sample-method', fn)`. A call runs the
// first of `listeners(name)`. With wildcards a listener registered as "math.*" serves
// "math.add", and "**" matches any number of segments; listeners on an exact segment come
// before "*" ones, which come before "**" ones. `maxListeners` (the client's `listeners`
// option, "maximum number of RPC methods") only triggers a warning when one event name
// has more listeners than that; it never refuses a handler.

export class Emitter2 {
  constructor({ maxListeners } = {}) {
    this._entries = [];
    this._seq = 0;
    this._maxListeners = maxListeners === undefined || maxListeners === null ? 10 : +maxListeners;
    this.warnings = [];
  }

  on(event, fn) {
    if (typeof fn !== 'function') throw new TypeError('on only accepts instances of Function');
    const pattern = splitEvent(event);
    this._entries.push({ pattern, fn, seq: this._seq++ });
    const same = this._entries.filter((e) => e.pattern.join('.') === pattern.join('.')).length;
    if (this._maxListeners > 0 && same > this._maxListeners) {
      this.warnings.push(`possible EventEmitter memory leak detected. ${same} listeners added.`);
    }
    return this;
  }

  addListener(event, fn) {
    return this.on(event, fn);
  }

  off(event, fn) {
    const key = splitEvent(event).join('.');
    const i = this._entries.findIndex((e) => e.pattern.join('.') === key && e.fn === fn);
    if (i >= 0) this._entries.splice(i, 1);
    return this;
  }

  removeListener(event, fn) {
    return this.off(event, fn);
  }

  removeAllListeners(event) {
    if (event === undefined) this._entries = [];
    else {
      const key = splitEvent(event).join('.');
      this._entries = this._entries.filter((e) => e.pattern.join('.') !== key);
    }
    return this;
  }

  listeners(event) {
    const name = splitEvent(event);
    return this._entries
      .map((e) => ({ e, rank: matchRank(e.pattern, name) }))
      .filter((m) => m.rank !== null)
      .sort((a, b) => compareRank(a.rank, b.rank) || a.e.seq - b.e.seq)
      .map((m) => m.e.fn);
  }

  emit(event, ...args) {
    const fns = this.listeners(event);
    for (const fn of fns) fn.apply(this, args);
    return fns.length > 0;
  }
}

function splitEvent(event) {
  if (typeof event === 'string') return event.split('.');
  if (Array.isArray(event)) return event.slice();
  throw new TypeError('event name must be a string or an array');
}

// Returns null when pattern does not match name, else a list of per-segment ranks
// (0 exact, 1 "*", 2 "**") used to order the matching listeners.
function matchRank(pattern, name, pi = 0, ni = 0) {
  if (pi === pattern.length) return ni === name.length ? [] : null;
  const seg = pattern[pi];
  if (seg === '**') {
    for (let skip = 0; ni + skip <= name.length; skip++) {
      const rest = matchRank(pattern, name, pi + 1, ni + skip);
      if (rest) return [2, ...rest];
    }
    return null;
  }
  if (ni === name.length) return null;
  if (seg !== '*' && seg !== name[ni]) return null;
  const rest = matchRank(pattern, name, pi + 1, ni + 1);
  return rest ? [seg === '*' ? 1 : 0, ...rest] : null;
}

function compareRank(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------
// ws 7 (what the original depended on, "ws": "^7.1.2") delivered a text frame to a
// 'message' listener as a string and a binary frame as a Buffer. ws 8 (what these models
// run on) always delivers a Buffer plus an isBinary flag. This restores ws 7's value, so
// that code written for ws 7 — `this._connectionId = data` — sees what it saw then.

export function ws7MessageValue(data, isBinary) {
  if (isBinary) return Buffer.isBuffer(data) ? data : Buffer.from(data);
  return Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
}

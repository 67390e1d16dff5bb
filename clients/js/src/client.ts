// The client: one connection to the gateway, the RPC convention of
// wire/PROTOCOL.md on top of it, channels, reconnection.

import { CHUNK_METHOD, CHUNK_TYPES, Transfers, repliesFor, type TransferConnection } from './chunks.js';
import { fitsIn, utf8Length } from './codec.js';
import { Emitter } from './emitter.js';
import {
  AbortError,
  ClosedError,
  DisconnectedError,
  MonologueError,
  PayloadTooLargeError,
  TimeoutError,
  errorFor,
} from './errors.js';
import { checkName, checkTarget } from './names.js';
import { normalizeEndpoint, openSocket, type Socket, type WebSocketConstructor } from './transport.js';
import type {
  CallContext,
  CallOptions,
  ClaimOptions,
  ConnectOptions,
  Handler,
  Message,
  MonologueEvents,
  Presence,
  SubscribeOptions,
  Subscription,
} from './types.js';

/** Defaults of ConnectOptions. */
export const defaults = Object.freeze({
  timeout: 15_000,
  maxSendSize: 128 << 10,
  chunkBudget: 64 << 20,
  chunkTimeout: 30_000,
  maxConcurrentHandlers: 1024,
  reconnectMinDelay: 100,
  reconnectMaxDelay: 10_000,
});

/** The longest channel name, in bytes. */
const MAX_CHANNEL_LENGTH = 256;

interface Resolved {
  endpoint: string;
  apiKey: string | undefined;
  timeout: number;
  reconnect: { minDelay: number; maxDelay: number } | undefined;
  maxSendSize: number;
  chunkBudget: number;
  chunkTimeout: number;
  maxConcurrentHandlers: number;
  WebSocket: WebSocketConstructor | undefined;
  headers: Record<string, string> | undefined;
  name: string | undefined;
  nameExclusive: boolean;
}

/** One connection to the gateway. */
interface Connection extends TransferConnection {
  id: string;
  socket: Socket | undefined;
  alive: boolean;
}

/** An operation waiting for its answer. */
interface Pending {
  /** The peer (a connection ID or "@name") whose ACK or ERR answers it; "" for operations only the gateway answers. */
  peer: string;
  /** from: the connection that answered; undefined for the gateway or the client itself. */
  resolve(value: unknown, from: string | undefined): void;
  reject(error: MonologueError): void;
}

interface ChannelState {
  listeners: Set<{ fn: ((message: Message) => void) | undefined }>;
  ready: Promise<void> | undefined;
  /** Subscribed with presence events (joined and left). */
  presence: boolean;
}

const q = JSON.stringify;
const noop = () => {};

function env(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name] || undefined;
}

function resolve(o: ConnectOptions): Resolved {
  const endpoint = o.endpoint ?? env('MONOLOGUE_ENDPOINT');
  if (!endpoint) throw new TypeError('monologue: no endpoint: set options.endpoint (or MONOLOGUE_ENDPOINT on Node)');
  const r = typeof o.reconnect === 'object' ? o.reconnect : o.reconnect ? {} : undefined;
  return {
    endpoint: normalizeEndpoint(endpoint),
    apiKey: o.apiKey ?? env('MONOLOGUE_API_KEY'),
    timeout: o.timeout ?? defaults.timeout,
    reconnect: r && { minDelay: r.minDelay ?? defaults.reconnectMinDelay, maxDelay: r.maxDelay ?? defaults.reconnectMaxDelay },
    maxSendSize: o.maxSendSize ?? defaults.maxSendSize,
    chunkBudget: o.chunkBudget ?? defaults.chunkBudget,
    chunkTimeout: o.chunkTimeout ?? defaults.chunkTimeout,
    maxConcurrentHandlers: o.maxConcurrentHandlers ?? defaults.maxConcurrentHandlers,
    WebSocket: o.WebSocket,
    headers: o.headers,
    name: o.name || undefined,
    nameExclusive: o.nameExclusive === true,
  };
}

function checkChannel(channel: string): void {
  if (typeof channel !== 'string' || channel === '') throw new TypeError('monologue: empty channel name');
  if (utf8Length(channel) > MAX_CHANNEL_LENGTH) throw new TypeError(`monologue: channel name longer than ${MAX_CHANNEL_LENGTH} bytes`);
}

/**
 * A connection to a monologue gateway: it has a connection ID that peers
 * use to reach it, answers the methods registered with handle(), and calls,
 * messages and publishes to others. Create one with Monologue.connect().
 */
export class Monologue extends Emitter<MonologueEvents> {
  #opts: Resolved;
  #conn: Connection | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #nextToken = 0;
  #pending = new Map<string, Pending>();
  #handlers = new Map<string, Handler>();
  #running = 0;
  #channels = new Map<string, ChannelState>();
  /** The names to claim again on a new connection → whether exclusively. */
  #names = new Map<string, boolean>();
  #transfers: Transfers<Connection>;

  private constructor(opts: Resolved) {
    super();
    this.#opts = opts;
    this.#transfers = new Transfers<Connection>({
      maxSendSize: opts.maxSendSize,
      chunkBudget: opts.chunkBudget,
      chunkTimeout: opts.chunkTimeout,
      nextToken: () => ++this.#nextToken,
      request: (conn, token, peer, frame, timeout, signal) => {
        let from: string | undefined;
        const answer = this.#expect(token, peer, timeout, signal, (f) => (from = f));
        this.#sendOn(conn, frame, token);
        return answer.then((ret) => ({ ret, from }));
      },
      deliver: (conn, from, payload, via) => this.#peerPayload(conn, from, payload, via),
    });
  }

  /**
   * Connects to the gateway and learns the connection ID; with
   * options.name, claims it (exclusively with options.nameExclusive) before
   * resolving. Rejects with ForbiddenError when the handshake is refused for
   * the API key (in a browser, which is not told why a handshake failed:
   * DisconnectedError), TimeoutError after options.timeout, BadRequestError
   * for an invalid name (before connecting), or the claim's error.
   */
  static async connect(options: ConnectOptions = {}): Promise<Monologue> {
    const opts = resolve(options);
    if (opts.name !== undefined) checkName(opts.name);
    const client = new Monologue(opts);
    await client.#dial(options.signal);
    if (opts.name !== undefined) {
      try {
        await client.claim(opts.name, { exclusive: opts.nameExclusive });
      } catch (err) {
        await client.close();
        throw err;
      }
    }
    return client;
  }

  /** The connection ID, which peers use to call or message this client. It changes when the client reconnects. */
  get id(): string {
    return this.#conn?.id ?? '';
  }

  /** Whether the client is connected now. */
  get connected(): boolean {
    return !this.#closed && this.#conn?.alive === true;
  }

  /**
   * Registers fn to answer calls of method, replacing any it had; a null fn
   * removes it. fn is called with the caller's arguments and `this` set to
   * a CallContext ({ from, method, via }).
   */
  handle(method: string, fn: Handler | null | undefined): this {
    if (typeof method !== 'string' || method === '') throw new TypeError('monologue: handle: empty method name');
    if (method === CHUNK_METHOD) throw new TypeError(`monologue: handle: ${CHUNK_METHOD} is reserved for chunked messages`);
    if (fn == null) this.#handlers.delete(method);
    else if (typeof fn !== 'function') throw new TypeError('monologue: handle: the handler is not a function');
    else this.#handlers.set(method, fn);
    return this;
  }

  /**
   * Calls method on the peer whose connection ID is to, with args, and
   * resolves with its result. to may be "@name": the gateway hands the call
   * to one of the name's holders, and its answer counts, whichever holder
   * it is. Rejects at once with NotFoundError (no such method), HandlerError
   * (its handler threw), GoneError (to is not connected, or the name has no
   * holder), BadRequestError ("@" and no valid name); with TimeoutError after
   * the timeout. Arguments or a result over maxSendSize go in parts
   * (ChunkingUnsupportedError when the peer does not accept that).
   */
  call<T = any>(to: string, method: string, ...args: unknown[]): Promise<T> {
    return this.callWith<T>({}, to, method, ...args);
  }

  /** call() with options: an AbortSignal, a timeout of its own. */
  async callWith<T = any>(options: CallOptions, to: string, method: string, ...args: unknown[]): Promise<T> {
    try {
      return (await this.#call(options, to, method, args)) as T;
    } catch (err) {
      if (err instanceof MonologueError) {
        err.peer ??= to;
        err.method ??= method;
        if (!err.message.startsWith('call ')) err.message = `call ${q(method)} on ${to}: ${err.message}`;
      }
      throw err;
    }
  }

  async #call(options: CallOptions, to: string, method: string, args: unknown[]): Promise<unknown> {
    if (typeof to !== 'string' || to === '') throw new TypeError('monologue: call: empty target');
    if (typeof method !== 'string' || method === '') throw new TypeError('monologue: call: empty method name');
    checkTarget(to);
    const conn = this.#current();
    const token = ++this.#nextToken;
    const payload = `{"type":"REQ","data":{"token":${token},"name":${q(method)},"args":${q(args)}}}`;
    const frame = `{"action":"sendmessage","to":${q(to)},"id":${token},"payload":${payload}}`;
    const large = !fitsIn(frame, this.#opts.maxSendSize);
    if (large && !this.#transfers.enabled) {
      throw new PayloadTooLargeError(`a request of ${utf8Length(frame)} bytes is over the limit of ${this.#opts.maxSendSize} (maxSendSize)`);
    }
    const timeout = options.timeout ?? this.#opts.timeout;
    if (!large) {
      const answer = this.#expect(token, to, timeout, options.signal);
      this.#sendOn(conn, frame, token);
      return answer;
    }
    // A request sent in parts: the timeout bounds the answer to the offer,
    // each acknowledgement, and then the answer to the call. The signal, or
    // the end of the call (the connection dropped), ends the transfer.
    const answer = this.#expect(token, to, 0, options.signal);
    const transfer = new AbortController();
    let failure: unknown;
    answer.catch((err) => {
      failure = err;
      transfer.abort(err);
    });
    try {
      await this.#transfers.send(conn, to, payload, timeout, transfer.signal);
    } catch (err) {
      this.#settle(String(token), undefined, { error: err instanceof MonologueError ? err : new DisconnectedError(String(err)) });
      throw failure ?? err;
    }
    if (timeout > 0) {
      const timer = setTimeout(() => this.#settle(String(token), undefined, { error: new TimeoutError(`no answer within ${timeout} ms`) }), timeout);
      answer.then(() => clearTimeout(timer), () => clearTimeout(timer));
    }
    return answer;
  }

  /**
   * Sends payload (any JSON value; undefined sends none) to the peer whose
   * connection ID is to, or to one holder of the name when to is "@name"; it
   * receives it as a 'message' event (with via set to "@name"). Resolves once
   * the message is handed to the connection — the returned promise may be
   * ignored; the gateway's errors about it (a GoneError, say) come as
   * 'error' events. A payload over maxSendSize goes in parts and resolves
   * once the peer has them all.
   */
  send(to: string, payload?: unknown): Promise<void> {
    const p = this.#send(to, payload);
    p.catch(noop);
    return p;
  }

  async #send(to: string, payload: unknown): Promise<void> {
    if (typeof to !== 'string' || to === '') throw new TypeError('monologue: send: empty target');
    checkTarget(to);
    const conn = this.#current();
    const json = payload === undefined ? undefined : q(payload);
    const frame = `{"action":"sendmessage","to":${q(to)}${json === undefined ? '' : `,"payload":${json}`}}`;
    if (fitsIn(frame, this.#opts.maxSendSize)) return this.#sendOn(conn, frame);
    if (json === undefined || !this.#transfers.enabled) {
      throw new PayloadTooLargeError(`a message of ${utf8Length(frame)} bytes is over the limit of ${this.#opts.maxSendSize} (maxSendSize)`);
    }
    await this.#transfers.send(conn, to, json, this.#opts.timeout);
  }

  /**
   * Sends payload to every other subscriber of channel. Like send(), the
   * promise may be ignored. A payload over maxSendSize is refused
   * (PayloadTooLargeError): a publication is never chunked.
   */
  publish(channel: string, payload?: unknown): Promise<void> {
    const p = (async () => {
      checkChannel(channel);
      const conn = this.#current();
      const json = payload === undefined ? undefined : q(payload);
      const frame = `{"action":"publish","channel":${q(channel)}${json === undefined ? '' : `,"payload":${json}`}}`;
      if (!fitsIn(frame, this.#opts.maxSendSize)) {
        throw new PayloadTooLargeError(`a publication of ${utf8Length(frame)} bytes is over the limit of ${this.#opts.maxSendSize} (maxSendSize)`);
      }
      this.#sendOn(conn, frame);
    })();
    p.catch(noop);
    return p;
  }

  /**
   * Joins channel and resolves once the gateway confirms. onMessage, and
   * the 'message' event, receive what other peers publish to it. With
   * { presence: true }, the 'presence' event also tells each time another
   * connection joins or leaves the channel (for as long as the client is in
   * it). With reconnect, the channel is joined again on every new
   * connection, with presence events if it had them.
   */
  subscribe(channel: string, onMessage?: ((message: Message) => void) | null, options?: SubscribeOptions): Promise<Subscription>;
  subscribe(channel: string, options: SubscribeOptions): Promise<Subscription>;
  async subscribe(
    channel: string,
    onMessageOrOptions?: ((message: Message) => void) | SubscribeOptions | null,
    options: SubscribeOptions = {}
  ): Promise<Subscription> {
    checkChannel(channel);
    let onMessage: ((message: Message) => void) | undefined;
    if (typeof onMessageOrOptions === 'function') onMessage = onMessageOrOptions;
    else if (onMessageOrOptions != null) options = onMessageOrOptions;
    const presence = options.presence === true;
    let state = this.#channels.get(channel);
    const entry = { fn: onMessage };
    if (!state) {
      const conn = this.#current();
      state = { listeners: new Set([entry]), ready: undefined, presence };
      this.#channels.set(channel, state);
      state.ready = this.#subscription(conn, 'subscribe', channel, presence);
    } else if (presence && !state.presence) {
      // Subscribed without presence events: subscribe again, with them.
      const conn = this.#current();
      const changed = state;
      const before = changed.ready;
      const upgrade = this.#subscription(conn, 'subscribe', channel, true);
      const ready = Promise.all([before, upgrade]).then(noop);
      changed.listeners.add(entry);
      changed.presence = true;
      changed.ready = ready;
      upgrade.catch(() => {
        if (changed.ready !== ready) return;
        changed.ready = before;
        changed.presence = false;
      });
    } else {
      state.listeners.add(entry);
    }
    try {
      await state.ready;
    } catch (err) {
      state.listeners.delete(entry);
      if (state.listeners.size === 0 && this.#channels.get(channel) === state) this.#channels.delete(channel);
      throw err;
    }
    const current = state;
    return {
      channel,
      unsubscribe: async () => {
        if (!current.listeners.delete(entry) || current.listeners.size > 0 || this.#channels.get(channel) !== current) return;
        this.#channels.delete(channel);
        if (this.connected) await this.#subscription(this.#current(), 'unsubscribe', channel);
      },
    };
  }

  /** Leaves channel (all its subscriptions) and resolves once the gateway confirms. */
  async unsubscribe(channel: string): Promise<void> {
    checkChannel(channel);
    this.#channels.delete(channel);
    await this.#subscription(this.#current(), 'unsubscribe', channel);
  }

  /**
   * Makes this client a holder of name, so that peers reach it at "@name"
   * (call, send), and resolves once the gateway confirms. A message to a
   * name goes to one of its holders, chosen at random: clients that claim
   * the same name form a load-balanced service group. With { exclusive:
   * true } the claim is "newest wins": every other holder loses the name at
   * once (and hears of it in a 'nameLost' event). With reconnect, the name
   * is claimed again (exclusively if it was) on every new connection. A
   * name is 1 to 128 letters, digits or . _ - : /, starting with a letter
   * or a digit; anything else is a BadRequestError, before anything is
   * sent. LimitExceededError past the gateway's number of names per
   * connection (64 by default).
   */
  async claim(name: string, options: ClaimOptions = {}): Promise<void> {
    checkName(name);
    const exclusive = options.exclusive === true;
    await this.#claim(this.#current(), name, exclusive);
    this.#names.set(name, exclusive);
  }

  /** Gives name up, and resolves once the gateway confirms; it is no longer claimed on reconnection. */
  async release(name: string): Promise<void> {
    checkName(name);
    this.#names.delete(name);
    await this.#roundTrip(this.#current(), `{"action":"release","name":${q(name)}`, `release ${q(name)}`);
  }

  /**
   * Who is in channel now, on every node of the gateway: how many
   * connections, and the IDs of at most 1,000 of them (count may be larger).
   */
  async presence(channel: string): Promise<Presence> {
    checkChannel(channel);
    return presenceOf(await this.#roundTrip(this.#current(), `{"action":"presence","channel":${q(channel)}`, `presence of ${q(channel)}`));
  }

  /** The holders of name: how many connections, and the IDs of at most 1,000 of them. */
  async holders(name: string): Promise<Presence> {
    checkName(name);
    return presenceOf(await this.#roundTrip(this.#current(), `{"action":"presence","name":${q(name)}`, `holders of ${q(name)}`));
  }

  /**
   * Resolves once the gateway answers a round trip. The gateway handles a
   * connection's frames in order, so its errors about what was sent before
   * have been emitted by then.
   */
  async ping(): Promise<void> {
    const conn = this.#current();
    const id = ++this.#nextToken;
    const answer = this.#expect(id, '', this.#opts.timeout, undefined);
    this.#sendOn(conn, `{"action":"send","message":${id}}`, id);
    await answer;
  }

  /**
   * Closes the connection (closing handshake bounded to about a second),
   * rejects the operations in flight with ClosedError and stops
   * reconnecting. Safe to call more than once.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    const conn = this.#conn;
    this.#closing = (async () => {
      await conn?.socket?.close();
      this.#lost(new ClosedError());
      this.emit('close', undefined);
    })();
    return this.#closing;
  }

  // --- connection -------------------------------------------------------

  async #dial(signal?: AbortSignal): Promise<void> {
    const conn: Connection = {
      id: '',
      socket: undefined,
      alive: true,
      send(text: string) {
        if (!this.socket) throw new DisconnectedError('not connected yet');
        this.socket.send(text);
      },
    };
    const o = this.#opts;
    const socket = await openSocket(
      { endpoint: o.endpoint, apiKey: o.apiKey, headers: o.headers, timeout: o.timeout, WebSocket: o.WebSocket, ...(signal ? { signal } : {}) },
      { message: (text) => this.#frame(conn, text), close: (err) => this.#dropped(conn, err) }
    );
    conn.socket = socket;
    conn.id = socket.id;
    this.#conn = conn;
  }

  /** The connection to use, or why there is none. */
  #current(): Connection {
    if (this.#closed) throw new ClosedError();
    const conn = this.#conn;
    if (!conn?.alive) {
      throw new DisconnectedError(this.#opts.reconnect ? 'not connected: reconnecting' : 'not connected: the connection dropped');
    }
    return conn;
  }

  #sendOn(conn: Connection, frame: string, pendingToken?: number): void {
    try {
      conn.send(frame);
    } catch (err) {
      const e = err instanceof MonologueError ? err : new DisconnectedError(String(err));
      if (pendingToken !== undefined) this.#settle(String(pendingToken), undefined, { error: e });
      else throw e;
    }
  }

  #dropped(conn: Connection, err: MonologueError): void {
    conn.alive = false;
    if (conn !== this.#conn) return;
    if (this.#closed) return this.#lost(new ClosedError());
    this.#lost(err);
    this.emit('disconnect', err);
    if (this.#opts.reconnect) this.#reconnect(this.#opts.reconnect);
  }

  /** Fails what waited on the connection. */
  #lost(err: MonologueError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
    this.#transfers.connectionLost(err);
  }

  /** Dials until it succeeds, close() is called or the handshake is refused with 403. */
  #reconnect(backoff: { minDelay: number; maxDelay: number }): void {
    let wait = backoff.minDelay;
    const attempt = async () => {
      this.#reconnectTimer = undefined;
      if (this.#closed) return;
      try {
        await this.#dial();
      } catch (err) {
        if (this.#closed) return;
        if (err instanceof MonologueError && err.code === 'forbidden') {
          this.#closed = true;
          this.#closing = Promise.resolve();
          this.emit('error', err);
          this.emit('close', err);
          return;
        }
        wait = Math.min(wait * 2, backoff.maxDelay);
        schedule();
        return;
      }
      const conn = this.#conn!;
      if (this.#closed) {
        await conn.socket?.close();
        return;
      }
      const again: Promise<void>[] = [];
      for (const [channel, state] of this.#channels) again.push(this.#subscription(conn, 'subscribe', channel, state.presence));
      for (const [name, exclusive] of this.#names) again.push(this.#claim(conn, name, exclusive));
      await Promise.all(again.map((p) => p.catch((err: MonologueError) => this.emit('error', err))));
      if (conn.alive && !this.#closed) this.emit('reconnect', conn.id);
    };
    // Every attempt waits, with jitter, so that the clients of a gateway that
    // restarts do not all come back at the same instant.
    const schedule = () => {
      this.#reconnectTimer = setTimeout(attempt, wait / 2 + Math.random() * wait);
    };
    schedule();
  }

  // --- answers ----------------------------------------------------------

  /**
   * Registers the operation token, answered by peer ("" : the gateway only),
   * and returns its answer; answeredBy, if given, learns which connection
   * answered.
   */
  #expect(
    token: number,
    peer: string,
    timeout: number,
    signal: AbortSignal | undefined,
    answeredBy?: (from: string | undefined) => void
  ): Promise<unknown> {
    const key = String(token);
    return new Promise<unknown>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => this.#settle(key, undefined, { error: new AbortError('aborted', { cause: signal?.reason }) });
      if (signal?.aborted) return reject(new AbortError('aborted', { cause: signal.reason }));
      this.#pending.set(key, {
        peer,
        resolve: (v, from) => {
          done();
          answeredBy?.(from);
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      if (timeout > 0) {
        timer = setTimeout(() => this.#settle(key, undefined, { error: new TimeoutError(`no answer within ${timeout} ms`) }), timeout);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Settles the operation key; from is the peer that answered, undefined for the gateway or the client itself. */
  #settle(key: string, from: string | undefined, outcome: { value?: unknown; error?: MonologueError }): boolean {
    const p = this.#pending.get(key);
    if (!p || (from !== undefined && !repliesFor(p.peer, from))) return false;
    this.#pending.delete(key);
    if (outcome.error) p.reject(outcome.error);
    else p.resolve(outcome.value, from);
    return true;
  }

  // --- frames received --------------------------------------------------

  #frame(conn: Connection, text: string): void {
    let f: any;
    try {
      f = JSON.parse(text);
    } catch {
      return; // not JSON: the gateway sends none after whoami
    }
    if (f === null || typeof f !== 'object' || Array.isArray(f)) return;
    if (f.error !== null && typeof f.error === 'object') return this.#gatewayError(f);
    if (typeof f.action === 'string') {
      switch (f.action) {
        case 'subscribed':
        case 'unsubscribed':
        case 'claimed':
          if (f.id != null) this.#settle(String(f.id), undefined, {});
          break;
        case 'released':
          // The reply to release() echoes its id; without one, another
          // connection took the name with an exclusive claim.
          if (f.id != null) this.#settle(String(f.id), undefined, {});
          else if (typeof f.name === 'string' && conn === this.#conn) this.#nameLost(f.name);
          break;
        case 'presence':
          if (f.id != null) this.#settle(String(f.id), undefined, { value: f });
          break;
      }
      return;
    }
    if ('message' in f) {
      if (f.message != null) this.#settle(String(f.message), undefined, {});
      return;
    }
    if (typeof f.channel === 'string' && (typeof f.joined === 'string' || typeof f.left === 'string')) {
      const joined = typeof f.joined === 'string';
      return this.emit('presence', { channel: f.channel, joined, id: joined ? f.joined : f.left });
    }
    if (typeof f.channel === 'string') {
      const message: Message = { from: typeof f.from === 'string' ? f.from : undefined, channel: f.channel, payload: f.payload, via: undefined };
      for (const entry of [...(this.#channels.get(f.channel)?.listeners ?? [])]) {
        if (!entry.fn) continue;
        try {
          entry.fn(message);
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      }
      return this.emit('message', message);
    }
    if (typeof f.from === 'string') this.#peerPayload(conn, f.from, f.payload, typeof f.via === 'string' ? f.via : undefined);
  }

  /** Another connection took name with an exclusive claim: it is not claimed again on reconnection. */
  #nameLost(name: string): void {
    this.#names.delete(name);
    this.emit('nameLost', name);
  }

  #gatewayError(f: { error: { code?: unknown; message?: unknown }; id?: unknown; to?: unknown }): void {
    const code = typeof f.error.code === 'string' ? f.error.code : 'internal';
    const err = errorFor(code, typeof f.error.message === 'string' ? f.error.message : code);
    if (f.id != null) {
      if (this.#settle(String(f.id), undefined, { error: err })) return;
      if (this.#transfers.gatewayError(Number(f.id), err)) return;
    }
    if (typeof f.to === 'string') err.peer = f.to;
    this.emit('error', err);
  }

  /** Handles a payload from a peer (sent to the name via, if any): RPC, a chunking frame, or a message. */
  #peerPayload(conn: Connection, from: string, payload: any, via: string | undefined): void {
    const data = payload?.data;
    if (
      payload !== null && typeof payload === 'object' && typeof payload.type === 'string' &&
      data !== null && typeof data === 'object' && !Array.isArray(data) && 'token' in data
    ) {
      switch (payload.type) {
        case 'REQ':
          return this.#serve(conn, from, data, via);
        case 'ACK':
          this.#settle(String(data.token), from, { value: data.ret });
          return;
        case 'ERR': {
          const e = data.error ?? {};
          const code = typeof e.code === 'string' && e.code ? e.code : 'handler_error';
          this.#settle(String(data.token), from, { error: errorFor(code, typeof e.message === 'string' ? e.message : '', { peer: from }) });
          return;
        }
      }
      if (CHUNK_TYPES.has(payload.type)) return this.#transfers.handle(conn, from, payload.type, data);
    }
    this.emit('message', { from, channel: undefined, payload, via });
  }

  // --- serving ----------------------------------------------------------

  #serve(conn: Connection, from: string, data: { token: unknown; name?: unknown; args?: unknown }, via: string | undefined): void {
    const { token, name } = data;
    if (name === CHUNK_METHOD) return this.#transfers.open(conn, from, token, data.args, via);
    const handler = typeof name === 'string' ? this.#handlers.get(name) : undefined;
    if (!handler) return this.#answerError(conn, from, token, 'not_found', `no handler for method ${q(name ?? '')}`);
    if (this.#running >= this.#opts.maxConcurrentHandlers) {
      return this.#answerError(conn, from, token, 'rate_limited',
        `too many requests in progress (maxConcurrentHandlers is ${this.#opts.maxConcurrentHandlers})`);
    }
    const args = data.args === undefined ? [] : data.args;
    if (!Array.isArray(args)) return this.#answerError(conn, from, token, 'handler_error', 'malformed arguments: not a JSON array');
    this.#running++;
    const context: CallContext = { from, method: name as string, via };
    void (async () => {
      try {
        let ret: unknown;
        try {
          ret = await handler.apply(context, args);
        } catch (err) {
          return this.#answerError(conn, from, token, handlerErrorCode(err), err instanceof Error ? err.message : String(err));
        }
        await this.#answer(conn, from, token, ret);
      } finally {
        this.#running--;
      }
    })();
  }

  async #answer(conn: Connection, to: string, token: unknown, ret: unknown): Promise<void> {
    let json: string | undefined;
    try {
      json = ret === undefined ? undefined : q(ret);
    } catch (err) {
      return this.#answerError(conn, to, token, 'handler_error', `encode the result: ${err instanceof Error ? err.message : String(err)}`);
    }
    const payload = `{"type":"ACK","data":{"token":${q(token)}${json === undefined ? '' : `,"ret":${json}`}}}`;
    const frame = `{"action":"sendmessage","to":${q(to)},"payload":${payload}}`;
    if (fitsIn(frame, this.#opts.maxSendSize)) return this.#write(conn, frame);
    const size = utf8Length(frame);
    if (!this.#transfers.enabled) {
      return this.#answerError(conn, to, token, 'payload_too_large', `answer of ${size} bytes is over the limit of ${this.#opts.maxSendSize} (maxSendSize)`);
    }
    try {
      await this.#transfers.send(conn, to, payload, this.#opts.timeout);
    } catch (err) {
      this.#answerError(conn, to, token, 'payload_too_large',
        `the result of ${size} bytes is over the limit, and could not be sent in parts: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  #answerError(conn: Connection, to: string, token: unknown, code: string, message: string): void {
    this.#write(conn, `{"action":"sendmessage","to":${q(to)},"payload":{"type":"ERR","data":{"token":${q(token)},"error":{"code":${q(code)},"message":${q(message)}}}}}`);
  }

  #write(conn: Connection, frame: string): void {
    if (!conn.alive) return;
    try {
      conn.send(frame);
    } catch {
      /* the connection dropped: the caller learns it from its own side */
    }
  }

  /** The subscribe or unsubscribe round trip. */
  #subscription(conn: Connection, action: 'subscribe' | 'unsubscribe', channel: string, presence = false): Promise<void> {
    return this.#roundTrip(conn, `{"action":"${action}","channel":${q(channel)}${presence ? ',"presence":true' : ''}`, `${action} ${q(channel)}`).then(noop);
  }

  /** The claim round trip. */
  #claim(conn: Connection, name: string, exclusive: boolean): Promise<void> {
    return this.#roundTrip(conn, `{"action":"claim","name":${q(name)}${exclusive ? ',"exclusive":true' : ''}`, `claim ${q(name)}`).then(noop);
  }

  /**
   * Sends frame (a JSON object without its closing brace), with an id, and
   * resolves with what the gateway's reply that echoes the id carries; its
   * errors say what failed.
   */
  #roundTrip(conn: Connection, frame: string, what: string): Promise<unknown> {
    const id = ++this.#nextToken;
    const answer = this.#expect(id, '', this.#opts.timeout, undefined);
    this.#sendOn(conn, `${frame},"id":${id}}`, id);
    return answer.catch((err: MonologueError) => {
      err.message = `${what}: ${err.message}`;
      throw err;
    });
  }
}

/** The presence answer f as a Presence. */
function presenceOf(f: any): Presence {
  return {
    count: typeof f?.count === 'number' ? f.count : 0,
    members: Array.isArray(f?.members) ? f.members.filter((m: unknown): m is string => typeof m === 'string') : [],
  };
}

/** The RPC code a handler's error is answered with. The failure of a call the handler made itself is a handler_error, whatever its code. */
function handlerErrorCode(err: unknown): string {
  if (err instanceof MonologueError && err.peer === undefined) {
    switch (err.code) {
      case 'not_found':
      case 'rate_limited':
      case 'payload_too_large':
        return err.code;
    }
  }
  return 'handler_error';
}

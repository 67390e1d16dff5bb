// Opening a WebSocket to the gateway on every runtime: the `ws` package on
// Node (it can send the API key as the x-api-key header and tells the HTTP
// status of a refused handshake), the runtime's WebSocket elsewhere (the key
// then rides in the apiKey query parameter: browsers cannot set headers).

import { DisconnectedError, ForbiddenError, MonologueError, TimeoutError } from './errors.js';

/** The part of the standard WebSocket interface the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType?: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}

/** A WebSocket constructor: the standard one, or one with options (ws). */
export type WebSocketConstructor = new (url: string, protocolsOrOptions?: any) => WebSocketLike;

/** Callbacks of an open socket. */
export interface SocketHandlers {
  message(text: string): void;
  close(error: MonologueError): void;
}

/** A socket to the gateway, open and identified. */
export interface Socket {
  /** The connection ID the gateway answered whoami with. */
  readonly id: string;
  send(text: string): void;
  /** Starts the closing handshake; resolves once the socket is closed (at most about a second). */
  close(): Promise<void>;
}

/** What openSocket needs. */
export interface OpenOptions {
  endpoint: string;
  apiKey: string | undefined;
  headers: Record<string, string> | undefined;
  timeout: number; // ms; 0: none
  WebSocket: WebSocketConstructor | undefined;
  signal?: AbortSignal;
}

const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

let nodeWebSocket: Promise<WebSocketConstructor | undefined> | undefined;

/** The ws package's WebSocket on Node, undefined where it cannot be loaded. */
function loadNodeWebSocket(): Promise<WebSocketConstructor | undefined> {
  if (!nodeWebSocket) {
    const name = 'ws'; // a variable, so that bundlers for browsers leave it alone
    nodeWebSocket = import(name).then(
      (mod: { default?: WebSocketConstructor; WebSocket?: WebSocketConstructor }) => mod.WebSocket ?? mod.default,
      () => undefined
    );
  }
  return nodeWebSocket;
}

/** Maps http(s) to ws(s), adds ws:// to a bare host:port and "/" to an empty path (as the Go client). */
export function normalizeEndpoint(endpoint: string): string {
  let e = endpoint;
  if (e.startsWith('http://')) e = 'ws://' + e.slice('http://'.length);
  else if (e.startsWith('https://')) e = 'wss://' + e.slice('https://'.length);
  else if (!e.includes('://')) e = 'ws://' + e;
  const i = e.indexOf('://') + 3;
  const rest = e.slice(i);
  const j = rest.search(/[/?]/);
  if (j < 0) return e + '/';
  if (rest[j] === '?') return e.slice(0, i) + rest.slice(0, j) + '/' + rest.slice(j);
  return e;
}

/** The endpoint with the API key as its apiKey query parameter. */
export function withApiKey(endpoint: string, apiKey: string): string {
  const url = new URL(endpoint);
  url.searchParams.set('apiKey', apiKey);
  return url.href;
}

/** Which WebSocket to use, and whether it is the ws package (headers, HTTP status). */
async function chooseWebSocket(given: WebSocketConstructor | undefined): Promise<{ Ctor: WebSocketConstructor; nodeWS: boolean }> {
  if (given) return { Ctor: given, nodeWS: isNode && typeof (given.prototype as { on?: unknown }).on === 'function' };
  if (isNode) {
    const ws = await loadNodeWebSocket();
    if (ws) return { Ctor: ws, nodeWS: true };
  }
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!native) {
    throw new DisconnectedError('no WebSocket: this runtime has none, and the ws package could not be loaded (npm install ws)');
  }
  return { Ctor: native, nodeWS: false };
}

/**
 * Opens a socket, sends whoami and resolves with the connection ID once the
 * first frame arrives. A refused handshake rejects with ForbiddenError when
 * the runtime tells its status was 403 (the ws package does; a browser
 * does not), with DisconnectedError otherwise.
 */
export async function openSocket(opts: OpenOptions, handlers: SocketHandlers): Promise<Socket> {
  const { Ctor, nodeWS } = await chooseWebSocket(opts.WebSocket);
  if (opts.signal?.aborted) throw new DisconnectedError('connect aborted', { cause: opts.signal.reason });
  let url = opts.endpoint;
  let ws: WebSocketLike;
  if (nodeWS) {
    const headers: Record<string, string> = { 'User-Agent': 'monologue-js', ...opts.headers };
    if (opts.apiKey) headers['x-api-key'] = opts.apiKey;
    ws = new Ctor(url, { headers, perMessageDeflate: false });
  } else {
    if (opts.apiKey) url = withApiKey(url, opts.apiKey);
    ws = new Ctor(url);
  }
  ws.binaryType = 'arraybuffer';

  return new Promise<Socket>((resolve, reject) => {
    let id: string | undefined;
    let failure: MonologueError | undefined; // why the handshake or the connection failed
    let closed = false;
    let closedResolve: () => void = () => {};
    const closedPromise = new Promise<void>((r) => (closedResolve = r));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settleFailure = (err: MonologueError) => {
      if (timer !== undefined) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(err);
    };
    const onAbort = () => {
      failure = new DisconnectedError('connect aborted', { cause: opts.signal?.reason });
      try {
        ws.close();
      } catch {
        /* not open yet */
      }
      settleFailure(failure);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.timeout > 0) {
      timer = setTimeout(() => {
        failure = new TimeoutError(`no connection ID from ${opts.endpoint} within ${opts.timeout} ms`);
        try {
          ws.close();
        } catch {
          /* not open yet */
        }
        settleFailure(failure);
      }, opts.timeout);
    }

    ws.addEventListener('open', () => ws.send('whoami'));
    ws.addEventListener('error', (event: { message?: string; error?: { message?: string } }) => {
      const message = event?.error?.message ?? event?.message ?? '';
      const status = /Unexpected server response: (\d+)/.exec(message);
      if (status && status[1] === '403') {
        failure ??= new ForbiddenError(`handshake refused with HTTP 403 by ${opts.endpoint}: wrong or missing API key`);
      } else if (status) {
        failure ??= new DisconnectedError(`handshake refused with HTTP ${status[1]} by ${opts.endpoint}`);
      } else {
        failure ??= new DisconnectedError(`WebSocket error on ${opts.endpoint}${message ? ': ' + message : ''}`);
      }
    });
    ws.addEventListener('message', (event: { data: unknown }) => {
      if (typeof event.data !== 'string') return; // binary: the gateway sends none
      if (id === undefined) {
        id = event.data;
        if (id === '' || /[{" \n]/.test(id)) {
          failure = new DisconnectedError(`unexpected answer to whoami: ${JSON.stringify(id.slice(0, 200))}`);
          ws.close();
          settleFailure(failure);
          return;
        }
        if (timer !== undefined) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        const socketId = id;
        // On Node, the frames sent during one turn of the event loop leave in
        // one write: the ws package writes each frame by itself, so its TCP
        // socket is corked until the turn's check phase (setImmediate). With
        // 64 calls in flight this takes a caller and a callee in one Node
        // process from about 35,000 to 60,000 calls/s (BENCHMARKS.md).
        const tcp = nodeWS ? (ws as { _socket?: { cork?: () => void; uncork?: () => void } })._socket : undefined;
        const later = (globalThis as { setImmediate?: (f: () => void) => void }).setImmediate;
        const batching = typeof tcp?.cork === 'function' && typeof tcp?.uncork === 'function' && typeof later === 'function';
        let corked = false;
        const uncork = () => {
          corked = false;
          tcp!.uncork!();
        };
        resolve({
          id: socketId,
          send: (text) => {
            if (closed || ws.readyState !== 1) {
              throw failure ?? new DisconnectedError('the connection is closed');
            }
            if (batching && !corked) {
              corked = true;
              tcp!.cork!();
              later!(uncork);
            }
            ws.send(text);
          },
          close: () => {
            if (!closed) {
              try {
                ws.close(1000);
              } catch {
                /* already closing */
              }
            }
            const bound = new Promise<void>((r) => setTimeout(r, 1000));
            return Promise.race([closedPromise, bound]);
          },
        });
        return;
      }
      handlers.message(event.data);
    });
    ws.addEventListener('close', (event: { code?: number; reason?: string }) => {
      closed = true;
      closedResolve();
      const reason = event?.reason ? ` ${event.reason}` : '';
      const err =
        failure ??
        new DisconnectedError(
          id === undefined
            ? `could not connect to ${opts.endpoint} (closed with ${event?.code ?? 1006}${reason}; a browser does not tell why a handshake failed)`
            : `the gateway closed the connection (${event?.code ?? 1006}${reason})`
        );
      if (id === undefined) settleFailure(err);
      else handlers.close(err);
    });
  });
}

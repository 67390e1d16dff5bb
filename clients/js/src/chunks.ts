// Chunked transfers (wire/PROTOCOL.md, Chunking): a payload whose frame
// would be over maxSendSize is offered to the peer with a request for the
// reserved method "$chunked" and, once the peer accepts, sent in base64
// parts that it acknowledges; the peer puts it back together and handles it
// as if it had arrived whole.

import { base64Decode, base64Encode, base64Length, utf8DecodeStrict, utf8Encode } from './codec.js';
import {
  AbortError,
  ChunkingUnsupportedError,
  DisconnectedError,
  MonologueError,
  PayloadTooLargeError,
  TimeoutError,
  errorFor,
} from './errors.js';
import { isName } from './names.js';

/** The reserved method of the offer. */
export const CHUNK_METHOD = '$chunked';
/** How many transfers a client receives at once. */
const MAX_INCOMING = 256;
/** About how many bytes of chunks a receiver lets a sender have unacknowledged. */
const WINDOW_BYTES = 512 << 10;
/** Room in each chunk frame for the difference between the frame sent and the frame delivered. */
const HEADROOM = 256;
/**
 * The length a name target is counted at when sizing chunks: the chunks go
 * to the holder that accepted the transfer, whose connection ID (16
 * characters) may be longer than the name.
 */
const HOLDER_ID_ROOM = 64;

/**
 * Whether a reply from the connection from answers an operation addressed to
 * target. Every check of who answered goes through here. A target that is a
 * connection ID is answered by that connection only (any peer could send a
 * reply with a guessed token); a target that is a name ("@name") by
 * whichever connection answers, since the gateway chose one of the name's
 * holders and the sender does not know which.
 */
export function repliesFor(target: string, from: string): boolean {
  return target === from || (isName(target) && from !== '');
}

/** The payload types of chunking frames. */
export const CHUNK_TYPES = new Set(['CHUNK', 'CHUNK_ACK', 'CHUNK_ERR', 'CHUNK_CANCEL']);

/** A connection as the transfers see it. */
export interface TransferConnection {
  send(text: string): void;
  alive: boolean;
}

/** What the transfers need from the client. */
export interface TransferHost<C extends TransferConnection> {
  maxSendSize: number;
  chunkBudget: number; // < 0: chunking off
  chunkTimeout: number; // ms
  nextToken(): number;
  /**
   * Sends a request frame with id token and resolves with the ret of the
   * peer's ACK within timeout ms, and the connection that sent the ACK.
   */
  request(conn: C, token: number, peer: string, frame: string, timeout: number, signal: AbortSignal | undefined): Promise<{ ret: unknown; from: string | undefined }>;
  /** Handles a payload put back together as if peer had sent it whole (to the name via, when the offer came through one). */
  deliver(conn: C, from: string, payload: unknown, via: string | undefined): void;
}

interface Outgoing {
  peer: string;
  received: number;
  error: MonologueError | undefined;
  ended: boolean; // the receiver or the gateway ended it: no CHUNK_CANCEL
  wake: (() => void) | undefined;
}

interface Incoming<C> {
  conn: C;
  peer: string;
  via: string | undefined; // the name the offer was addressed to
  tokenJSON: string; // the sender's token, as JSON, echoed
  id: number; // frame id of our CHUNK_ACK and CHUNK_ERR frames
  size: number;
  chunk: number;
  chunks: number;
  data: Uint8Array | undefined;
  got: Uint8Array;
  received: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const q = JSON.stringify;

/** The start of a chunking frame to peer; the caller adds the rest of data and "}}}". */
function chunkFrame(peer: string, id: number, type: string, tokenJSON: string): string {
  return `{"action":"sendmessage","to":${q(peer)},"id":${id},"payload":{"type":"${type}","data":{"token":${tokenJSON}`;
}

function errorTail(code: string, message: string): string {
  return `,"error":{"code":${q(code)},"message":${q(message)}}}}}`;
}

/** The window a receiver gives for chunks of size bytes. */
export function chunkWindow(size: number): number {
  return Math.max(1, Math.floor(WINDOW_BYTES / (Math.ceil(size / 3) * 4 + 128)));
}

/** The transfers of one client, both ways. */
export class Transfers<C extends TransferConnection> {
  #host: TransferHost<C>;
  #outgoing = new Map<number, Outgoing>();
  #incoming = new Map<string, Incoming<C>>();
  #reserved = 0;

  constructor(host: TransferHost<C>) {
    this.#host = host;
  }

  /** Whether the client sends and accepts chunked messages. */
  get enabled(): boolean {
    return this.#host.chunkBudget >= 0 && this.#host.maxSendSize > 0;
  }

  /** Bytes of payload per chunk to peer, so that each chunk frame is within maxSendSize. */
  chunkSize(peer: string): number {
    if (isName(peer) && peer.length < HOLDER_ID_ROOM) peer = peer.padEnd(HOLDER_ID_ROOM, 'x');
    const overhead =
      `{"action":"sendmessage","to":${q(peer)},"id":,"payload":{"type":"CHUNK","data":{"token":,"seq":,"data":""}}}`.length +
      (peer.length * 2) + 50 + HEADROOM; // escapes and non-ASCII in peer, the digits of id, token and seq
    return Math.floor((this.#host.maxSendSize - overhead) / 4) * 3;
  }

  /**
   * Sends payloadJSON to peer as a chunked transfer and resolves once the
   * peer has acknowledged every chunk. timeout (ms, 0: none) bounds the wait
   * for the answer to the offer and for each acknowledgement. When peer is a
   * name, the offer goes to one of its holders and the chunks to the holder
   * that accepted it.
   */
  async send(conn: C, peer: string, payloadJSON: string, timeout: number, signal?: AbortSignal): Promise<void> {
    const bytes = utf8Encode(payloadJSON);
    const size = bytes.length;
    const chunk = this.chunkSize(peer);
    if (chunk < 1) {
      throw new PayloadTooLargeError(`a payload of ${size} bytes is over the limit, which is too small to send it in parts (maxSendSize is ${this.#host.maxSendSize})`);
    }
    const chunks = Math.ceil(size / chunk);
    const stream = this.#host.nextToken();
    const spec = `{"size":${size},"chunks":${chunks},"chunk":${chunk}}`;
    const open =
      `{"action":"sendmessage","to":${q(peer)},"id":${stream},"payload":{"type":"REQ","data":{"token":${stream},` +
      `"name":${q(CHUNK_METHOD)},"args":[${spec}]}}}`;
    const out: Outgoing = { peer, received: 0, error: undefined, ended: false, wake: undefined };
    this.#outgoing.set(stream, out);
    try {
      let accepted: { ret: unknown; from: string | undefined };
      try {
        accepted = await this.#host.request(conn, stream, peer, open, timeout, signal);
      } catch (err) {
        throw openError(size, err);
      }
      const { ret } = accepted;
      const window = (ret as { window?: unknown } | null)?.window;
      if (typeof window !== 'number' || !Number.isInteger(window) || window < 1) {
        throw new ChunkingUnsupportedError(`the peer does not accept chunked messages: it answered the offer with ${String(q(ret)).slice(0, 100)}`);
      }
      // The gateway sends each message to a name to any of its holders: the
      // chunks go to the one that accepted the offer, and only its
      // acknowledgements count from now on.
      const to = isName(peer) && accepted.from ? accepted.from : peer;
      out.peer = to;
      try {
        for (let seq = 0; seq < chunks; seq++) {
          await this.#credit(conn, out, seq - window + 1, chunks, timeout, signal);
          const part = base64Encode(bytes.subarray(seq * chunk, Math.min((seq + 1) * chunk, size)));
          conn.send(chunkFrame(to, stream, 'CHUNK', String(stream)) + `,"seq":${seq},"data":"${part}"}}}`);
        }
        await this.#credit(conn, out, chunks, chunks, timeout, signal);
      } catch (err) {
        if (!out.ended && conn.alive) {
          const message = err instanceof Error ? err.message : String(err);
          try {
            conn.send(chunkFrame(to, stream, 'CHUNK_CANCEL', String(stream)) + errorTail('aborted', message));
          } catch {
            /* the connection is gone */
          }
        }
        throw err;
      }
    } finally {
      this.#outgoing.delete(stream);
    }
  }

  /** Waits until the peer has acknowledged need chunks, for the timeout at most since the last acknowledgement. */
  #credit(conn: C, out: Outgoing, need: number, chunks: number, timeout: number, signal: AbortSignal | undefined): Promise<void> {
    const check = (): boolean => {
      if (out.error) throw out.error;
      if (signal?.aborted) throw new AbortError('aborted', { cause: signal.reason });
      if (!conn.alive) throw new DisconnectedError('the connection dropped during a chunked transfer');
      return out.received >= need;
    };
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        if (timer !== undefined) clearTimeout(timer);
        if (timeout > 0) {
          timer = setTimeout(() => {
            out.wake = undefined;
            signal?.removeEventListener('abort', wake);
            reject(new TimeoutError(`the peer acknowledged no chunk for ${timeout} ms (${out.received} of ${chunks} received)`));
          }, timeout);
        }
      };
      const wake = () => {
        try {
          if (!check()) {
            arm();
            return;
          }
          resolve();
        } catch (err) {
          reject(err);
        }
        out.wake = undefined;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
      };
      out.wake = wake;
      signal?.addEventListener('abort', wake, { once: true });
      arm();
    });
  }

  /** Handles a chunking frame (CHUNK, CHUNK_ACK, CHUNK_ERR, CHUNK_CANCEL) from peer. */
  handle(conn: C, from: string, type: string, data: Record<string, unknown>): void {
    const token = data.token;
    switch (type) {
      case 'CHUNK':
        this.#receive(conn, from, data);
        break;
      case 'CHUNK_CANCEL':
        this.#drop(this.#key(from, token));
        break;
      case 'CHUNK_ACK': {
        const out = this.#outgoing.get(Number(token));
        const received = data.received;
        if (out && repliesFor(out.peer, from) && typeof received === 'number' && received > out.received) {
          out.received = received;
          out.wake?.();
        }
        break;
      }
      case 'CHUNK_ERR': {
        const error = (data.error ?? {}) as { code?: unknown; message?: unknown };
        const code = typeof error.code === 'string' ? error.code : 'internal';
        this.#end(Number(token), from, errorFor(code, `the peer dropped the chunked message: ${code}: ${String(error.message ?? '')}`));
        break;
      }
    }
  }

  /** Takes a gateway error frame whose id is no pending operation's; reports whether it was a transfer's. */
  gatewayError(id: number, err: MonologueError): boolean {
    if (this.#end(id, undefined, err)) return true;
    for (const [key, t] of this.#incoming) {
      if (t.id === id) {
        this.#drop(key);
        return true;
      }
    }
    return false;
  }

  /** Ends the transfers of a connection that dropped. */
  connectionLost(err: MonologueError): void {
    for (const out of this.#outgoing.values()) {
      out.error ??= err;
      out.ended = true;
      out.wake?.();
    }
    for (const key of [...this.#incoming.keys()]) this.#drop(key);
  }

  #end(stream: number, from: string | undefined, err: MonologueError): boolean {
    const out = this.#outgoing.get(stream);
    if (!out || (from !== undefined && !repliesFor(out.peer, from))) return false;
    out.error ??= err;
    out.ended = true;
    out.wake?.();
    return true;
  }

  #key(peer: string, token: unknown): string {
    return peer + '\n' + String(token);
  }

  /**
   * Answers the offer of a chunked message from peer: accepts it within the
   * budget, or refuses it. via is the name the offer was addressed to, if any.
   */
  open(conn: C, peer: string, token: unknown, args: unknown, via: string | undefined): void {
    const tokenJSON = q(token);
    const id = this.#host.nextToken();
    const refuse = (code: string, message: string) => this.#write(conn, chunkFrame(peer, id, 'ERR', tokenJSON) + errorTail(code, message));
    if (!this.enabled) return refuse('not_found', `no handler for method "${CHUNK_METHOD}": chunking is off`);
    const spec = (Array.isArray(args) ? args[0] : undefined) as { size?: unknown; chunks?: unknown; chunk?: unknown } | undefined;
    const { size, chunks, chunk } = spec ?? {};
    if (!isCount(size) || !isCount(chunk) || size < 1 || chunk < 1 || chunks !== Math.ceil(size / chunk)) {
      return refuse('bad_request', 'malformed offer of a chunked message: want [{size,chunks,chunk}] with chunks = ⌈size/chunk⌉');
    }
    const key = this.#key(peer, token);
    const budget = this.#host.chunkBudget;
    if (size > budget) return refuse('payload_too_large', `a chunked message of ${size} bytes is over the budget of ${budget}`);
    if (this.#incoming.has(key)) return refuse('bad_request', 'a chunked transfer with this token is already open');
    if (this.#reserved + size > budget || this.#incoming.size >= MAX_INCOMING) {
      return refuse('rate_limited', `a chunked message of ${size} bytes does not fit now: ${this.#reserved} of the budget of ${budget} bytes are in use`);
    }
    const t: Incoming<C> = {
      conn, peer, via, tokenJSON, id, size, chunk, chunks: chunks as number,
      data: undefined, got: new Uint8Array(chunks as number), received: 0, timer: undefined,
    };
    this.#incoming.set(key, t);
    this.#reserved += size;
    this.#arm(key, t);
    this.#write(conn, chunkFrame(peer, id, 'ACK', tokenJSON) + `,"ret":{"window":${chunkWindow(chunk)}}}}}`);
  }

  #arm(key: string, t: Incoming<C>): void {
    if (t.timer !== undefined) clearTimeout(t.timer);
    t.timer = setTimeout(() => {
      this.#fail(key, t, 'timeout', `no chunk for ${this.#host.chunkTimeout} ms (${t.received} of ${t.chunks} received)`);
    }, this.#host.chunkTimeout);
    (t.timer as { unref?: () => void }).unref?.(); // an incomplete transfer does not keep Node running
  }

  #receive(conn: C, peer: string, data: Record<string, unknown>): void {
    const key = this.#key(peer, data.token);
    const t = this.#incoming.get(key);
    if (!t || t.conn !== conn) {
      this.#write(conn, chunkFrame(peer, this.#host.nextToken(), 'CHUNK_ERR', q(data.token)) + errorTail('not_found', 'no chunked transfer with this token'));
      return;
    }
    const seq = data.seq;
    const text = data.data;
    if (!isCount(seq) || seq >= t.chunks || typeof text !== 'string') return this.#fail(key, t, 'bad_request', 'malformed chunk');
    if (t.got[seq]) return; // a duplicate
    const want = Math.min(t.chunk, t.size - seq * t.chunk);
    const bytes = text.length === base64Length(want) ? base64Decode(text) : undefined;
    if (!bytes || bytes.length !== want) return this.#fail(key, t, 'bad_request', `chunk ${seq} is not base64 of ${want} bytes`);
    t.data ??= new Uint8Array(t.size);
    t.data.set(bytes, seq * t.chunk);
    t.got[seq] = 1;
    t.received++;
    if (t.received < t.chunks) {
      this.#arm(key, t);
      this.#write(conn, chunkFrame(peer, t.id, 'CHUNK_ACK', t.tokenJSON) + `,"received":${t.received}}}}`);
      return;
    }
    this.#drop(key);
    let payload: unknown;
    try {
      payload = JSON.parse(utf8DecodeStrict(t.data));
    } catch {
      this.#write(conn, chunkFrame(peer, t.id, 'CHUNK_ERR', t.tokenJSON) + errorTail('bad_request', 'the message put back together is not valid UTF-8 JSON'));
      return;
    }
    this.#write(conn, chunkFrame(peer, t.id, 'CHUNK_ACK', t.tokenJSON) + `,"received":${t.received}}}}`);
    const p = payload as { type?: unknown; data?: { name?: unknown } } | null;
    if (p && typeof p === 'object' && (CHUNK_TYPES.has(p.type as string) || (p.type === 'REQ' && p.data?.name === CHUNK_METHOD))) {
      return; // a chunking frame in parts: dropped
    }
    this.#host.deliver(conn, peer, payload, t.via);
  }

  /** Drops a transfer received and tells its sender why. */
  #fail(key: string, t: Incoming<C>, code: string, message: string): void {
    if (this.#incoming.get(key) !== t) return;
    this.#drop(key);
    this.#write(t.conn, chunkFrame(t.peer, t.id, 'CHUNK_ERR', t.tokenJSON) + errorTail(code, message));
  }

  #drop(key: string): void {
    const t = this.#incoming.get(key);
    if (!t) return;
    this.#incoming.delete(key);
    this.#reserved -= t.size;
    if (t.timer !== undefined) clearTimeout(t.timer);
  }

  #write(conn: C, frame: string): void {
    if (!conn.alive) return;
    try {
      conn.send(frame);
    } catch {
      /* the connection dropped meanwhile */
    }
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** Explains why the offer of a chunked message of size bytes was not accepted. */
function openError(size: number, err: unknown): unknown {
  if (!(err instanceof MonologueError)) return err;
  switch (err.code) {
    case 'timeout':
      return new ChunkingUnsupportedError(
        `the peer does not accept chunked messages: no answer to the offer of a chunked message of ${size} bytes (it does not speak chunking, or is not responding): ${err.message}`,
        { cause: err }
      );
    case 'payload_too_large':
    case 'rate_limited':
    case 'bad_request':
      if (err.peer !== undefined) return errorFor(err.code, `the peer refused a chunked message of ${size} bytes: ${err.message}`, { cause: err });
      return err; // the gateway's
    case 'not_found':
    case 'handler_error':
      return new ChunkingUnsupportedError(`the peer does not accept chunked messages: it answered the offer with ${err.code}: ${err.message}`, { cause: err });
  }
  return err;
}

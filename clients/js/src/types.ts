// The public types of the client's API.

import type { MonologueError } from './errors.js';
import type { WebSocketConstructor } from './transport.js';

/** Options of Monologue.connect. */
export interface ConnectOptions {
  /**
   * The gateway's WebSocket URL, e.g. "ws://127.0.0.1:8080/" or
   * "wss://abc.execute-api.eu-west-1.amazonaws.com/latest"; http(s) URLs
   * and a bare "host:port" are taken as ws(s). Default on Node: the
   * MONOLOGUE_ENDPOINT environment variable.
   */
  endpoint?: string;
  /**
   * The API key. Sent as the x-api-key header on Node (ws package), as the
   * apiKey query parameter in browsers, which cannot set headers. Default on
   * Node: MONOLOGUE_API_KEY.
   */
  apiKey?: string;
  /**
   * Milliseconds that connecting, a call, a subscription and each step of a
   * chunked transfer may wait for their answer. Default 15000; 0: no
   * timeout but an AbortSignal's.
   */
  timeout?: number;
  /**
   * Dial again when the connection drops, with exponential backoff and
   * jitter, until it succeeds or close() is called; subscribed channels are
   * subscribed again (with presence events where they had them), names
   * claimed again (exclusively where they were) and handlers kept. A
   * handshake refused with HTTP 403 ends
   * it for good (an 'error' event with a ForbiddenError, then 'close').
   * Default false: once the connection drops, operations fail with
   * DisconnectedError; close() must still be called.
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * The largest frame sent, envelope included (the gateway closes the
   * connection on a larger one). A call's request, a handler's result and a
   * send() over it are sent in parts to a peer that accepts chunked
   * messages; a publish() over it fails. Default 131072 (128 KiB, the
   * gateway's and API Gateway's limit); negative: no limit.
   */
  maxSendSize?: number;
  /**
   * Bytes that incoming chunked messages may hold while incomplete, all
   * peers together; also the largest chunked message accepted. Default
   * 67108864 (64 MiB); negative: chunking off both ways.
   */
  chunkBudget?: number;
  /** Milliseconds an incomplete incoming chunked message waits for its next part. Default 30000. */
  chunkTimeout?: number;
  /** Requests served at once; one more is answered "rate_limited". Default 1024. */
  maxConcurrentHandlers?: number;
  /** The WebSocket class to use. Default: the ws package on Node, the runtime's WebSocket elsewhere. */
  WebSocket?: WebSocketConstructor;
  /** Extra handshake headers (ws package only). */
  headers?: Record<string, string>;
  /**
   * A name to claim once connected (connect() fails if the claim does) and
   * again after each reconnection, so that peers reach this client at
   * "@name" whatever its connection ID. See Monologue.claim().
   */
  name?: string;
  /** Claim name exclusively: "newest wins", every other holder loses it. Default false. */
  nameExclusive?: boolean;
  /** Cancels connecting. */
  signal?: AbortSignal;
}

/** Backoff between reconnection attempts. */
export interface ReconnectOptions {
  /** The first wait, in ms, before jitter. Default 100. */
  minDelay?: number;
  /** The longest wait, in ms, before jitter. Default 10000. */
  maxDelay?: number;
}

/** Options of one call (callWith). */
export interface CallOptions {
  /** Cancels the call: it rejects with AbortError (and a chunked transfer is cancelled). */
  signal?: AbortSignal;
  /** This call's timeout in ms, instead of the client's. */
  timeout?: number;
}

/** A direct message that is not RPC, or a message of a subscribed channel. */
export interface Message {
  /** The sender's connection ID; undefined for a message the gateway broadcast itself (HTTP POST /channels/{channel}). */
  from: string | undefined;
  /** The channel it was published to; undefined for a direct message. */
  channel: string | undefined;
  /** The payload, decoded from JSON; undefined when the sender sent none. */
  payload: unknown;
  /** The name ("@name") the sender addressed the message to, when it reached this client as a holder of that name; undefined otherwise. */
  via: string | undefined;
}

/** Options of claim(). */
export interface ClaimOptions {
  /**
   * "Newest wins": every other holder of the name loses it at once (each
   * gets a 'nameLost' event). It is how a peer takes its stable name back
   * while an old connection of its own may still hold it.
   */
  exclusive?: boolean;
}

/** Options of subscribe(). */
export interface SubscribeOptions {
  /** Also emit a 'presence' event each time another connection joins or leaves the channel. */
  presence?: boolean;
}

/** Who is in a channel, or holds a name (presence(), holders()). */
export interface Presence {
  /** How many connections there are. */
  count: number;
  /** Their connection IDs, at most 1,000 of them (count may be larger). */
  members: string[];
}

/** Another connection joined or left a channel subscribed with { presence: true }. */
export interface PresenceEvent {
  channel: string;
  /** True when id subscribed; false when it left (unsubscribed, disconnected, timed out, or its cluster node died). */
  joined: boolean;
  /** The connection ID that joined or left. */
  id: string;
}

/** What a handler sees as `this` (use a `function`, not an arrow function, to read it). */
export interface CallContext {
  /** The caller's connection ID. */
  from: string;
  /** The method called. */
  method: string;
  /** The name ("@name") the caller called, when the call reached this client as a holder of it; undefined otherwise. */
  via: string | undefined;
}

/**
 * A method: called with the caller's arguments, its return value (or what
 * its promise resolves to) is the call's result. A thrown error is answered
 * "handler_error" with its message, except a NotFoundError,
 * RateLimitedError or PayloadTooLargeError thrown by the handler itself,
 * answered with its code.
 */
export type Handler = (this: CallContext, ...args: any[]) => unknown;

/** A channel subscription. */
export interface Subscription {
  readonly channel: string;
  /** Removes this subscription's listener; the channel is left when it was the last. */
  unsubscribe(): Promise<void>;
}

/** The events of a client and their listeners. */
export interface MonologueEvents {
  /** A direct message that is not RPC, or a message of a subscribed channel. */
  message: (message: Message) => void;
  /**
   * An error no operation waits for: a gateway error about a send() or
   * publish() (e.g. GoneError), an answer that could not be sent, a
   * reconnection refused for good. Not thrown when nobody listens.
   */
  error: (error: MonologueError) => void;
  /** The connection dropped; with reconnect, attempts follow. */
  disconnect: (error: MonologueError) => void;
  /** Connected again, with a new ID, channels subscribed and names claimed again. */
  reconnect: (id: string) => void;
  /** Another connection joined or left a channel subscribed with { presence: true }. */
  presence: (event: PresenceEvent) => void;
  /**
   * Another connection took name with an exclusive claim: this client no
   * longer holds it, and does not claim it again on reconnection.
   */
  nameLost: (name: string) => void;
  /** The client ended: close() was called (no error), or the connection was lost for good. */
  close: (error: MonologueError | undefined) => void;
}

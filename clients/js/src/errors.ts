// Errors of the client: one class per code, all MonologueError, so that a
// caller can test `err instanceof GoneError` or `err.code === 'gone'`.

/** Codes the gateway sends in error frames (wire/PROTOCOL.md, Errors). */
export type WireCode =
  | 'bad_request'
  | 'unknown_action'
  | 'gone'
  | 'payload_too_large'
  | 'rate_limited'
  | 'limit_exceeded'
  | 'forbidden'
  | 'internal';

/** Every code a MonologueError may carry. */
export type ErrorCode =
  | WireCode
  | 'not_found' // the peer has no handler for the method (RPC)
  | 'handler_error' // the peer's handler threw (RPC)
  | 'timeout' // no answer in time
  | 'aborted' // the caller's AbortSignal fired
  | 'closed' // close() was called
  | 'disconnected' // the connection dropped, or could not be opened
  | 'chunking_unsupported'; // the peer does not accept chunked messages

const retryable = new Set<string>(['rate_limited', 'internal', 'disconnected', 'timeout']);

/** Options of a MonologueError. */
export interface MonologueErrorOptions {
  /** The peer called, for errors of a call. */
  peer?: string;
  /** The method called, for errors of a call. */
  method?: string;
  /** The underlying error. */
  cause?: unknown;
}

/** Base class of every error of the client. */
export class MonologueError extends Error {
  /** The wire or client code, e.g. "gone", "not_found", "timeout". */
  readonly code: ErrorCode | (string & {});
  /** The peer called, when the error is a call's. */
  peer?: string;
  /** The method called, when the error is a call's. */
  method?: string;

  constructor(code: ErrorCode | (string & {}), message: string, options: MonologueErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options.peer !== undefined) this.peer = options.peer;
    if (options.method !== undefined) this.method = options.method;
  }

  /** Whether trying again later may succeed (rate_limited, internal, disconnected, timeout). */
  get retryable(): boolean {
    return retryable.has(this.code);
  }
}

/** The gateway could not parse or route a frame. */
export class BadRequestError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('bad_request', message, options);
  }
}
/** The gateway does not know the frame's action. */
export class UnknownActionError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('unknown_action', message, options);
  }
}
/** The target connection does not exist (any more). */
export class GoneError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('gone', message, options);
  }
}
/** A frame or message is over a size limit or a receiver's budget. */
export class PayloadTooLargeError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('payload_too_large', message, options);
  }
}
/** The sender, the target or a receiver's budget is over its rate (retryable). */
export class RateLimitedError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('rate_limited', message, options);
  }
}
/** A per-connection cap was reached (not retryable). */
export class LimitExceededError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('limit_exceeded', message, options);
  }
}
/** A wrong or missing API key, or a target of another tenant. */
export class ForbiddenError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('forbidden', message, options);
  }
}
/** The gateway failed (retryable). */
export class InternalError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('internal', message, options);
  }
}
/** The peer has no handler for the method called. */
export class NotFoundError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('not_found', message, options);
  }
}
/** The peer's handler threw. */
export class HandlerError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('handler_error', message, options);
  }
}
/** No answer within the timeout. */
export class TimeoutError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('timeout', message, options);
  }
}
/** The operation's AbortSignal fired. */
export class AbortError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('aborted', message, options);
  }
}
/** The client was closed. */
export class ClosedError extends MonologueError {
  constructor(message = 'the client is closed', options?: MonologueErrorOptions) {
    super('closed', message, options);
  }
}
/** The connection dropped, or could not be opened. */
export class DisconnectedError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('disconnected', message, options);
  }
}
/** The peer did not accept a message sent in parts (it does not speak chunking). */
export class ChunkingUnsupportedError extends MonologueError {
  constructor(message: string, options?: MonologueErrorOptions) {
    super('chunking_unsupported', message, options);
  }
}

const classes: Record<string, new (message: string, options?: MonologueErrorOptions) => MonologueError> = {
  bad_request: BadRequestError,
  unknown_action: UnknownActionError,
  gone: GoneError,
  payload_too_large: PayloadTooLargeError,
  rate_limited: RateLimitedError,
  limit_exceeded: LimitExceededError,
  forbidden: ForbiddenError,
  internal: InternalError,
  not_found: NotFoundError,
  handler_error: HandlerError,
  timeout: TimeoutError,
  aborted: AbortError,
  closed: ClosedError,
  disconnected: DisconnectedError,
  chunking_unsupported: ChunkingUnsupportedError,
};

/** Returns the error of the class for code (a MonologueError for a code it does not know). */
export function errorFor(code: string, message: string, options?: MonologueErrorOptions): MonologueError {
  const Class = classes[code];
  return Class ? new Class(message, options) : new MonologueError(code, message, options);
}

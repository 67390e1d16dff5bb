// monologue for Node and browsers: RPC, messages and channels between
// systems over a monologue gateway (wire/PROTOCOL.md in the repository).
//
//   const m = await Monologue.connect({ endpoint, apiKey });
//   m.handle('sample-method', async (a, b) => `hello ${a} ${b}!`);
//   await other.call(m.id, 'sample-method', 'from', 'machine1');
//   await m.claim('greeter');                  // a name: any number of holders
//   await other.call('@greeter', 'sample-method', 'to', 'a holder');

export { Monologue, defaults } from './client.js';
export { validName } from './names.js';
export type {
  CallContext,
  CallOptions,
  ClaimOptions,
  ConnectOptions,
  Handler,
  Message,
  MonologueEvents,
  Presence,
  PresenceEvent,
  ReconnectOptions,
  SubscribeOptions,
  Subscription,
} from './types.js';
export {
  AbortError,
  BadRequestError,
  ChunkingUnsupportedError,
  ClosedError,
  DisconnectedError,
  ForbiddenError,
  GoneError,
  HandlerError,
  InternalError,
  LimitExceededError,
  MonologueError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  TimeoutError,
  UnknownActionError,
  errorFor,
} from './errors.js';
export type { ErrorCode, MonologueErrorOptions, WireCode } from './errors.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';

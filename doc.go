// Package monologue is the Go client of monologue: serverless
// system-to-system messaging and RPC over WebSockets.
//
// Peers connect to a gateway (monologue serve, or API Gateway on AWS) with
// [Dial], learn their connection ID with [Client.ID], and then reach each
// other by ID:
//
//   - [Client.Handle] registers a method that peers may call, and
//     [Client.Call] calls a peer's method and waits for its result;
//   - [Client.Send] sends a direct message, received in Options.OnMessage;
//   - [Client.Subscribe] and [Client.Publish] use channels;
//   - [Client.Ping] waits for a round trip through the gateway.
//
// Send and Publish do not wait for the gateway; what it reports about them
// (a peer that is gone) goes to Options.OnError. With Options.Reconnect the
// client dials again when the gateway closes the connection (it does after
// 2 hours), keeping its handlers and channels under a new ID, unless the
// gateway refuses it (HTTP 403); [Client.Done] and [Client.Err] tell when
// and why a client stopped for good.
//
// A client is configured by [Options]; an endpoint or API key left empty
// comes from the environment (MONOLOGUE_ENDPOINT, MONOLOGUE_API_KEY) or a
// .monologuerc file (see [LoadConfig]).
//
// Errors match sentinels with errors.Is: the gateway's ([ErrGone],
// [ErrForbidden], …), the RPC convention's ([ErrNotFound], [ErrHandler]) and
// the client's ([ErrClosed], [ErrDisconnected]). A call that times out
// matches context.DeadlineExceeded.
//
// Calls are RPC over direct messages, the convention of the original
// JavaScript client (wire/PROTOCOL.md in the repository): a request
// {"type":"REQ","data":{"token":T,"name":M,"args":[…]}} is answered with
// {"type":"ACK","data":{"token":T,"ret":V}} or
// {"type":"ERR","data":{"token":T,"error":{"code":C,"message":M}}}.
//
// A payload over Options.MaxSendSize — a call's arguments or result, a Send
// — is sent in parts to a peer that accepts them, and put back together on
// the other side (the Chunking section of wire/PROTOCOL.md); a peer that
// does not speak chunking makes the operation fail with
// [ErrChunkingUnsupported]. Options.ChunkBudget and Options.ChunkTimeout
// bound what a client holds for incomplete incoming messages.
//
// A Client has one goroutine reading its connection and one writing it; the
// writer sends what several goroutines queued in one write. Handlers run in
// goroutines of their own.
package monologue

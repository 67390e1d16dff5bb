// Package wsframe encodes and decodes WebSocket frames (RFC 6455 §5.2) for
// both ends of monologue: the gateway, which sends unmasked frames and reads
// masked ones, and the Go client, which does the opposite. It owns the
// bytes of a frame and nothing else: no queues, no sockets, no policy on
// what a frame may contain. Headers are github.com/gobwas/ws's [ws.Header],
// masking is [ws.Cipher].
//
// Entry points:
//   - [AppendFrame] and [AppendMaskedFrame] append a final frame to a
//     buffer, [AppendHeader] only an unmasked frame's header; [FrameSize]
//     is the length of an unmasked frame.
//   - [ReadHeader] reads a header from a bufio.Reader without allocating;
//     [HeaderSize] and [ParseHeader] do the same for a reader that gathers
//     the header's bytes itself.
//   - [ReadPayload] appends a frame's payload to a buffer, unmasked,
//     growing it only as bytes arrive.
//   - [AppendCloseBody] appends a close frame's payload, its reason valid
//     UTF-8 and cut to fit on a rune boundary.
//
// None of them allocates beyond growing the buffer it is given.
package wsframe

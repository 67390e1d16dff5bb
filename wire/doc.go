// Package wire holds monologue's wire format: parsing client frames, encoding
// server frames, the error codes, and connection IDs. It does no I/O.
//
// Entry points: [Parse] turns a text frame into a [Frame] whose payload stays
// raw bytes; the Append functions ([AppendDirect], [AppendChannel],
// [AppendError], …) build server frames by appending bytes; [Error] and the
// Err sentinels are the protocol's error codes; [NewConnectionID] makes IDs.
//
// The normative description of the protocol is PROTOCOL.md beside this file.
package wire

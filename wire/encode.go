package wire

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// PongMessage is the reply to a send frame that carries no message.
const PongMessage = "🏓 pong"

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string literal. Invalid UTF-8 becomes
// U+FFFD, so the output is always valid JSON.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		i += asciiRun(s[i:])
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendDirect appends a direct message {"to":TO,"from":FROM,"payload":P};
// payload is omitted when nil.
func AppendDirect(dst []byte, to, from string, payload []byte) []byte {
	dst = append(dst, `{"to":`...)
	dst = AppendString(dst, to)
	dst = append(dst, `,"from":`...)
	dst = AppendString(dst, from)
	return appendPayloadEnd(dst, payload)
}

// AppendDirectVia appends a direct message that reached its holder through
// a name: {"to":TO,"from":FROM,"via":"@N","payload":P}.
func AppendDirectVia(dst []byte, to, from, via string, payload []byte) []byte {
	dst = append(dst, `{"to":`...)
	dst = AppendString(dst, to)
	dst = append(dst, `,"from":`...)
	dst = AppendString(dst, from)
	dst = append(dst, `,"via":`...)
	dst = AppendString(dst, via)
	return appendPayloadEnd(dst, payload)
}

// AppendName appends the reply to claim or release, or the notice of a
// takeover: {"action":"claimed"|"released","name":N,"id":ID}; id is omitted
// when nil.
func AppendName(dst []byte, claimed bool, name string, id []byte) []byte {
	if claimed {
		dst = append(dst, `{"action":"claimed","name":`...)
	} else {
		dst = append(dst, `{"action":"released","name":`...)
	}
	dst = AppendString(dst, name)
	return appendIDEnd(dst, id)
}

// AppendPresence appends the reply to presence:
// {"action":"presence","channel":C,"count":K,"members":[ID,…],"id":ID}, or
// with "name":N in place of "channel":C when byName.
func AppendPresence(dst []byte, byName bool, key string, count int, members []string, id []byte) []byte {
	if byName {
		dst = append(dst, `{"action":"presence","name":`...)
	} else {
		dst = append(dst, `{"action":"presence","channel":`...)
	}
	dst = AppendString(dst, key)
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendInt(dst, int64(count), 10)
	dst = append(dst, `,"members":[`...)
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, m)
	}
	dst = append(dst, ']')
	return appendIDEnd(dst, id)
}

// AppendPresenceEvent appends {"channel":C,"joined":ID} or
// {"channel":C,"left":ID}.
func AppendPresenceEvent(dst []byte, channel string, joined bool, connectionID string) []byte {
	dst = append(dst, `{"channel":`...)
	dst = AppendString(dst, channel)
	if joined {
		dst = append(dst, `,"joined":`...)
	} else {
		dst = append(dst, `,"left":`...)
	}
	dst = AppendString(dst, connectionID)
	return append(dst, '}')
}

func appendIDEnd(dst, id []byte) []byte {
	if id != nil {
		dst = append(dst, `,"id":`...)
		dst = append(dst, id...)
	}
	return append(dst, '}')
}

// AppendChannel appends a channel message {"channel":C,"from":FROM,"payload":P};
// from is omitted when empty (server-side broadcasts), payload when nil.
func AppendChannel(dst []byte, channel, from string, payload []byte) []byte {
	dst = append(dst, `{"channel":`...)
	dst = AppendString(dst, channel)
	if from != "" {
		dst = append(dst, `,"from":`...)
		dst = AppendString(dst, from)
	}
	return appendPayloadEnd(dst, payload)
}

func appendPayloadEnd(dst, payload []byte) []byte {
	if payload != nil {
		dst = append(dst, `,"payload":`...)
		dst = append(dst, payload...)
	}
	return append(dst, '}')
}

// DirectSize is the length of the frame AppendDirect would build, so a size
// limit can be checked before building it. Strings needing escapes make the
// real frame longer; IDs never need them.
func DirectSize(to, from string, payload []byte) int {
	n := len(`{"to":"","from":""}`) + len(to) + len(from)
	if payload != nil {
		n += len(`,"payload":`) + len(payload)
	}
	return n
}

// AppendError appends an error frame
// {"error":{"code":CODE,"message":TEXT},"id":ID,"to":TO}; id is omitted when
// nil and to when empty.
func AppendError(dst []byte, code Code, message string, id []byte, to string) []byte {
	dst = append(dst, `{"error":{"code":`...)
	dst = AppendString(dst, string(code))
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, message)
	dst = append(dst, '}')
	if id != nil {
		dst = append(dst, `,"id":`...)
		dst = append(dst, id...)
	}
	if to != "" {
		dst = append(dst, `,"to":`...)
		dst = AppendString(dst, to)
	}
	return append(dst, '}')
}

// AppendSubscription appends the reply to subscribe or unsubscribe:
// {"action":"subscribed"|"unsubscribed","channel":C,"id":ID}.
func AppendSubscription(dst []byte, subscribed bool, channel string, id []byte) []byte {
	if subscribed {
		dst = append(dst, `{"action":"subscribed","channel":`...)
	} else {
		dst = append(dst, `{"action":"unsubscribed","channel":`...)
	}
	dst = AppendString(dst, channel)
	if id != nil {
		dst = append(dst, `,"id":`...)
		dst = append(dst, id...)
	}
	return append(dst, '}')
}

// AppendSendReply appends the reply to a send frame: {"message":M}, or the
// pong message when message is nil.
func AppendSendReply(dst, message []byte) []byte {
	dst = append(dst, `{"message":`...)
	if message == nil {
		dst = AppendString(dst, PongMessage)
	} else {
		dst = append(dst, message...)
	}
	return append(dst, '}')
}

// BodyPayload returns body as a JSON value: itself when it is valid JSON,
// else encoded as a JSON string. It is how HTTP publish turns a request body
// into a payload.
func BodyPayload(body []byte) []byte {
	if len(body) > 0 && json.Valid(body) {
		return body
	}
	return AppendString(nil, string(body))
}

package wire

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

// Actions a client may name in a frame's "action" field. They are also the
// route keys of the API Gateway deployment.
const (
	ActionLoopback    = "loopback"
	ActionSendMessage = "sendmessage"
	ActionSend        = "send"
	ActionSubscribe   = "subscribe"
	ActionUnsubscribe = "unsubscribe"
	ActionPublish     = "publish"
	ActionClaim       = "claim"
	ActionRelease     = "release"
	ActionPresence    = "presence"
)

// Route keys that are not actions.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
)

// Actions lists every action of the protocol, in the order of the protocol table.
var Actions = []string{ActionLoopback, ActionSendMessage, ActionSend, ActionSubscribe, ActionUnsubscribe, ActionPublish, ActionClaim, ActionRelease, ActionPresence}

// IsAction reports whether name is one of [Actions] (case-sensitive).
func IsAction(name string) bool {
	switch name {
	case ActionLoopback, ActionSendMessage, ActionSend, ActionSubscribe, ActionUnsubscribe, ActionPublish, ActionClaim, ActionRelease, ActionPresence:
		return true
	}
	return false
}

// Whoami is the raw-text frame that asks for the sender's connection ID.
const Whoami = "whoami"

// MaxChannelLength bounds a channel name in bytes.
const MaxChannelLength = 256

// Frame is a parsed client frame. Raw fields hold the exact bytes of the
// JSON value as the client sent them (nil when absent), so they can be passed
// on without re-encoding.
type Frame struct {
	Whoami  bool   // the frame was the raw text "whoami"
	Action  string // "" when absent or null
	To      string // "" when absent or null
	Channel string // "" when absent or null
	Payload []byte // raw JSON value of "payload"; nil when absent
	Message []byte // raw JSON value of "message"; nil when absent or null
	ID      []byte // raw JSON of "id" (a string or number); nil when absent or null
	// Name is the name of claim, release and presence; "" when absent or
	// null. Whether it is a valid name is the relay's to check (ValidName).
	Name string
	// Exclusive is claim's "exclusive":true (newest wins).
	Exclusive bool
	// Presence is subscribe's "presence":true (joined and left events).
	Presence bool
}

// Route returns the route API Gateway would select for the frame with the
// expression $request.body.action: the action when it is one of [Actions],
// else $default.
func (f *Frame) Route() string {
	if IsAction(f.Action) {
		return f.Action
	}
	return RouteDefault
}

// Parse parses one client text frame. It returns [ErrInvalidUTF8] when the
// frame is not valid UTF-8 (a WebSocket server closes the connection with
// status 1007 for it), and another *Error with code bad_request when the
// frame is neither "whoami" nor a JSON object, or when a known field has the
// wrong type; unknown fields are ignored. It does not check that the fields
// an action needs are present: that is the relay's job. The Raw fields of
// the result alias data. When a field has the wrong type, the rest of the
// frame is still read, so the returned Frame's ID can be echoed on the
// error frame.
//
// A frame that parses is valid UTF-8 throughout: every byte outside a JSON
// string is ASCII, and every string is checked as it is scanned. Only a
// frame that fails for another reason is checked again as a whole, to tell
// which error it is.
func Parse(data []byte) (Frame, error) {
	var f Frame
	if string(data) == Whoami {
		f.Whoami = true
		return f, nil
	}
	err := f.parseObject(data)
	if err != nil && !utf8.Valid(data) {
		return Frame{}, ErrInvalidUTF8
	}
	return f, err
}

// IsInvalidUTF8 reports whether err is (or wraps) [ErrInvalidUTF8]. Use it
// rather than errors.Is, which matches every bad_request.
func IsInvalidUTF8(err error) bool {
	for err != nil {
		if err == error(ErrInvalidUTF8) {
			return true
		}
		err = errors.Unwrap(err)
	}
	return false
}

func (f *Frame) parseObject(b []byte) error {
	if i := skipSpace(b, 0); i >= len(b) || b[i] != '{' {
		if _, err := scanValue(b, i, 0); err != nil || i >= len(b) {
			return NewError(CodeBadRequest, "frame is not JSON")
		}
		return NewError(CodeBadRequest, "frame is not a JSON object")
	}
	var typeErr error // the first field of the wrong type; reading goes on, for the id
	r := NewObjectReader(b)
	for key, value, ok := r.Next(); ok; key, value, ok = r.Next() {
		if err := f.setField(key, value); err != nil && typeErr == nil {
			typeErr = err
		}
	}
	switch r.Err() {
	case nil:
		return typeErr
	case errTooDeep:
		return NewError(CodeBadRequest, "frame is nested too deeply")
	}
	return NewError(CodeBadRequest, "frame is not JSON")
}

var (
	keyAction    = []byte(`"action"`)
	keyTo        = []byte(`"to"`)
	keyChannel   = []byte(`"channel"`)
	keyPayload   = []byte(`"payload"`)
	keyMessage   = []byte(`"message"`)
	keyID        = []byte(`"id"`)
	keyName      = []byte(`"name"`)
	keyExclusive = []byte(`"exclusive"`)
	keyPresence  = []byte(`"presence"`)
)

// setField stores a field's raw value. Duplicate keys: the last one wins, as
// with encoding/json.
func (f *Frame) setField(key, value []byte) error {
	if bytes.IndexByte(key, '\\') >= 0 {
		key = []byte(`"` + unquote(key, true) + `"`)
	}
	isNull := string(value) == "null"
	switch {
	case bytes.Equal(key, keyPayload):
		f.Payload = value
	case bytes.Equal(key, keyAction):
		if name, ok := knownAction(value); ok {
			f.Action = name // no allocation for the actions of the protocol
			return nil
		}
		return stringField(&f.Action, "action", value, isNull)
	case bytes.Equal(key, keyTo):
		return stringField(&f.To, "to", value, isNull)
	case bytes.Equal(key, keyChannel):
		if err := stringField(&f.Channel, "channel", value, isNull); err != nil {
			return err
		}
		if len(f.Channel) > MaxChannelLength {
			return NewError(CodeBadRequest, "channel is longer than 256 bytes")
		}
	case bytes.Equal(key, keyMessage):
		f.Message = nil
		if !isNull {
			f.Message = value
		}
	case bytes.Equal(key, keyName):
		return stringField(&f.Name, "name", value, isNull)
	case bytes.Equal(key, keyExclusive):
		return boolField(&f.Exclusive, "exclusive", value, isNull)
	case bytes.Equal(key, keyPresence):
		return boolField(&f.Presence, "presence", value, isNull)
	case bytes.Equal(key, keyID):
		f.ID = nil
		if isNull {
			return nil
		}
		if value[0] != '"' && value[0] != '-' && !isDigit(value[0]) {
			return NewError(CodeBadRequest, "id must be a string or a number")
		}
		f.ID = value
	}
	return nil
}

// knownAction returns the constant for a string literal naming one of the
// protocol's actions.
func knownAction(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", false
	}
	switch name := lit[1 : len(lit)-1]; string(name) { // no allocation: compiled to comparisons
	case ActionLoopback:
		return ActionLoopback, true
	case ActionSendMessage:
		return ActionSendMessage, true
	case ActionSend:
		return ActionSend, true
	case ActionSubscribe:
		return ActionSubscribe, true
	case ActionUnsubscribe:
		return ActionUnsubscribe, true
	case ActionPublish:
		return ActionPublish, true
	case ActionClaim:
		return ActionClaim, true
	case ActionRelease:
		return ActionRelease, true
	case ActionPresence:
		return ActionPresence, true
	}
	return "", false
}

func boolField(dst *bool, name string, value []byte, isNull bool) error {
	switch {
	case isNull:
		*dst = false
	case string(value) == "true":
		*dst = true
	case string(value) == "false":
		*dst = false
	default:
		return NewError(CodeBadRequest, name+" must be true or false")
	}
	return nil
}

// MaxNameLength bounds a name in bytes.
const MaxNameLength = 128

// ValidName reports whether s may be claimed: 1 to 128 bytes of letters,
// digits and . _ - : /, starting with a letter or a digit.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-' && c != ':' && c != '/')) {
			return false
		}
	}
	return true
}

// NamePrefix starts a direct message's "to" that addresses a name.
const NamePrefix = "@"

func stringField(dst *string, name string, value []byte, isNull bool) error {
	if isNull {
		*dst = ""
		return nil
	}
	if value[0] != '"' {
		return NewError(CodeBadRequest, name+" must be a string")
	}
	_, escaped, _ := scanString(value, 0)
	*dst = unquote(value, escaped)
	return nil
}

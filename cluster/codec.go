package cluster

import (
	"encoding/binary"
	"errors"

	"github.com/monologue-go/monologue/wire"
)

// The messages between nodes are small binary records: length-prefixed
// strings (uvarint lengths) followed by the frame, which is the rest of the
// message and is never copied or re-encoded on the way.

var errShort = errors.New("cluster: message cut short")

// appendField appends a length-prefixed field.
func appendField(b []byte, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readField reads a length-prefixed field from b and returns it and the rest.
func readField(b []byte) (field, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errShort
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

// delivery is a relay.Delivery on its way to another node.
type delivery struct {
	to, tenant string
	frame      []byte
}

func appendDelivery(b []byte, d *delivery) []byte {
	b = appendField(b, []byte(d.to))
	b = appendField(b, []byte(d.tenant))
	return append(b, d.frame...)
}

func parseDelivery(b []byte) (d delivery, err error) {
	var to, tenant []byte
	if to, b, err = readField(b); err != nil {
		return d, err
	}
	if tenant, b, err = readField(b); err != nil {
		return d, err
	}
	d.to, d.tenant, d.frame = string(to), string(tenant), b
	return d, nil
}

// appendAnswer appends a node's answer to a request: the wire error code
// ("" for success) and then the error's message or the result.
func appendAnswer(b []byte, err error, result []byte) []byte {
	if err == nil {
		b = appendField(b, nil)
		return append(b, result...)
	}
	werr, ok := errors.AsType[*wire.Error](err)
	if !ok {
		werr = wire.NewError(wire.CodeInternal, "internal error")
	}
	b = appendField(b, []byte(werr.Code))
	return append(b, werr.Message...)
}

// parseAnswer returns the result of an answer, or its error as a
// *wire.Error.
func parseAnswer(b []byte) ([]byte, error) {
	code, rest, err := readField(b)
	if err != nil {
		return nil, err
	}
	if len(code) > 0 {
		return nil, wire.NewError(wire.Code(code), string(rest))
	}
	return rest, nil
}

// publication is a channel's frame on its way to the nodes with members;
// a presence event also says who joined or left, and the channel's name.
type publication struct {
	skip, tenant  string
	member, label string // a presence event's member and channel name
	joined        bool
	frame         []byte
}

func appendPublication(b []byte, p *publication) []byte {
	b = appendField(b, []byte(p.skip))
	b = appendField(b, []byte(p.tenant))
	b = appendField(b, []byte(p.member))
	b = appendField(b, []byte(p.label))
	if p.joined {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return append(b, p.frame...)
}

func parsePublication(b []byte) (p publication, err error) {
	var skip, tenant, member, label []byte
	if skip, b, err = readField(b); err != nil {
		return p, err
	}
	if tenant, b, err = readField(b); err != nil {
		return p, err
	}
	if member, b, err = readField(b); err != nil {
		return p, err
	}
	if label, b, err = readField(b); err != nil {
		return p, err
	}
	if len(b) == 0 {
		return p, errShort
	}
	p.skip, p.tenant, p.member, p.label = string(skip), string(tenant), string(member), string(label)
	p.joined, p.frame = b[0] == 1, b[1:]
	return p, nil
}

package monologue

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/monologue-go/monologue/wire"
)

// appendValue appends v as JSON. The common types are appended directly;
// json.RawMessage passes through unchanged (it must be valid JSON); anything
// else goes through encoding/json, so json.Marshaler and struct tags work.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return wire.AppendString(b, v), nil
	case json.RawMessage:
		if len(v) == 0 {
			return append(b, "null"...), nil
		}
		if !json.Valid(v) {
			return b, errors.New("json.RawMessage is not valid JSON")
		}
		return append(b, v...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case float64:
		return appendFloat(b, v, 64)
	case float32:
		return appendFloat(b, float64(v), 32)
	case []any:
		return appendArray(b, v)
	case []json.RawMessage:
		b = append(b, '[')
		for i, raw := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, raw); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case []string:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = wire.AppendString(b, s)
		}
		return append(b, ']'), nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}

func appendArray(b []byte, values []any) ([]byte, error) {
	b = append(b, '[')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendValue(b, v); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, errors.New("unsupported value: " + strconv.FormatFloat(f, 'g', -1, bits))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// decodeValue stores the JSON value data in the value v points to, as
// json.Unmarshal does, with fast paths for the common targets. A
// json.RawMessage target aliases data, which the caller owns.
func decodeValue(data []byte, v any) error {
	switch v := v.(type) {
	case nil:
		return nil
	case *json.RawMessage:
		*v = data
		return nil
	case *string:
		if plainString(data) {
			*v = string(data[1 : len(data)-1])
			return nil
		}
	case *bool:
		switch string(data) {
		case "true":
			*v = true
			return nil
		case "false":
			*v = false
			return nil
		}
	case *any:
		switch {
		case plainString(data):
			*v = string(data[1 : len(data)-1])
			return nil
		case string(data) == "null":
			*v = nil
			return nil
		case string(data) == "true":
			*v = true
			return nil
		case string(data) == "false":
			*v = false
			return nil
		}
	}
	return json.Unmarshal(data, v)
}

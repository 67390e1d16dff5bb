package cluster

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/wire"
)

// The management API of any node acts on a connection wherever it is: a
// request for a connection of another node is a NATS request to that
// node's management subject. Requests carry an operation byte, the
// connection ID (length-prefixed) and the data (a ping, the byte alone);
// answers carry a wire error code ("" for success) and the result.

const (
	opPost   = 'P'
	opGet    = 'G'
	opDelete = 'D'
	// opIntrospect is a question of the introspection API (see gather.go);
	// its connection ID is empty and its data is the query.
	opIntrospect = 'I'
	opPing       = 'p' // no connection: answered at once, while the node listens
)

var _ gateway.Remote = (*Node)(nil)

// PostToConnection sends data to a connection of another node, as the
// management API's PostToConnection.
func (n *Node) PostToConnection(ctx context.Context, connectionID string, data []byte) error {
	_, err := n.manage(ctx, opPost, connectionID, data)
	return err
}

// Connection describes a connection of another node.
func (n *Node) Connection(ctx context.Context, connectionID string) (gateway.ConnectionInfo, error) {
	var info gateway.ConnectionInfo
	data, err := n.manage(ctx, opGet, connectionID, nil)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("cluster: connection info from another node: %w", err)
	}
	return info, nil
}

// DeleteConnection closes a connection of another node.
func (n *Node) DeleteConnection(ctx context.Context, connectionID string) error {
	_, err := n.manage(ctx, opDelete, connectionID, nil)
	return err
}

// manage makes a management request to the node that holds connectionID.
func (n *Node) manage(ctx context.Context, op byte, connectionID string, data []byte) ([]byte, error) {
	tag, ok := wire.TagOf(connectionID)
	if !ok || n.isLocal(connectionID) {
		return nil, goneError(connectionID)
	}
	if err := n.unreachable(tag, connectionID); err != nil {
		return nil, err
	}
	req := appendField([]byte{op}, []byte(connectionID))
	req = append(req, data...)
	msg, err := n.request(ctx, tag, connectionID, n.manageSubject(tag), req)
	if err != nil {
		return nil, fmt.Errorf("cluster: management request to node %s: %w", tag, err)
	}
	return parseAnswer(msg.Data)
}

// onManage serves a management request from another node.
func (n *Node) onManage(m *nats.Msg) {
	if len(m.Data) == 0 || n.local == nil {
		return
	}
	op := m.Data[0]
	if op == opPing {
		_ = m.Respond(appendAnswer(nil, nil, nil))
		return
	}
	id, data, err := readField(m.Data[1:])
	if err != nil {
		return
	}
	connectionID := string(id)
	var result []byte
	switch op {
	case opPost:
		err = n.local.PostToConnection(n.ctx, connectionID, data)
	case opGet:
		info, ok := n.local.Connection(connectionID)
		if !ok {
			err = goneError(connectionID)
		} else {
			result, err = json.Marshal(info)
		}
	case opDelete:
		err = n.local.DeleteConnection(connectionID)
	case opIntrospect:
		result, err = n.introspect(data)
	default:
		err = wire.NewError(wire.CodeBadRequest, "unknown management operation")
	}
	_ = m.Respond(appendAnswer(nil, err, result))
}

//go:build !linux

package gateway

import (
	"errors"
	"net"
	"net/http"

	"github.com/monologue-go/monologue/relay"
)

// loopsSupported reports whether this platform has event loops.
const loopsSupported = false

// loop is an event loop; there are none on this platform.
type loop struct {
	roundEnd []func()
	round    round
}

type taskKind uint8

const (
	taskAdd taskKind = iota
	taskResume
	taskWake
	taskStop
)

type loopTask struct {
	kind taskKind
	c    *conn
}

// upgrade is a handshake a loop reads; there are none on this platform.
type upgrade struct{}

func (up *upgrade) complete(*Gateway, *http.Request, string, relay.Identity, string) (*conn, error) {
	return nil, errors.New("no event loops")
}

func (g *Gateway) listenOnLoops(*net.TCPListener, *loopListener) error {
	return errors.New("no event loops on this platform")
}

func newLoop(*Gateway) (*loop, error)          { return nil, errors.New("no event loops on this platform") }
func (l *loop) adopt(*conn) bool               { return false }
func (l *loop) remove(*conn)                   {}
func (l *loop) start(*conn)                    {}
func (l *loop) release(*conn)                  {}
func (l *loop) post(loopTask)                  {}
func (l *loop) stop()                          {}
func shutdownSocket(int)                       {}
func (c *conn) readLooped([]byte) (int, error) { return 0, errors.New("no event loops") }
func (c *conn) writeLooped(*sendQueue) error   { return errors.New("no event loops") }

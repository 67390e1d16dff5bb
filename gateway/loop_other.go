//go:build !linux

package gateway

import "errors"

// loopsSupported reports whether this platform has event loops.
const loopsSupported = false

// loop is an event loop; there are none on this platform.
type loop struct{}

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

func newLoop(*Gateway) (*loop, error)          { return nil, errors.New("no event loops on this platform") }
func (l *loop) adopt(*conn) bool               { return false }
func (l *loop) remove(*conn)                   {}
func (l *loop) post(loopTask)                  {}
func (l *loop) stop()                          {}
func (l *loop) addDirty(*conn)                 {}
func shutdownSocket(int)                       {}
func (c *conn) readLooped([]byte) (int, error) { return 0, errors.New("no event loops") }
func (c *conn) writeLooped(*sendQueue) error   { return errors.New("no event loops") }

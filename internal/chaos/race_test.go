//go:build race

package chaos

// raceEnabled is true when the tests run with the race detector; the
// nodes' binary is then built with it too.
const raceEnabled = true

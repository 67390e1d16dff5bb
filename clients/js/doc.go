// Package jsclient holds no Go code of its own: it is the directory of the
// TypeScript client (@monologue-go/monologue, for Node and browsers), and
// its Go tests are the harness that checks it against real gateways.
//
// The tests install the npm packages pinned in package-lock.json (npm ci),
// build the client and its tests with tsc, start gateways with
// gatewaytest, a Go client as a peer, and a small control server through
// which the node tests ask the Go peer to call, message them, or restart a
// gateway; then they run node --test. TestTypeScriptClient runs the unit,
// gateway, chunking, names and presence, reconnection and
// interoperability suites; TestBrowser runs the
// client in Debian's Chromium, headless, driven by playwright-core.
package jsclient

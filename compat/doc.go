// Package compat holds the compatibility test of the original JavaScript monologue
// client (github.com/rootstream/monologue) against this repository's gateway.
//
// The test, compat_test.go, starts the gateway in process and runs js/compat.test.mjs
// with Node's test runner. That script drives behavioural models of both versions of the
// original client — js/original-v1.mjs (loopback/sendmessage) and js/original-v2.mjs
// (whoami/$default) — re-implemented from a study of the original's wire behaviour.
// See README.md for what the original does on the wire. The package has no API.
package compat

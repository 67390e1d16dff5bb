package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// startServe runs runServe with args in the background and returns the
// lines it printed before it was ready, keyed by their first word, and a
// function that stops it and reports its error.
func startServe(t *testing.T, args ...string) (lines map[string]string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutReader, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := runServe(ctx, args, stdout, io.Discard)
		stdout.Close()
		done <- err
	}()
	lines = map[string]string{}
	scanner := bufio.NewScanner(stdoutReader)
	for scanner.Scan() {
		first, rest, _ := strings.Cut(scanner.Text(), " ")
		lines[first] = rest
		if first == "try:" {
			break
		}
	}
	go io.Copy(io.Discard, stdoutReader)
	stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return errors.New("runServe did not return after cancel")
		}
	}
	if lines["try:"] == "" {
		t.Fatalf("serve did not start: %v (printed %q)", stop(), lines)
	}
	return lines, stop
}

func TestServe(t *testing.T) {
	t.Chdir(t.TempDir())
	lines, stop := startServe(t, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-level", "warn")
	endpoint, key := lines["listening"], lines["api"]
	if !strings.HasPrefix(endpoint, "ws://127.0.0.1:") || strings.HasSuffix(endpoint, ":0/") || !strings.HasPrefix(key, "key ") {
		t.Fatalf("stdout lines %q", lines)
	}
	key = strings.TrimPrefix(key, "key ")
	if want := `wscat -c ` + endpoint + ` -H "x-api-key: ` + key + `"`; lines["try:"] != want {
		t.Errorf("wscat line %q, want %q", lines["try:"], want)
	}
	rc, err := os.ReadFile(rcFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[opts]\nendpoint=" + endpoint + "\napiKey=" + key + "\n"; string(rc) != want {
		t.Errorf("%s = %q, want %q", rcFile, rc, want)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get("http" + strings.TrimSuffix(strings.TrimPrefix(endpoint, "ws"), "/") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", resp.StatusCode)
	}

	if err := stop(); err != nil {
		t.Fatalf("runServe: %v", err)
	}
}

func TestServeUnknownIntegration(t *testing.T) {
	err := runServe(context.Background(), []string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--integration", "carrier-pigeon", "--api-key", "k"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unknown integration") {
		t.Fatalf("err = %v, want unknown integration", err)
	}
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutReader, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := runServe(ctx, []string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--api-key", "k",
			"--tls-cert", certFile, "--tls-key", keyFile, "--log-level", "warn"}, stdout, io.Discard)
		stdout.Close()
		done <- err
	}()
	scanner := bufio.NewScanner(stdoutReader)
	var endpoint string
	for scanner.Scan() {
		if rest, ok := strings.CutPrefix(scanner.Text(), "listening "); ok {
			endpoint = rest
			break
		}
	}
	go io.Copy(io.Discard, stdoutReader)
	if !strings.HasPrefix(endpoint, "wss://") {
		t.Fatalf("endpoint %q, want wss://", endpoint)
	}
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	ws, _, err := dialer.Dial(endpoint, http.Header{"X-Api-Key": {"k"}})
	if err != nil {
		t.Fatalf("dial %s: %v", endpoint, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, id, err := ws.ReadMessage(); err != nil || len(id) != 16 {
		t.Fatalf("whoami over TLS: %q %v", id, err)
	}
	ws.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runServe: %v", err)
	}
}

// writeSelfSigned writes a certificate for 127.0.0.1 and its key.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

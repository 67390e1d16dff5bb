package bench

import (
	"strings"
	"testing"
)

func TestRPCArg(t *testing.T) {
	pad := padding(64)
	a, b := rpcArg(1, pad), rpcArg(2, pad)
	if len(a) != 64 || a == b || !strings.HasPrefix(a, "t1:") {
		t.Fatalf("rpcArg: %q, %q", a, b)
	}
	if long := rpcArg(123456789, padding(4)); long != "t123456789:" {
		t.Fatalf("rpcArg with a short pad: %q", long)
	}
}

func TestFanoutPayloadRoundTrip(t *testing.T) {
	for _, size := range []int{1, 16, 64, 4096} {
		pad := padding(size)
		p := fanoutPayload(42, 1234567, pad)
		if size >= 16 && len(p) != size {
			t.Fatalf("size %d: payload of %d bytes", size, len(p))
		}
		seq, sent, ok := parseFanout([]byte(p), pad)
		if !ok || seq != 42 || sent != 1234567 {
			t.Fatalf("size %d: parseFanout(%q) = %d, %d, %v", size, p, seq, sent, ok)
		}
	}
	pad := padding(64)
	good := fanoutPayload(7, 99, pad)
	for _, bad := range []string{
		"", "f", "x7:99:" + pad[6:], good[:len(good)-1], good + "x", good[:len(good)-1] + "y",
		"f7:99", "fa:99:" + pad[6:], "f7:b9:" + pad[6:],
	} {
		if _, _, ok := parseFanout([]byte(bad), pad); ok {
			t.Errorf("parseFanout(%q) accepted", bad)
		}
	}
}

func TestChannelPayload(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"channel":"c","from":"A=","payload":"f1:2:xx"}`, "f1:2:xx"},
		{`{"channel":"c","from":"A=","payload":"q\"uote"}`, `q"uote`},
		{`{"channel":"c","payload":"p","from":"A="}`, "p"},
		{`{"error":{"code":"gone"}}`, ""},
		{`{"channel":"c","from":"A=","payload":42}`, ""},
	}
	for _, tt := range tests {
		if got := string(channelPayload([]byte(tt.in))); got != tt.want {
			t.Errorf("channelPayload(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNATSParserAcrossFrames(t *testing.T) {
	var got []string
	pings := 0
	p := &natsParser{
		onMsg:  func(b []byte) { got = append(got, string(b)) },
		onPing: func() error { pings++; return nil },
	}
	stream := "INFO {}\r\nMSG a 1 5\r\nhello\r\nPING\r\nMSG a 1 reply.x 3\r\nabc\r\nPONG\r\n+OK\r\nMSG a 1 0\r\n\r\n"
	for i := 0; i < len(stream); i += 4 { // frames split anywhere
		if err := p.feed([]byte(stream[i:min(i+4, len(stream))])); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, "|") != "hello|abc|" || pings != 1 || p.pongs != 1 || len(p.buf) != 0 {
		t.Fatalf("messages %q, pings %d, pongs %d, left %q", got, pings, p.pongs, p.buf)
	}
	if err := p.feed([]byte("-ERR 'Authorization Violation'\r\n")); err == nil {
		t.Fatal("no error for -ERR")
	}
}

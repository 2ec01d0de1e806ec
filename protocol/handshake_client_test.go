package protocol_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want protocol.Target
	}{
		{"ws://example.com", protocol.Target{Addr: "example.com:80", ServerName: "example.com", Host: "example.com", RequestURI: "/"}},
		{"wss://example.com/chat?room=1", protocol.Target{TLS: true, Addr: "example.com:443", ServerName: "example.com", Host: "example.com", RequestURI: "/chat?room=1"}},
		{"http://127.0.0.1:9001/echo", protocol.Target{Addr: "127.0.0.1:9001", ServerName: "127.0.0.1", Host: "127.0.0.1:9001", RequestURI: "/echo"}},
		{"HTTPS://Example.com:8443", protocol.Target{TLS: true, Addr: "Example.com:8443", ServerName: "Example.com", Host: "Example.com:8443", RequestURI: "/"}},
		{"ws://[::1]:9001/x", protocol.Target{Addr: "[::1]:9001", ServerName: "::1", Host: "[::1]:9001", RequestURI: "/x"}},
		{"wss://[2001:db8::1]/", protocol.Target{TLS: true, Addr: "[2001:db8::1]:443", ServerName: "2001:db8::1", Host: "[2001:db8::1]", RequestURI: "/"}},
		{"ws://alice:s3cret@example.com/", protocol.Target{Addr: "example.com:80", ServerName: "example.com", Host: "example.com", RequestURI: "/", User: "alice", Password: "s3cret", HasUser: true}},
	} {
		got, err := protocol.ParseURL(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s:\n%s", tc.in, diff)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for in, mention := range map[string]string{
		"ftp://example.com/":     "scheme ftp",
		"example.com/chat":       "no scheme",
		"ws:///path":             "no host",
		"ws://example.com/#frag": "fragment",
		"wss://u:hunter2@h/#x":   "xxxxx",
		"javascript:alert(1)":    "scheme javascript",
		"ws://exa mple.com/":     "bad URL",
	} {
		_, err := protocol.ParseURL(in)
		if !errors.Is(err, protocol.ErrBadURL) || !strings.Contains(err.Error(), mention) {
			t.Errorf("%s: %v (want a mention of %q)", in, err, mention)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: password in error %v", in, err)
		}
	}
}

func newClient(t testing.TB, opts protocol.ClientOptions) *protocol.Conn {
	t.Helper()
	c, err := protocol.NewClient(testConfig(), opts, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// With a fixed random source the request is exact.
func TestClientRequestBytes(t *testing.T) {
	c := newClient(t, protocol.ClientOptions{
		URL: "ws://bob:pw@[::1]:9001/chat?x=1", Origin: "http://[::1]:9001",
		Subprotocols: []string{"chat", "superchat"},
		Header:       http.Header{"User-Agent": {"wsengine-test"}, "Cookie": {"a=b"}},
	})
	if c.State() != protocol.StateConnecting {
		t.Fatalf("state %v", c.State())
	}
	out, _ := drain(c)
	want := "GET /chat?x=1 HTTP/1.1\r\nHost: [::1]:9001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: N/ohPTf6IT03+iE9N/ohPQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://[::1]:9001\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\nAuthorization: Basic Ym9iOnB3\r\n" +
		"Cookie: a=b\r\nUser-Agent: wsengine-test\r\n\r\n"
	if string(out) != want {
		t.Fatalf("request\n%q\nwant\n%q", out, want)
	}
}

func TestClientOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts protocol.ClientOptions
		want error
	}{
		{protocol.ClientOptions{URL: "ftp://x/"}, protocol.ErrBadURL},
		{protocol.ClientOptions{URL: "ws://x/", Header: http.Header{"Connection": {"close"}}}, protocol.ErrReservedHeader},
		{protocol.ClientOptions{URL: "ws://x/", Header: http.Header{"Host": {"y"}}}, protocol.ErrReservedHeader},
		{protocol.ClientOptions{URL: "ws://x/", Header: http.Header{"Sec-Websocket-Key": {"y"}}}, protocol.ErrReservedHeader},
		{protocol.ClientOptions{URL: "ws://x/", Origin: "http://x", Header: http.Header{"Origin": {"http://y"}}}, protocol.ErrReservedHeader},
		{protocol.ClientOptions{URL: "ws://u@x/", Header: http.Header{"Authorization": {"Bearer t"}}}, protocol.ErrReservedHeader},
		{protocol.ClientOptions{URL: "ws://x/", Subprotocols: []string{"a b"}}, protocol.ErrInvalidHeader},
		{protocol.ClientOptions{URL: "ws://x/", Header: http.Header{"X": {"a\nb"}}}, protocol.ErrInvalidHeader},
	} {
		if _, err := protocol.NewClient(testConfig(), tc.opts, t0); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.opts, err, tc.want)
		}
	}
}

// fixedKeyAccept is the Accept value for the key drawn from KeyReader(key).
const fixedKeyAccept = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "

func acceptFor(c *protocol.Conn, t *testing.T) string {
	// Run the client's request through a server to learn the right value.
	out, _ := drain(c)
	s := newServer(t, protocol.ServerOptions{})
	if err := s.Receive(t0, out); err != nil {
		t.Fatal(err)
	}
	resp, _ := drain(s)
	i := bytes.Index(resp, []byte("Sec-WebSocket-Accept: "))
	return string(resp[i+22 : i+22+28])
}

func TestClientResponseValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resp   func(accept string) string
		reason string
	}{
		{"wrong accept", func(string) string {
			return fixedKeyAccept + "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
		}, "Sec-WebSocket-Accept"},
		{"no Upgrade", func(a string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + a + "\r\n\r\n"
		}, "Upgrade"},
		{"no Connection", func(a string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + a + "\r\n\r\n"
		}, "Connection"},
		{"subprotocol not offered", func(a string) string {
			return fixedKeyAccept + a + "\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
		}, "not offered"},
		{"extension not offered", func(a string) string {
			return fixedKeyAccept + a + "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
		}, "not offered"},
		{"not HTTP", func(string) string { return "SSH-2.0-OpenSSH\r\n\r\n" }, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, protocol.ClientOptions{URL: "ws://example.com/", Subprotocols: []string{"chat"}})
			accept := acceptFor(c, t)
			err := c.Receive(t0, []byte(tc.resp(accept)))
			var he *protocol.HandshakeError
			if !errors.As(err, &he) || !strings.Contains(he.Reason, tc.reason) {
				t.Fatalf("got %v, want a reason mentioning %q", err, tc.reason)
			}
			if c.State() != protocol.StateClosed || !c.ShouldCloseTransport() || !errors.As(c.CloseStatus().Err, &he) {
				t.Fatalf("state %v status %v", c.State(), c.CloseStatus().Err)
			}
		})
	}
}

// A rejection is reported with its status, headers and (bounded) body.
func TestClientRejectedWithBody(t *testing.T) {
	t.Run("content-length", func(t *testing.T) {
		c := newClient(t, protocol.ClientOptions{URL: "ws://example.com/"})
		drain(c)
		resp := "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Reason: origin\r\nContent-Length: 18\r\n\r\norigin not allowed"
		// The body arrives after the header, in its own read.
		if err := c.Receive(t0, []byte(resp[:len(resp)-10])); err != nil {
			t.Fatalf("before the body completed: %v", err)
		}
		err := c.Receive(t0, []byte(resp[len(resp)-10:]))
		var he *protocol.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != 403 || string(he.Body) != "origin not allowed" || he.Header.Get("X-Reason") != "origin" {
			t.Fatalf("got %#v", err)
		}
	})
	t.Run("until EOF, bounded", func(t *testing.T) {
		c := newClient(t, protocol.ClientOptions{URL: "ws://example.com/"})
		drain(c)
		c.Receive(t0, []byte("HTTP/1.1 500 Internal Server Error\r\n\r\n"+strings.Repeat("x", 1000)))
		c.ReceiveEOF(t0)
		var he *protocol.HandshakeError
		if !errors.As(c.CloseStatus().Err, &he) || he.StatusCode != 500 || len(he.Body) != 1000 {
			t.Fatalf("got %v", c.CloseStatus().Err)
		}
		c2 := newClient(t, protocol.ClientOptions{URL: "ws://example.com/"})
		drain(c2)
		c2.Receive(t0, []byte("HTTP/1.1 502 Bad Gateway\r\n\r\n"+strings.Repeat("x", 10000)))
		if !errors.As(c2.CloseStatus().Err, &he) || len(he.Body) != 4096 {
			t.Fatalf("unbounded body: %v", c2.CloseStatus().Err)
		}
	})
}

// ws:// to a TLS port: the 400 that Go's and nginx's TLS servers send to a
// plain request names the mix-up. The same answer to a wss:// client, or
// another 400, keeps the plain reason.
func TestClientRejectedForPlainHTTPOnATLSPort(t *testing.T) {
	for _, tt := range []struct {
		name, url, body string
		hint            bool
	}{
		{"Go's TLS server", "ws://example.com/", "Client sent an HTTP request to an HTTPS server.\n", true},
		{"nginx", "ws://example.com/", "<html><center>The plain HTTP request was sent to HTTPS port</center></html>", true},
		{"another 400", "ws://example.com/", "bad request", false},
		{"a wss:// client", "wss://example.com/", "Client sent an HTTP request to an HTTPS server.\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, protocol.ClientOptions{URL: tt.url})
			drain(c)
			c.Receive(t0, []byte("HTTP/1.0 400 Bad Request\r\n\r\n"+tt.body))
			c.ReceiveEOF(t0)
			var he *protocol.HandshakeError
			if !errors.As(c.CloseStatus().Err, &he) || he.StatusCode != 400 || string(he.Body) != tt.body {
				t.Fatalf("got %v", c.CloseStatus().Err)
			}
			if got := strings.Contains(he.Error(), "use wss://"); got != tt.hint {
				t.Fatalf("error %q: names the scheme %v, want %v", he.Error(), got, tt.hint)
			}
		})
	}
}

func TestClientResponseHeaderTooLarge(t *testing.T) {
	c := newClient(t, protocol.ClientOptions{URL: "ws://example.com/"})
	drain(c)
	err := c.Receive(t0, []byte("HTTP/1.1 101 Switching Protocols\r\n"+strings.Repeat("X-A: b\r\n", 200)+"\r\n"))
	if !errors.Is(err, protocol.ErrHeaderTooLarge) || c.State() != protocol.StateClosed {
		t.Fatalf("got %v, state %v", err, c.State())
	}
}

// A full handshake between NewClient and NewServer, with the server's first
// frame glued to its 101 response, split at every byte.
func TestHandshakeEverySplit(t *testing.T) {
	c := newClient(t, protocol.ClientOptions{URL: "ws://127.0.0.1:9001/echo", Subprotocols: []string{"chat"}})
	request, _ := drain(c)
	s := newServer(t, protocol.ServerOptions{Subprotocols: []string{"chat"}})
	if err := s.Receive(t0, request); err != nil {
		t.Fatal(err)
	}
	s.SendMessage(t0, frame.OpText, []byte("welcome"))
	response, _ := drain(s)
	for i := 0; i <= len(response); i++ {
		c := newClient(t, protocol.ClientOptions{URL: "ws://127.0.0.1:9001/echo", Subprotocols: []string{"chat"}})
		drain(c)
		if err := c.Receive(t0, response[:i]); err != nil {
			t.Fatalf("split %d: %v", i, err)
		}
		_, evs1 := drain(c)
		if err := c.Receive(t0, response[i:]); err != nil {
			t.Fatalf("split %d: %v", i, err)
		}
		_, evs2 := drain(c)
		evs := append(evs1, evs2...)
		if got := kinds(evs); !cmp.Equal(got, []protocol.EventKind{protocol.EventResponse, protocol.EventOpen, protocol.EventData}) {
			t.Fatalf("split %d: events %v", i, got)
		}
		if string(evs[2].Data) != "welcome" || c.Subprotocol() != "chat" || evs[0].Response.StatusCode != 101 {
			t.Fatalf("split %d: %+v", i, evs)
		}
	}
	// And the server side, request split at every byte.
	for i := 0; i <= len(request); i++ {
		s := newServer(t, protocol.ServerOptions{})
		if err := s.Receive(t0, request[:i]); err != nil {
			t.Fatal(err)
		}
		if err := s.Receive(t0, request[i:]); err != nil {
			t.Fatal(err)
		}
		if s.State() != protocol.StateOpen {
			t.Fatalf("split %d: %v", i, s.State())
		}
	}
}

// The pair harness with a real handshake: open, talk, close.
func TestPairWithHandshake(t *testing.T) {
	c := newClient(t, protocol.ClientOptions{URL: "ws://127.0.0.1/"})
	s := newServer(t, protocol.ServerOptions{Header: http.Header{"Set-Cookie": {"session=1"}}})
	if c.Response() != nil {
		t.Fatal("a response before the handshake")
	}
	p := protocoltest.Join(c, s, t0)
	p.Settle()
	if c.State() != protocol.StateOpen || s.State() != protocol.StateOpen || !c.Opened() || !s.Opened() {
		t.Fatalf("client %v server %v", c.State(), s.State())
	}
	// The 101 is the application's to read: headers and cookies.
	if r := c.Response(); r == nil || r.StatusCode != 101 || r.Header.Get("Set-Cookie") != "session=1" || r.Body != http.NoBody {
		t.Fatalf("response %+v", r)
	}
	c.SendMessage(p.Now, frame.OpText, []byte("hi"))
	s.SendMessage(p.Now, frame.OpBinary, []byte{1, 2})
	c.Close(p.Now, frame.CloseNormal, "")
	if err := p.RunUntilClosed(5); err != nil {
		t.Fatal(err)
	}
	if m := p.Server.Messages(); len(m) != 1 || string(m[0].Data) != "hi" {
		t.Fatalf("server got %v", m)
	}
	if m := p.Client.Messages(); len(m) != 1 || !bytes.Equal(m[0].Data, []byte{1, 2}) {
		t.Fatalf("client got %v", m)
	}
}

// Closing before the handshake completes abandons the connection.
func TestCloseWhileConnecting(t *testing.T) {
	c := newClient(t, protocol.ClientOptions{URL: "ws://example.com/"})
	drain(c)
	if err := c.Close(at(time.Second), frame.CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	out, evs := drain(c)
	if len(out) != 0 || c.State() != protocol.StateClosed || c.Opened() || len(evs) != 1 || c.CloseStatus().Code != frame.CloseAbnormal {
		t.Fatalf("out %q events %v status %+v", out, kinds(evs), c.CloseStatus())
	}
}

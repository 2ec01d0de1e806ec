package fuzz

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
	"github.com/wsengine/ws/protocol/protocoltest"
	"pgregory.net/rapid"
)

const validRequest = "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Protocol: chat\r\n\r\n"

// FuzzServerHandshake: arbitrary request bytes never panic, the server
// answers with a parseable HTTP response, and a failure is a
// *HandshakeError with the status it sent.
func FuzzServerHandshake(f *testing.F) {
	f.Add([]byte(validRequest), uint8(7))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"), uint8(1))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(100))
	f.Add([]byte(strings.Repeat("X-A: b\r\n", 50)), uint8(3))
	f.Add([]byte("HELO relay.invalid\r\nMAIL FROM:<a@b>\r\n"), uint8(5))
	f.Add([]byte(strings.Replace(validRequest, "GET /", "GET *", 1)), uint8(9))
	f.Add([]byte(strings.ReplaceAll(validRequest, "\r\n", "\n")), uint8(11))
	// A valid handshake and a bad frame in the same bytes.
	f.Add(append([]byte(validRequest), 0xff, 0xff), uint8(31))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		s, err := protocol.NewServer(fuzzConfig(), protocol.ServerOptions{Subprotocols: []string{"chat"}}, protocoltest.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		step := int(chunk)%32 + 1
		var out []byte
		for len(data) > 0 && s.State() == protocol.StateConnecting {
			n := min(step, len(data))
			err := s.Receive(protocoltest.Epoch, data[:n])
			data = data[n:]
			// A refused request is a *HandshakeError; once the handshake
			// succeeded, frames in the same bytes may break the protocol
			// (*frame.ProtocolError). Nothing else.
			var he *protocol.HandshakeError
			var pe *frame.ProtocolError
			if err != nil && !errors.As(err, &he) && !(errors.As(err, &pe) && s.Opened()) {
				t.Fatalf("untyped error %T %v", err, err)
			}
			out = append(out, s.Outgoing()...)
			s.Advance(len(s.Outgoing()))
			if len(out) > 4096 {
				t.Fatalf("response of %d bytes", len(out))
			}
		}
		if len(out) == 0 {
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		if err != nil {
			t.Fatalf("unparseable response %q: %v", out, err)
		}
		var he *protocol.HandshakeError
		rejected := errors.As(s.CloseStatus().Err, &he)
		if resp.StatusCode == 101 && rejected || resp.StatusCode != 101 && (!rejected || he.StatusCode != resp.StatusCode) {
			t.Fatalf("answered %d, status %v", resp.StatusCode, s.CloseStatus().Err)
		}
	})
}

// FuzzClientHandshake: arbitrary response bytes never panic, never open a
// connection without the right Accept value, and fail with typed errors.
func FuzzClientHandshake(f *testing.F) {
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"), uint8(5))
	f.Add([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno!"), uint8(2))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n\x81\x05hello"), uint8(9))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		c, err := protocol.NewClient(fuzzConfig(), protocol.ClientOptions{URL: "ws://h/"}, protocoltest.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		c.Advance(len(c.Outgoing()))
		step := int(chunk)%32 + 1
		for len(data) > 0 && c.State() == protocol.StateConnecting {
			n := min(step, len(data))
			err := c.Receive(protocoltest.Epoch, data[:n])
			data = data[n:]
			var he *protocol.HandshakeError
			if err != nil && !errors.As(err, &he) && !errors.Is(err, protocol.ErrHeaderTooLarge) {
				t.Fatalf("untyped error %T %v", err, err)
			}
			for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
				if ev.Kind == protocol.EventOpen {
					t.Fatalf("opened on a fuzzed response")
				}
			}
		}
		c.ReceiveEOF(protocoltest.Epoch)
		if c.State() != protocol.StateClosed {
			t.Fatalf("state %v after EOF", c.State())
		}
	})
}

// The P4 lesson as a property: whatever the configuration, the 101 response
// has exactly one Upgrade, Connection and Sec-WebSocket-Accept, at most one
// of each negotiated header, and configurations that would repeat one are
// refused when the server is made.
func TestResponseNeverRepeatsHandshakeHeaders(t *testing.T) {
	names := []string{"Connection", "connection", "Upgrade", "UPGRADE", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol",
		"Sec-WebSocket-Extensions", "X-Custom", "Set-Cookie", "Server", "Content-Length", "Cache-Control"}
	rapid.Check(t, func(t *rapid.T) {
		h := http.Header{}
		reserved := false
		for i, n := 0, rapid.IntRange(0, 4).Draw(t, "n"); i < n; i++ {
			name := rapid.SampledFrom(names).Draw(t, "name")
			h[name] = append(h[name], rapid.SampledFrom([]string{"upgrade", "websocket", "x", "chat"}).Draw(t, "value"))
			switch textproto.CanonicalMIMEHeaderKey(name) {
			case "Connection", "Upgrade", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Content-Length":
				reserved = true
			}
		}
		protos := rapid.SliceOfN(rapid.SampledFrom([]string{"chat", "superchat", "mqtt"}), 0, 3).Draw(t, "protos")
		manual := rapid.Bool().Draw(t, "manual")
		s, err := protocol.NewServer(fuzzConfig(), protocol.ServerOptions{Header: h, Subprotocols: protos, ManualAccept: manual}, protocoltest.Epoch)
		if reserved {
			if !errors.Is(err, protocol.ErrReservedHeader) {
				t.Fatalf("headers %v accepted: %v", h, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Receive(protocoltest.Epoch, []byte(validRequest)); err != nil {
			t.Fatal(err)
		}
		if manual {
			extra := http.Header{}
			if rapid.Bool().Draw(t, "extra connection") {
				extra.Set("Connection", "upgrade")
				if err := s.AcceptHandshake(protocoltest.Epoch, extra); !errors.Is(err, protocol.ErrReservedHeader) {
					t.Fatalf("AcceptHandshake with Connection: %v", err)
				}
				extra = nil
			}
			if err := s.AcceptHandshake(protocoltest.Epoch, extra); err != nil {
				t.Fatal(err)
			}
		}
		out := s.Outgoing()
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("response %q: %v", out, err)
		}
		for _, name := range []string{"Upgrade", "Connection", "Sec-Websocket-Accept"} {
			if n := len(resp.Header.Values(name)); n != 1 {
				t.Fatalf("%s appears %d times in %q", name, n, out)
			}
		}
		for _, name := range []string{"Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
			if n := len(resp.Header.Values(name)); n > 1 {
				t.Fatalf("%s appears %d times in %q", name, n, out)
			}
		}
		if n := strings.Count(strings.ToLower(string(out)), "\r\nconnection:"); n != 1 {
			t.Fatalf("Connection header lines: %d in %q", n, out)
		}
	})
}

// Any split of a handshake request into pieces gives the same response.
func TestHandshakeAnySplit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		req := []byte(validRequest)
		cuts := rapid.SliceOfN(rapid.IntRange(0, len(req)), 0, 10).Draw(t, "cuts")
		whole, _ := protocol.NewServer(fuzzConfig(), protocol.ServerOptions{Subprotocols: []string{"chat"}}, protocoltest.Epoch)
		split, _ := protocol.NewServer(fuzzConfig(), protocol.ServerOptions{Subprotocols: []string{"chat"}}, protocoltest.Epoch)
		a := feed(whole, req, nil, nil)
		b := feed(split, req, cuts, nil)
		for i := range a.Events {
			a.Events[i].Request, b.Events[i].Request = nil, nil
		}
		if !bytes.Equal(a.Out, b.Out) || a.State != b.State || len(a.Events) != len(b.Events) {
			t.Fatalf("split %v: %q vs %q", cuts, a.Out, b.Out)
		}
	})
}

// FuzzStreamRequest feeds a server HTTP/2 requests (RFC 8441) with fuzzed
// pseudo-headers and WebSocket headers: the answer is always a Response
// (nothing in Outgoing), 200 exactly when the connection opened, and a
// refusal is a *HandshakeError with the same status.
func FuzzStreamRequest(f *testing.F) {
	f.Add("CONNECT", "websocket", "/chat", "example.com", "13", "", "", "chat, superchat", "permessage-deflate")
	f.Add("CONNECT", "WebSocket", "/", "example.com", "13", "", "https://example.com", "", "")
	f.Add("CONNECT", "webtransport", "/", "example.com", "13", "", "", "", "")
	f.Add("GET", "", "/", "example.com", "13", "", "", "", "")
	f.Add("CONNECT", "websocket", "/", "", "8", "dGhlIHNhbXBsZSBub25jZQ==", "null", "a,,b", "permessage-deflate; server_max_window_bits=7")
	f.Fuzz(func(t *testing.T, method, proto, path, host, version, key, origin, subprotocols, extensions string) {
		h := http.Header{}
		for k, v := range map[string]string{":protocol": proto, "Sec-Websocket-Version": version, "Sec-Websocket-Key": key,
			"Origin": origin, "Sec-Websocket-Protocol": subprotocols, "Sec-Websocket-Extensions": extensions} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		r := &http.Request{Method: method, Proto: "HTTP/2.0", ProtoMajor: 2, URL: &url.URL{Path: path},
			RequestURI: path, Host: host, Header: h}
		s, err := protocol.NewServerFromRequest(fuzzConfig(), protocol.ServerOptions{
			Subprotocols: []string{"chat"}, Extensions: []protocol.ServerExtension{deflate.Config{}.Server()},
		}, r, protocoltest.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Outgoing()) != 0 {
			t.Fatalf("outgoing %q over HTTP/2", s.Outgoing())
		}
		resp := s.Response()
		if resp == nil {
			t.Fatal("no answer")
		}
		var he *protocol.HandshakeError
		switch {
		case s.Opened():
			if resp.StatusCode != 200 || s.State() != protocol.StateOpen {
				t.Fatalf("opened with %d", resp.StatusCode)
			}
			if p := resp.Header.Get("Sec-Websocket-Protocol"); p != "" && p != "chat" {
				t.Fatalf("chose %q", p)
			}
		case !errors.As(s.CloseStatus().Err, &he) || he.StatusCode != resp.StatusCode || resp.StatusCode < 400:
			t.Fatalf("refused with %d, error %v", resp.StatusCode, s.CloseStatus().Err)
		}
	})
}

// FuzzStreamResponse feeds an HTTP/2 client fuzzed answers: it opens only
// on a 2xx with acceptable choices, and otherwise fails with a
// *HandshakeError.
func FuzzStreamResponse(f *testing.F) {
	f.Add(200, "chat", "permessage-deflate", []byte(nil))
	f.Add(200, "other", "", []byte(nil))
	f.Add(403, "", "", []byte("no\n"))
	f.Add(101, "", "", []byte(nil))
	f.Add(200, "", "permessage-deflate; client_max_window_bits=20", []byte(nil))
	f.Fuzz(func(t *testing.T, status int, subprotocol, extensions string, body []byte) {
		c, err := protocol.NewClient(fuzzConfig(), protocol.ClientOptions{URL: "wss://example.com/", HTTP2: true,
			Subprotocols: []string{"chat"}, Extensions: []protocol.ClientExtension{deflate.Config{}.Client()}}, protocoltest.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		if subprotocol != "" {
			h.Set("Sec-WebSocket-Protocol", subprotocol)
		}
		if extensions != "" {
			h.Set("Sec-WebSocket-Extensions", extensions)
		}
		err = c.ReceiveResponse(protocoltest.Epoch, &http.Response{StatusCode: status, Header: h}, body)
		var he *protocol.HandshakeError
		switch {
		case err == nil:
			if !c.Opened() || status < 200 || status > 299 {
				t.Fatalf("opened on %d", status)
			}
		case !errors.As(err, &he) || c.State() != protocol.StateClosed || len(he.Body) > 4096:
			t.Fatalf("error %T %v, state %v", err, err, c.State())
		}
	})
}

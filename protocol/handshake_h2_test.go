package protocol_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// streamRequest is an extended CONNECT as net/http's HTTP/2 server hands it
// to a handler: the pseudo-headers in Method, URL, Host and, for
// :protocol, Header. It is the example of RFC 8441 §5.1.
func streamRequest(edit map[string][]string) *http.Request {
	h := http.Header{
		":protocol":              {"websocket"},
		"Sec-Websocket-Protocol": {"chat, superchat"},
		"Sec-Websocket-Version":  {"13"},
		"Origin":                 {"http://www.example.com"},
	}
	r := &http.Request{
		Method: http.MethodConnect, Proto: "HTTP/2.0", ProtoMajor: 2,
		URL: &url.URL{Path: "/chat"}, RequestURI: "/chat", Host: "server.example.com", Header: h,
	}
	for k, v := range edit {
		switch {
		case k == "Method":
			r.Method = v[0]
		case k == "Host":
			r.Host = v[0]
		case v == nil:
			delete(h, k)
		default:
			h[k] = v
		}
	}
	return r
}

func newStreamServer(t *testing.T, opts protocol.ServerOptions, r *http.Request) *protocol.Conn {
	t.Helper()
	s, err := protocol.NewServerFromRequest(testConfig(), opts, r, t0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RFC 8441 §5.1's example: the answer is a 200 with the subprotocol, for
// the HTTP/2 layer to send; nothing goes to Outgoing, and frames then flow
// as over HTTP/1.1.
func TestStreamServerRFCExample(t *testing.T) {
	s := newStreamServer(t, protocol.ServerOptions{Subprotocols: []string{"chat"}, AllowedOrigins: []string{"*"}}, streamRequest(nil))
	out, evs := drain(s)
	if len(out) != 0 {
		t.Fatalf("outgoing %q: over HTTP/2 the answer is HEADERS, not bytes", out)
	}
	if got := kinds(evs); !cmp.Equal(got, []protocol.EventKind{protocol.EventRequest, protocol.EventOpen}) {
		t.Fatalf("events %v", got)
	}
	resp := s.Response()
	if resp == nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("response %+v", resp)
	}
	if want := (http.Header{"Sec-Websocket-Protocol": {"chat"}}); !cmp.Equal(resp.Header, want) {
		t.Fatalf("response header %v, want %v", resp.Header, want)
	}
	if s.State() != protocol.StateOpen || s.Subprotocol() != "chat" || s.Request().Host != "server.example.com" {
		t.Fatalf("state %v subprotocol %q", s.State(), s.Subprotocol())
	}
	if err := s.Receive(t0, wireFrame(protocol.RoleClient, frame.OpText, true, []byte("hi"))); err != nil {
		t.Fatal(err)
	}
	s.SendMessage(t0, frame.OpText, []byte("ok"))
	out, evs = drain(s)
	if string(out) != "\x81\x02ok" {
		t.Fatalf("sent %q", out)
	}
	if m := protocoltest.MergePieces(evs); len(m) != 1 || string(m[0].Data) != "hi" {
		t.Fatalf("events %+v", evs)
	}
}

// Requests RFC 8441 and RFC 6455 refuse get an HTTP answer in Response and
// a *HandshakeError; nothing is written to Outgoing.
func TestStreamServerRejections(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   map[string][]string
		opts   protocol.ServerOptions
		status int
		header http.Header
		reason string
	}{
		{"other :protocol", map[string][]string{":protocol": {"webtransport"}}, protocol.ServerOptions{}, 400, nil, `unsupported :protocol "webtransport"`},
		{"plain CONNECT", map[string][]string{":protocol": nil}, protocol.ServerOptions{}, 400, nil, "CONNECT without :protocol"},
		{"GET over HTTP/2", map[string][]string{"Method": {"GET"}, ":protocol": nil}, protocol.ServerOptions{}, 405, http.Header{"Allow": {"CONNECT"}}, "extended CONNECT"},
		{"no version", map[string][]string{"Sec-Websocket-Version": nil}, protocol.ServerOptions{}, 426, http.Header{"Sec-Websocket-Version": {"13"}}, "Sec-WebSocket-Version"},
		{"old version", map[string][]string{"Sec-Websocket-Version": {"8"}}, protocol.ServerOptions{}, 426, http.Header{"Sec-Websocket-Version": {"13"}}, "Sec-WebSocket-Version"},
		{"a key", map[string][]string{"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, protocol.ServerOptions{}, 400, nil, "Sec-WebSocket-Key is not used over HTTP/2"},
		{"Upgrade", map[string][]string{"Upgrade": {"websocket"}}, protocol.ServerOptions{}, 400, nil, "Upgrade is not used"},
		{"no authority", map[string][]string{"Host": {""}}, protocol.ServerOptions{}, 400, nil, "missing :authority"},
		{"cross origin", nil, protocol.ServerOptions{}, 403, nil, "origin not allowed"},
		{"origin refused", nil, protocol.ServerOptions{AllowedOrigins: []string{"https://app.example.com"}}, 403, nil, "origin not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStreamServer(t, tc.opts, streamRequest(tc.edit))
			out, _ := drain(s)
			if len(out) != 0 {
				t.Fatalf("outgoing %q", out)
			}
			var he *protocol.HandshakeError
			if s.State() != protocol.StateClosed || !errors.As(s.CloseStatus().Err, &he) || he.StatusCode != tc.status || !strings.Contains(he.Reason, tc.reason) {
				t.Fatalf("state %v err %v, want %d %q", s.State(), s.CloseStatus().Err, tc.status, tc.reason)
			}
			resp := s.Response()
			want := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
			for k, v := range tc.header {
				want[k] = v
			}
			if resp == nil || resp.StatusCode != tc.status || !cmp.Equal(resp.Header, want) {
				t.Fatalf("response %+v, want %d %v", resp, tc.status, want)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != he.Reason+"\n" || resp.ContentLength != int64(len(body)) {
				t.Fatalf("body %q", body)
			}
		})
	}
}

// A same-origin request over HTTP/2 compares Origin with :authority.
func TestStreamServerSameOrigin(t *testing.T) {
	s := newStreamServer(t, protocol.ServerOptions{}, streamRequest(map[string][]string{"Origin": {"https://server.example.com"}}))
	if s.State() != protocol.StateOpen {
		t.Fatalf("state %v: %v", s.State(), s.CloseStatus().Err)
	}
}

// ManualAccept holds an HTTP/2 request like an HTTP/1.1 one; the answer
// carries the application's headers.
func TestStreamServerManualAccept(t *testing.T) {
	s := newStreamServer(t, protocol.ServerOptions{ManualAccept: true, AllowedOrigins: []string{"*"}}, streamRequest(nil))
	if s.State() != protocol.StateConnecting || s.Response() != nil {
		t.Fatalf("state %v response %v", s.State(), s.Response())
	}
	if err := s.AcceptHandshake(t0, http.Header{"Set-Cookie": {"a=1"}}); err != nil {
		t.Fatal(err)
	}
	if r := s.Response(); s.State() != protocol.StateOpen || r.StatusCode != 200 || r.Header.Get("Set-Cookie") != "a=1" {
		t.Fatalf("state %v response %+v", s.State(), r)
	}
	s = newStreamServer(t, protocol.ServerOptions{ManualAccept: true, AllowedOrigins: []string{"*"}}, streamRequest(nil))
	if err := s.RejectHandshake(t0, 401, "log in first"); err != nil {
		t.Fatal(err)
	}
	if r := s.Response(); s.State() != protocol.StateClosed || r.StatusCode != 401 {
		t.Fatalf("state %v response %+v", s.State(), r)
	}
}

func newStreamClient(t *testing.T, opts protocol.ClientOptions) *protocol.Conn {
	t.Helper()
	opts.HTTP2 = true
	c, err := protocol.NewClient(testConfig(), opts, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A client over HTTP/2 has no request bytes: Request is the extended
// CONNECT of RFC 8441 §5.1 for net/http's HTTP/2 client.
func TestStreamClientRequest(t *testing.T) {
	c := newStreamClient(t, protocol.ClientOptions{
		URL: "wss://user:pw@server.example.com/chat?room=1", Origin: "http://www.example.com",
		Subprotocols: []string{"chat", "superchat"}, Extensions: []protocol.ClientExtension{deflate.Config{}.Client()},
		Header: http.Header{"User-Agent": {"test"}},
	})
	if out, _ := drain(c); len(out) != 0 {
		t.Fatalf("outgoing %q", out)
	}
	r := c.Request()
	if r == nil || r.Method != "CONNECT" || r.URL.String() != "https://server.example.com/chat?room=1" || r.Host != "server.example.com" || r.ProtoMajor != 2 {
		t.Fatalf("request %+v", r)
	}
	want := http.Header{
		":protocol":                {"websocket"},
		"Sec-Websocket-Version":    {"13"},
		"Origin":                   {"http://www.example.com"},
		"Sec-Websocket-Protocol":   {"chat, superchat"},
		"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"},
		"User-Agent":               {"test"},
		"Authorization":            {"Basic dXNlcjpwdw=="},
	}
	if !cmp.Equal(r.Header, want) {
		t.Fatalf("header diff (-got +want):\n%s", cmp.Diff(r.Header, want))
	}
	// An escaped path keeps its escaping (:path is the request URI).
	esc := newStreamClient(t, protocol.ClientOptions{URL: "wss://example.com/a%2Fb%20c?x=1"})
	if got := esc.Request().URL; got.String() != "https://example.com/a%2Fb%20c?x=1" || got.RequestURI() != "/a%2Fb%20c?x=1" {
		t.Fatalf("escaped path: %s (%s)", got, got.RequestURI())
	}
	// Bytes before the response are a misuse; so is ReceiveResponse on an
	// HTTP/1.1 client.
	if err := c.Receive(t0, []byte("HTTP/1.1 101 ...")); !errors.Is(err, protocol.ErrInvalidState) {
		t.Fatalf("Receive while connecting over HTTP/2: %v", err)
	}
	h1 := newClient(t, protocol.ClientOptions{URL: "ws://example.com/"})
	if err := h1.ReceiveResponse(t0, &http.Response{StatusCode: 200}, nil); !errors.Is(err, protocol.ErrInvalidState) {
		t.Fatalf("ReceiveResponse over HTTP/1.1: %v", err)
	}
	if h1.Request() != nil {
		t.Fatal("an HTTP/1.1 client's request is in Outgoing, not Request")
	}
}

func TestStreamClientResponses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		reason string // "" opens
	}{
		{"200", 200, http.Header{"Sec-Websocket-Protocol": {"chat"}}, "", ""},
		{"any 2xx", 204, nil, "", ""},
		{"refused", 403, http.Header{"Content-Type": {"text/plain"}}, "origin not allowed\n", "server refused the WebSocket"},
		{"redirect", 302, http.Header{"Location": {"/elsewhere"}}, "", "server refused the WebSocket"},
		{"unoffered subprotocol", 200, http.Header{"Sec-Websocket-Protocol": {"mqtt"}}, "", `subprotocol "mqtt", which was not offered`},
		{"unoffered extension", 200, http.Header{"Sec-Websocket-Extensions": {"x-foo"}}, "", `extension "x-foo", which was not offered`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newStreamClient(t, protocol.ClientOptions{URL: "wss://server.example.com/chat", Subprotocols: []string{"chat"}})
			resp := &http.Response{StatusCode: tc.status, Header: tc.header, Body: io.NopCloser(strings.NewReader("unread")), ProtoMajor: 2}
			err := c.ReceiveResponse(t0, resp, []byte(tc.body))
			_, evs := drain(c)
			if tc.reason == "" {
				if err != nil || c.State() != protocol.StateOpen {
					t.Fatalf("err %v state %v", err, c.State())
				}
				if got := kinds(evs); !cmp.Equal(got, []protocol.EventKind{protocol.EventResponse, protocol.EventOpen}) {
					t.Fatalf("events %v", got)
				}
				if r := c.Response(); r.StatusCode != tc.status || r.Body != http.NoBody || c.Subprotocol() != tc.header.Get("Sec-Websocket-Protocol") {
					t.Fatalf("response %+v subprotocol %q", r, c.Subprotocol())
				}
				return
			}
			var he *protocol.HandshakeError
			if !errors.As(err, &he) || he.StatusCode != tc.status || !strings.Contains(he.Reason, tc.reason) || string(he.Body) != tc.body {
				t.Fatalf("err %v, want %d %q", err, tc.status, tc.reason)
			}
			if c.State() != protocol.StateClosed {
				t.Fatalf("state %v", c.State())
			}
		})
	}
}

// A client and a server engine over HTTP/2, the HTTP/2 layer played by
// the test: request and answer go across as values, then frames flow, with
// permessage-deflate negotiated as over HTTP/1.1.
func TestStreamPairWithDeflate(t *testing.T) {
	c := newStreamClient(t, protocol.ClientOptions{URL: "https://127.0.0.1/", Extensions: []protocol.ClientExtension{deflate.Config{}.Client()}})
	req := c.Request()
	// What travels is the request's fields; the server sees them as
	// net/http's server builds its request.
	sreq := &http.Request{Method: req.Method, Proto: "HTTP/2.0", ProtoMajor: 2, URL: &url.URL{Path: req.URL.Path},
		RequestURI: req.URL.RequestURI(), Host: req.Host, Header: req.Header.Clone()}
	s := newStreamServer(t, protocol.ServerOptions{Extensions: []protocol.ServerExtension{deflate.Config{}.Server()}}, sreq)
	ans := s.Response()
	if ans.StatusCode != 200 || !strings.HasPrefix(ans.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate") {
		t.Fatalf("answer %+v", ans)
	}
	if err := c.ReceiveResponse(t0, ans, nil); err != nil {
		t.Fatal(err)
	}
	p := protocoltest.Join(c, s, t0)
	msg := strings.Repeat("compressible ", 100)
	c.SendMessage(p.Now, frame.OpText, []byte(msg))
	s.SendMessage(p.Now, frame.OpText, []byte(msg))
	c.Close(p.Now, frame.CloseNormal, "bye")
	if err := p.RunUntilClosed(5); err != nil {
		t.Fatal(err)
	}
	got := [][]protocoltest.Message{p.Server.Messages(), p.Client.Messages()}
	want := []protocoltest.Message{{Opcode: frame.OpText, Data: []byte(msg)}}
	if !cmp.Equal(got, [][]protocoltest.Message{want, want}, cmpopts.EquateEmpty()) {
		t.Fatalf("messages %v", got)
	}
	if len(c.Extensions()) != 1 || len(s.Extensions()) != 1 {
		t.Fatalf("extensions %v %v", c.Extensions(), s.Extensions())
	}
}

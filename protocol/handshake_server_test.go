package protocol_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// crlf turns a fixture written with LF line ends into wire bytes.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

const rfcRequest = `GET /chat HTTP/1.1
Host: server.example.com
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
Origin: http://server.example.com
Sec-WebSocket-Protocol: chat, superchat
Sec-WebSocket-Version: 13

`

func newServer(t testing.TB, opts protocol.ServerOptions) *protocol.Conn {
	t.Helper()
	c, err := protocol.NewServer(testConfig(), opts, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The example of RFC 6455 §1.3, byte for byte.
func TestServerRFCExample(t *testing.T) {
	s := newServer(t, protocol.ServerOptions{Subprotocols: []string{"chat"}})
	if s.State() != protocol.StateConnecting {
		t.Fatalf("state %v", s.State())
	}
	if err := s.Receive(t0, crlf(rfcRequest)); err != nil {
		t.Fatal(err)
	}
	out, evs := drain(s)
	want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
	if string(out) != want {
		t.Fatalf("response\n%q\nwant\n%q", out, want)
	}
	if got := kinds(evs); !cmp.Equal(got, []protocol.EventKind{protocol.EventRequest, protocol.EventOpen}) {
		t.Fatalf("events %v", got)
	}
	if evs[0].Request.URL.Path != "/chat" || evs[0].Request.Header.Get("Origin") != "http://server.example.com" {
		t.Fatalf("request %+v", evs[0].Request)
	}
	if s.State() != protocol.StateOpen || s.Subprotocol() != "chat" {
		t.Fatalf("state %v subprotocol %q", s.State(), s.Subprotocol())
	}
}

// The requests real clients send are accepted.
func TestServerAcceptsRealClients(t *testing.T) {
	files, _ := filepath.Glob("testdata/requests/*.txt")
	if len(files) < 6 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s := newServer(t, protocol.ServerOptions{})
			if err := s.Receive(t0, crlf(string(raw))); err != nil {
				t.Fatal(err)
			}
			out, _ := drain(s)
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
			if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
				t.Fatalf("response %q: %v", out, err)
			}
			if s.State() != protocol.StateOpen {
				t.Fatalf("state %v", s.State())
			}
		})
	}
}

// request builds a handshake request from the RFC example, with header
// lines replaced (value "" drops the header) or added.
func request(method, proto string, edit map[string][]string) []byte {
	h := map[string][]string{
		"Host":                  {"server.example.com"},
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-WebSocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-WebSocket-Version": {"13"},
	}
	for k, v := range edit {
		h[k] = v
	}
	var b strings.Builder
	b.WriteString(method + " /chat " + proto + "\r\n")
	for _, k := range []string{"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Origin", "Sec-WebSocket-Extensions"} {
		for _, v := range h[k] {
			if v != "" {
				b.WriteString(k + ": " + v + "\r\n")
			}
		}
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

func TestServerRejections(t *testing.T) {
	tests := []struct {
		name   string
		opts   protocol.ServerOptions
		req    []byte
		status int
		header map[string]string
	}{
		{"POST", protocol.ServerOptions{}, request("POST", "HTTP/1.1", nil), 405, map[string]string{"Allow": "GET"}},
		{"HTTP/1.0", protocol.ServerOptions{}, request("GET", "HTTP/1.0", nil), 505, nil},
		{"no Upgrade", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Upgrade": {""}}), 426, map[string]string{"Upgrade": "websocket"}},
		{"Upgrade: h2c", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Upgrade": {"h2c"}}), 426, map[string]string{"Upgrade": "websocket"}},
		{"Connection: keep-alive", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Connection": {"keep-alive"}}), 426, map[string]string{"Upgrade": "websocket"}},
		{"no key", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Sec-WebSocket-Key": {""}}), 400, nil},
		{"repeated key", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=="}}), 400, nil},
		{"key of 15 bytes", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZ"}}), 400, nil},
		{"key not base64", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Sec-WebSocket-Key": {"not base64 at all!!!!!=="}}), 400, nil},
		{"version 8", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Sec-WebSocket-Version": {"8"}}), 426, map[string]string{"Sec-WebSocket-Version": "13"}},
		{"no version", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Sec-WebSocket-Version": {""}}), 426, map[string]string{"Sec-WebSocket-Version": "13"}},
		{"two Origins", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Origin": {"http://server.example.com", "http://evil.example"}}), 400, nil},
		{"cross origin by default", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Origin": {"http://evil.example"}}), 403, nil},
		{"origin not listed", protocol.ServerOptions{AllowedOrigins: []string{"https://app.example"}}, request("GET", "HTTP/1.1", map[string][]string{"Origin": {"https://other.example"}}), 403, nil},
		{"origin refused by function", protocol.ServerOptions{CheckOrigin: func(string, *http.Request) bool { return false }}, request("GET", "HTTP/1.1", nil), 403, nil},
		{"no Host", protocol.ServerOptions{}, request("GET", "HTTP/1.1", map[string][]string{"Host": {""}}), 400, nil},
		{"not HTTP", protocol.ServerOptions{}, []byte("HELLO\r\n\r\n"), 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.opts)
			err := s.Receive(t0, tc.req)
			var he *protocol.HandshakeError
			if !errors.As(err, &he) || he.StatusCode != tc.status {
				t.Fatalf("Receive = %v, want status %d", err, tc.status)
			}
			out, evs := drain(s)
			checkRejection(t, out, tc.status, tc.header)
			if !s.ShouldCloseTransport() || s.State() != protocol.StateClosed {
				t.Fatalf("state %v close %v", s.State(), s.ShouldCloseTransport())
			}
			if got := kinds(evs); !cmp.Equal(got, []protocol.EventKind{protocol.EventClosed}) {
				t.Fatalf("events %v", got)
			}
			if !errors.As(s.CloseStatus().Err, &he) {
				t.Fatalf("status %v", s.CloseStatus().Err)
			}
		})
	}
}

// checkRejection asserts a real HTTP response: the status, a text body of
// one line that matches Content-Length, Connection: close, and headers.
func checkRejection(t *testing.T, out []byte, status int, header map[string]string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
	if err != nil {
		t.Fatalf("not an HTTP response: %q: %v", out, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) || !resp.Close ||
		len(body) < 5 || bytes.Count(body, []byte("\n")) != 1 {
		t.Fatalf("response %q", out)
	}
	for k, v := range header {
		if resp.Header.Get(k) != v {
			t.Fatalf("header %s = %q, want %q in %q", k, resp.Header.Get(k), v, out)
		}
	}
}

func TestServerOriginPolicies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   protocol.ServerOptions
		origin string
		ok     bool
	}{
		{"no origin (not a browser)", protocol.ServerOptions{}, "", true},
		{"same origin", protocol.ServerOptions{}, "https://server.example.com", true},
		{"same origin, case", protocol.ServerOptions{}, "http://SERVER.example.com", true},
		{"listed", protocol.ServerOptions{AllowedOrigins: []string{"https://app.example"}}, "https://APP.example", true},
		{"star", protocol.ServerOptions{AllowedOrigins: []string{"*"}}, "https://anything.example", true},
		{"function", protocol.ServerOptions{CheckOrigin: func(o string, r *http.Request) bool { return strings.HasSuffix(o, ".trusted") }}, "https://a.trusted", true},
		{"null origin", protocol.ServerOptions{}, "null", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.opts)
			edit := map[string][]string{}
			if tc.origin != "" {
				edit["Origin"] = []string{tc.origin}
			}
			err := s.Receive(t0, request("GET", "HTTP/1.1", edit))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestServerHeaderLimits(t *testing.T) {
	long := strings.Repeat("a", protocol.DefaultMaxHeaderLine)
	many := strings.Repeat("X-A: b\r\n", protocol.DefaultMaxHeaderCount+1)
	big := strings.Repeat("X-Big: "+strings.Repeat("b", 4000)+"\r\n", 5)
	for name, req := range map[string]string{
		"long line":        "GET /" + long + " HTTP/1.1\r\n\r\n",
		"too many":         "GET / HTTP/1.1\r\n" + many + "\r\n",
		"too large":        "GET / HTTP/1.1\r\n" + big + "\r\n",
		"never ends":       "GET / HTTP/1.1\r\n" + big,
		"no line end ever": strings.Repeat("G", protocol.DefaultMaxHeaderLine+1),
	} {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, protocol.ServerOptions{})
			var err error
			for b := []byte(req); len(b) > 0 && err == nil; b = b[min(len(b), 1000):] {
				err = s.Receive(t0, b[:min(len(b), 1000)])
			}
			out, _ := drain(s)
			checkRejection(t, out, http.StatusRequestHeaderFieldsTooLarge, nil)
		})
	}
	// At the limits, accepted.
	s := newServer(t, protocol.ServerOptions{})
	req := string(request("GET", "HTTP/1.1", nil))
	req = strings.Replace(req, "\r\n\r\n", "\r\n"+strings.Repeat("X-A: b\r\n", protocol.DefaultMaxHeaderCount-5)+"\r\n", 1)
	if err := s.Receive(t0, []byte(req)); err != nil {
		t.Fatalf("128 headers refused: %v", err)
	}
}

// The P4 lesson: application headers can never duplicate the handshake's.
func TestServerRefusesReservedHeaders(t *testing.T) {
	for _, name := range []string{"Connection", "connection", "Upgrade", "Sec-WebSocket-Accept", "sec-websocket-protocol", "Sec-WebSocket-Extensions", "Content-Length"} {
		_, err := protocol.NewServer(testConfig(), protocol.ServerOptions{Header: http.Header{name: {"x"}}}, t0)
		if !errors.Is(err, protocol.ErrReservedHeader) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, h := range []http.Header{{"X-Bad": {"a\r\nConnection: upgrade"}}, {"Bad Name": {"x"}}} {
		if _, err := protocol.NewServer(testConfig(), protocol.ServerOptions{Header: h}, t0); !errors.Is(err, protocol.ErrInvalidHeader) {
			t.Errorf("%v: %v", h, err)
		}
	}
	s := newServer(t, protocol.ServerOptions{Header: http.Header{"Set-Cookie": {"a=1", "b=2"}, "X-Server": {"wsengine"}}})
	s.Receive(t0, crlf(rfcRequest))
	out, _ := drain(s)
	if bytes.Count(out, []byte("Connection:")) != 1 || !bytes.Contains(out, []byte("Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Server: wsengine\r\n")) {
		t.Fatalf("response %q", out)
	}
}

func TestServerManualAccept(t *testing.T) {
	t.Run("accept", func(t *testing.T) {
		s := newServer(t, protocol.ServerOptions{ManualAccept: true})
		// A frame pipelined behind the request waits for the decision.
		in := concat(crlf(rfcRequest), wireFrame(protocol.RoleClient, frame.OpText, true, []byte("early")))
		if err := s.Receive(t0, in); err != nil {
			t.Fatal(err)
		}
		out, evs := drain(s)
		if len(out) != 0 || len(evs) != 1 || evs[0].Kind != protocol.EventRequest {
			t.Fatalf("out %q events %v", out, kinds(evs))
		}
		if err := s.SendMessage(t0, frame.OpText, []byte("x")); !errors.Is(err, protocol.ErrNotOpen) {
			t.Fatalf("Send before accept: %v", err)
		}
		if err := s.AcceptHandshake(t0, http.Header{"Set-Cookie": {"session=1"}}); err != nil {
			t.Fatal(err)
		}
		out, evs = drain(s)
		if !bytes.HasPrefix(out, []byte("HTTP/1.1 101 ")) || !bytes.Contains(out, []byte("Set-Cookie: session=1\r\n")) {
			t.Fatalf("out %q", out)
		}
		if got := kinds(evs); !cmp.Equal(got, []protocol.EventKind{protocol.EventOpen, protocol.EventData}) || string(evs[1].Data) != "early" {
			t.Fatalf("events %v", evs)
		}
	})
	t.Run("reject", func(t *testing.T) {
		s := newServer(t, protocol.ServerOptions{ManualAccept: true})
		s.Receive(t0, crlf(rfcRequest))
		drain(s)
		if err := s.RejectHandshake(t0, http.StatusUnauthorized, "log in first"); err != nil {
			t.Fatal(err)
		}
		out, _ := drain(s)
		checkRejection(t, out, http.StatusUnauthorized, nil)
		if !bytes.HasSuffix(out, []byte("\r\n\r\nlog in first\n")) {
			t.Fatalf("out %q", out)
		}
	})
	t.Run("misuse", func(t *testing.T) {
		s := newServer(t, protocol.ServerOptions{})
		if err := s.AcceptHandshake(t0, nil); !errors.Is(err, protocol.ErrInvalidState) {
			t.Fatalf("%v", err)
		}
	})
}

func TestServerSubprotocolSelection(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts protocol.ServerOptions
		want string
	}{
		{"server preference", protocol.ServerOptions{Subprotocols: []string{"superchat", "chat"}}, "superchat"},
		{"none in common", protocol.ServerOptions{Subprotocols: []string{"mqtt"}}, ""},
		{"function", protocol.ServerOptions{SelectSubprotocol: func(_ *http.Request, offered []string) string { return offered[1] }}, "superchat"},
	} {
		s := newServer(t, tc.opts)
		if err := s.Receive(t0, crlf(rfcRequest)); err != nil {
			t.Fatal(err)
		}
		out, _ := drain(s)
		resp, _ := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		if s.Subprotocol() != tc.want || resp.Header.Get("Sec-WebSocket-Protocol") != tc.want {
			t.Errorf("%s: %q / %q", tc.name, s.Subprotocol(), resp.Header.Get("Sec-WebSocket-Protocol"))
		}
	}
	s := newServer(t, protocol.ServerOptions{SelectSubprotocol: func(*http.Request, []string) string { return "other" }})
	var he *protocol.HandshakeError
	if err := s.Receive(t0, crlf(rfcRequest)); !errors.As(err, &he) || he.StatusCode != 500 {
		t.Fatalf("choosing an unoffered subprotocol: %v", err)
	}
}

func TestOpenTimeout(t *testing.T) {
	s := newServer(t, protocol.ServerOptions{})
	s.Receive(at(0), []byte("GET / HTTP/1.1\r\n"))
	if d := s.Deadline(); !d.Equal(at(protocol.DefaultOpenTimeout)) {
		t.Fatalf("deadline %v", d.Sub(t0))
	}
	s.HandleTimeout(s.Deadline())
	st := s.CloseStatus()
	if s.State() != protocol.StateClosed || !s.ShouldCloseTransport() || !errors.Is(st.Err, protocol.ErrOpenTimeout) || st.Code != frame.CloseAbnormal {
		t.Fatalf("state %v status %+v", s.State(), st)
	}
}

// The first line decides what it can: a peer that does not speak HTTP, a
// method other than GET, an old version or a target that names no resource
// is answered as soon as that line ends, without waiting for a blank line,
// 16 KiB or the open timeout.
func TestServerRefusesAtTheRequestLine(t *testing.T) {
	tests := []struct {
		line   string
		status int
	}{
		{"HELO relay.invalid\r\n", 400},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", 400}, // TLS to a plain port
		{"GET /\r\n", 400},
		{"GET / HTTP/1.1 extra\r\n", 400},
		{"GET * HTTP/1.1\r\n", 400},
		{"GET example.com:443 HTTP/1.1\r\n", 400},
		{"POST / HTTP/1.1\r\n", 405},
		{"GET / HTTP/1.0\r\n", 505},
		{"GET / HTTP/2.0\r\n", 505},
	}
	for _, tc := range tests {
		t.Run(strconv.Quote(tc.line), func(t *testing.T) {
			s := newServer(t, protocol.ServerOptions{})
			err := s.Receive(t0, []byte(tc.line))
			var he *protocol.HandshakeError
			if !errors.As(err, &he) || he.StatusCode != tc.status {
				t.Fatalf("Receive = %v, want status %d", err, tc.status)
			}
			out, _ := drain(s)
			checkRejection(t, out, tc.status, nil)
			if !s.ShouldCloseTransport() {
				t.Fatal("transport kept open")
			}
		})
	}
	// A valid request line waits for the headers.
	s := newServer(t, protocol.ServerOptions{})
	if err := s.Receive(t0, []byte("GET /chat HTTP/1.1\r\n")); err != nil || s.State() != protocol.StateConnecting {
		t.Fatalf("valid line: %v %v", err, s.State())
	}
}

// Decisions at the edges of HTTP, each on purpose: bare LF line ends are
// accepted (RFC 7230 §3.5 allows it, net/http does it); any Host value,
// "0" included, is a host (RFC 6455 asks only for the header); an absolute
// URI is a valid target.
func TestServerAcceptsHTTPEdges(t *testing.T) {
	tests := map[string][]byte{
		"bare LF":      []byte(strings.ReplaceAll(string(crlf(rfcRequest)), "\r\n", "\n")),
		"Host: 0":      []byte(strings.Replace(string(crlf(rfcRequest)), "Host: server.example.com", "Host: 0", 1)),
		"absolute URI": []byte(strings.Replace(string(crlf(rfcRequest)), "GET /chat", "GET ws://server.example.com/chat", 1)),
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, protocol.ServerOptions{Subprotocols: []string{"chat"},
				CheckOrigin: func(string, *http.Request) bool { return true }})
			if err := s.Receive(t0, req); err != nil {
				t.Fatal(err)
			}
			out, _ := drain(s)
			if !bytes.HasPrefix(out, []byte("HTTP/1.1 101 ")) || s.State() != protocol.StateOpen {
				t.Fatalf("answered %q", out)
			}
		})
	}
}

// A request net/http already parsed (it allows 1 MB of headers) is held to
// the same limits as one the engine reads: 431 beyond them.
func TestServerFromRequestLimits(t *testing.T) {
	parse := func(extra string) *http.Request {
		raw := strings.Replace(string(crlf(rfcRequest)), "\r\n\r\n", "\r\n"+extra+"\r\n\r\n", 1)
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	many := strings.Repeat("X-Filler: 0123456789\r\n", 130)
	tests := []struct {
		name   string
		extra  string
		status int
	}{
		{"40 KB of headers", "X-Big: " + strings.Repeat("a", 8000) + "\r\n" + strings.Repeat("X-More: "+strings.Repeat("b", 8000)+"\r\n", 4), 431},
		{"130 more header lines", many, 431},
		{"one line over 8 KiB", "X-Long: " + strings.Repeat("c", 9000) + "\r\n", 431},
		{"within the limits", "X-Small: 1\r\n", 101},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := protocol.NewServerFromRequest(testConfig(), protocol.ServerOptions{Subprotocols: []string{"chat"},
				CheckOrigin: func(string, *http.Request) bool { return true }}, parse(strings.TrimSuffix(tt.extra, "\r\n")), t0)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := drain(s)
			if tt.status == 101 {
				if !bytes.HasPrefix(out, []byte("HTTP/1.1 101 ")) {
					t.Fatalf("answered %q", out)
				}
				return
			}
			checkRejection(t, out, tt.status, nil)
		})
	}
}

// IsUpgradeRequest looks for the websocket token in every Upgrade line,
// whatever its case and the other tokens beside it.
func TestIsUpgradeRequest(t *testing.T) {
	for _, tt := range []struct {
		upgrade []string
		want    bool
	}{
		{nil, false},
		{[]string{"websocket"}, true},
		{[]string{"WebSocket"}, true},
		{[]string{"h2c, websocket"}, true},
		{[]string{"h2c", " websocket "}, true},
		{[]string{"h2c"}, false},
		{[]string{"websockets"}, false},
	} {
		r := &http.Request{Header: http.Header{"Upgrade": tt.upgrade}}
		if got := protocol.IsUpgradeRequest(r); got != tt.want {
			t.Errorf("Upgrade %q: %v, want %v", tt.upgrade, got, tt.want)
		}
	}
}

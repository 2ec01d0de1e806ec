package protocol

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ServerOptions are a server's handshake policies.
type ServerOptions struct {
	// CheckOrigin decides whether a request's Origin is allowed; origin is
	// "" when the request has none. When nil, AllowedOrigins decides.
	CheckOrigin func(origin string, r *http.Request) bool
	// AllowedOrigins lists the origins accepted, compared exactly and
	// case-insensitively ("https://app.example.com"); "*" accepts any.
	// When empty (and CheckOrigin is nil) the policy is same-origin: a
	// request without Origin (not a browser) is accepted, and one with
	// Origin only if the origin's host equals the Host header. That stops
	// other sites' pages from opening WebSockets with your users' cookies.
	AllowedOrigins []string

	// Subprotocols the server speaks, in its order of preference; the first
	// one the client offered is chosen.
	Subprotocols []string
	// SelectSubprotocol, when set, chooses instead: it returns one of
	// offered, or "" for none.
	SelectSubprotocol func(r *http.Request, offered []string) string

	// Extensions the server can negotiate, permessage-deflate for one.
	Extensions []ServerExtension

	// Header holds extra headers for the 101 response. Upgrade,
	// Connection, Sec-WebSocket-* and framing headers are refused by
	// NewServer, so the response never carries one twice.
	Header http.Header

	// ManualAccept, when true, makes the server stop after a valid request
	// (EventRequest) until the application calls AcceptHandshake or
	// RejectHandshake. Otherwise it answers at once.
	ManualAccept bool

	// Limits bound the request's header block.
	Limits HandshakeLimits
}

// ServerExtension negotiates one extension for a server.
type ServerExtension interface {
	// Name is the extension token, e.g. "permessage-deflate".
	Name() string
	// Negotiate gets the client's offers of this extension, in the
	// client's order, and accepts the first it can honour: it returns the
	// response element for the 101 and the Extension to run. ok false
	// declines them all.
	Negotiate(offers []ExtensionOffer) (response ExtensionOffer, ext Extension, ok bool)
}

// reservedResponseHeaders may not be set through ServerOptions.Header.
var reservedResponseHeaders = []string{"Upgrade", "Connection", "Content-Length", "Transfer-Encoding"}

// NewServer returns a Conn that waits for a client's handshake request in
// Receive, answers it (101, or a rejection with its status), and then is
// open. Invalid options are an error here, not at the first connection.
func NewServer(cfg Config, opts ServerOptions, now time.Time) (*Conn, error) {
	if err := checkExtraHeaders(opts.Header, reservedResponseHeaders...); err != nil {
		return nil, err
	}
	c, err := newConn(RoleServer, cfg, now)
	if err != nil {
		return nil, err
	}
	c.hs = &handshake{limits: opts.Limits.withDefaults(), server: &opts}
	c.startOpenTimer()
	return c, nil
}

// NewServerFromRequest is NewServer for a request that was already read,
// by net/http for example: the answer is in Outgoing at once. Bytes that
// follow the request go to Receive.
func NewServerFromRequest(cfg Config, opts ServerOptions, r *http.Request, now time.Time) (*Conn, error) {
	c, err := NewServer(cfg, opts, now)
	if err != nil {
		return nil, err
	}
	c.hs.stream = r.ProtoMajor == 2 // RFC 8441; a request read from bytes is HTTP/1.1
	if !c.hs.limits.allow(r) {
		c.reject(rejection{status: http.StatusRequestHeaderFieldsTooLarge, body: "request header too large"})
		return c, nil
	}
	c.serverDecide(r, nil)
	return c, nil
}

// allow applies the limits to a request parsed elsewhere (net/http allows
// 1 MB of headers), counting each header line as it was on the wire.
func (l HandshakeLimits) allow(r *http.Request) bool {
	total := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	lines := 0
	for k, vs := range r.Header {
		for _, v := range vs {
			n := len(k) + len(v) + 4 // ": " and CRLF
			if n-2 > l.MaxLine {
				return false
			}
			total += n
			lines++
		}
	}
	if r.Host != "" && r.Header.Get("Host") == "" { // net/http moves Host out of Header
		total += len("Host: ") + len(r.Host) + 2
		lines++
	}
	return lines <= l.MaxCount && total+2 <= l.MaxBytes
}

// rejection is an HTTP answer other than 101.
type rejection struct {
	status int
	body   string
	header [][2]string
}

// acceptance is what a 101 will say.
type acceptance struct {
	key         string
	subprotocol string
	extHeader   string
	exts        []Extension
}

// IsUpgradeRequest reports whether r asks for a WebSocket over HTTP/1.1:
// an Upgrade header listing the websocket token, case-insensitively. It
// routes (a WebSocket to its handler, the rest to pages); NewServer and
// NewServerFromRequest judge the rest of the request.
func IsUpgradeRequest(r *http.Request) bool { return hasToken(r.Header, "Upgrade", "websocket") }

func (c *Conn) serverHandshake(block, rest []byte) error {
	r, err := http.ReadRequest(bufio.NewReaderSize(bytes.NewReader(block), len(block)))
	if err != nil {
		return c.reject(rejection{status: http.StatusBadRequest, body: "malformed HTTP request"})
	}
	return c.serverDecide(r, rest)
}

// serverDecide validates a request and answers it, or waits for the
// application when ManualAccept is set.
func (c *Conn) serverDecide(r *http.Request, rest []byte) error {
	opts := c.hs.server
	validate := validateRequest
	if c.hs.stream {
		validate = validateStreamRequest
	}
	if rej, ok := validate(r, opts); !ok {
		return c.reject(rej)
	}
	acc, rej, ok := negotiate(r, opts)
	if !ok {
		return c.reject(rej)
	}
	c.hs.request = r
	c.emit(Event{Kind: EventRequest, Request: r})
	if opts.ManualAccept {
		c.hs.pending = &acc
		c.hs.buf = bytes.Clone(rest) // rest may be the caller's
		return nil
	}
	return c.accept(acc, nil, rest)
}

// AcceptHandshake answers a request held by ManualAccept with 101. header
// adds response headers (checked like ServerOptions.Header).
func (c *Conn) AcceptHandshake(now time.Time, header http.Header) error {
	c.tick(now)
	if c.hs == nil || c.hs.pending == nil {
		return ErrInvalidState
	}
	if err := checkExtraHeaders(header, reservedResponseHeaders...); err != nil {
		return err
	}
	acc, rest := *c.hs.pending, c.hs.buf
	c.hs.pending, c.hs.buf = nil, nil
	err := c.accept(acc, header, rest)
	c.updateTimers()
	return err
}

// RejectHandshake answers a request held by ManualAccept with status (4xx
// or 5xx) and a one-line body, then asks to close the transport.
func (c *Conn) RejectHandshake(now time.Time, status int, body string) error {
	c.tick(now)
	if c.hs == nil || c.hs.pending == nil {
		return ErrInvalidState
	}
	if status < 400 || status > 599 || strings.ContainsAny(body, "\r\n") {
		return ErrInvalidState
	}
	c.hs.pending = nil
	c.reject(rejection{status: status, body: body})
	return nil
}

// requestLineError carries the answer to a request line refused before the
// rest of the header block arrived.
type requestLineError struct{ rej rejection }

func (e *requestLineError) Error() string { return e.rej.body }

// checkRequestLine decides what the first line of a request already proves:
// "Request-Line = Method SP Request-URI SP HTTP-Version CRLF" (RFC 7230
// §3.1.1; a bare LF ending is accepted, as §3.5 allows and net/http does).
// Anything else is not HTTP (400); a method other than GET (405) or a
// version below 1.1 (505) is refused as validateRequest would refuse it
// once the headers arrived.
func checkRequestLine(line []byte) (rejection, bool) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || !isToken(string(method)) || len(target) == 0 ||
		bytes.ContainsAny(target, " \t") || !bytes.HasPrefix(version, []byte("HTTP/")) {
		return rejection{status: http.StatusBadRequest, body: "not an HTTP request"}, false
	}
	major, minor, ok := http.ParseHTTPVersion(string(version))
	switch {
	case !ok:
		return rejection{status: http.StatusBadRequest, body: "not an HTTP request"}, false
	case string(method) != http.MethodGet:
		return methodNotAllowed, false
	case major != 1 || minor < 1:
		return versionNotSupported, false
	}
	if rej, ok := checkTarget(string(target)); !ok {
		return rej, false
	}
	return rejection{}, true
}

var (
	methodNotAllowed    = rejection{status: http.StatusMethodNotAllowed, body: "the WebSocket handshake is a GET request", header: [][2]string{{"Allow", "GET"}}}
	versionNotSupported = rejection{status: http.StatusHTTPVersionNotSupported, body: "the WebSocket handshake needs HTTP/1.1"}
)

// checkTarget refuses a request target that cannot name a WebSocket
// resource: "/resource name" or an absolute URI (RFC 6455 §3, RFC 7230
// §5.3). "*" (asterisk-form, for OPTIONS) and authority-form (CONNECT)
// are not.
func checkTarget(target string) (rejection, bool) {
	if strings.HasPrefix(target, "/") || strings.Contains(target, "://") {
		return rejection{}, true
	}
	return rejection{status: http.StatusBadRequest, body: "request target is not a resource path"}, false
}

// validateRequest applies RFC 6455 §4.2.1 to a request.
func validateRequest(r *http.Request, opts *ServerOptions) (rejection, bool) {
	bad := func(body string) (rejection, bool) {
		return rejection{status: http.StatusBadRequest, body: body}, false
	}
	// "The method of the request MUST be GET, and the HTTP version MUST be
	// at least 1.1."
	if r.Method != http.MethodGet {
		return methodNotAllowed, false
	}
	if !r.ProtoAtLeast(1, 1) || r.ProtoMajor != 1 {
		return versionNotSupported, false
	}
	if target := r.RequestURI; target != "" {
		if rej, ok := checkTarget(target); !ok {
			return rej, false
		}
	}
	if r.Host == "" {
		return bad("missing Host header")
	}
	// "An |Upgrade| header field containing the value "websocket"" and "A
	// |Connection| header field that includes the token "Upgrade"", both
	// case-insensitive.
	upgradeRequired := [][2]string{{"Upgrade", "websocket"}}
	if !IsUpgradeRequest(r) {
		return rejection{status: http.StatusUpgradeRequired, body: "missing Upgrade: websocket", header: upgradeRequired}, false
	}
	if !hasToken(r.Header, "Connection", "upgrade") {
		return rejection{status: http.StatusUpgradeRequired, body: "missing Connection: Upgrade", header: upgradeRequired}, false
	}
	// "A |Sec-WebSocket-Key| header field with a base64-encoded value that,
	// when decoded, is 16 bytes in length."
	keys := r.Header.Values("Sec-WebSocket-Key")
	switch {
	case len(keys) == 0:
		return bad("missing Sec-WebSocket-Key")
	case len(keys) > 1:
		return bad("repeated Sec-WebSocket-Key")
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return bad("Sec-WebSocket-Key is not base64 of 16 bytes")
	}
	return validateCommon(r, opts)
}

// validateCommon applies the checks RFC 6455 §4.2.1 and RFC 8441 share:
// the version and the origin.
func validateCommon(r *http.Request, opts *ServerOptions) (rejection, bool) {
	// "If this version does not match a version understood by the server,
	// the server MUST abort the WebSocket handshake [...] and instead send
	// an appropriate HTTP error code (such as 426 Upgrade Required) and a
	// |Sec-WebSocket-Version| header field indicating the version(s) the
	// server is capable of understanding."
	if v := r.Header.Values("Sec-WebSocket-Version"); len(v) != 1 || strings.TrimSpace(v[0]) != "13" {
		return rejection{status: http.StatusUpgradeRequired, body: "unsupported Sec-WebSocket-Version; this server speaks 13",
			header: [][2]string{{"Sec-WebSocket-Version", "13"}}}, false
	}
	origins := r.Header.Values("Origin")
	if len(origins) > 1 {
		return rejection{status: http.StatusBadRequest, body: "repeated Origin header"}, false
	}
	origin := ""
	if len(origins) == 1 {
		origin = origins[0]
	}
	if !originAllowed(origin, r, opts) {
		return rejection{status: http.StatusForbidden, body: "origin not allowed"}, false
	}
	return rejection{}, true
}

func originAllowed(origin string, r *http.Request, opts *ServerOptions) bool {
	switch {
	case opts.CheckOrigin != nil:
		return opts.CheckOrigin(origin, r)
	case len(opts.AllowedOrigins) > 0:
		for _, o := range opts.AllowedOrigins {
			if o == "*" || strings.EqualFold(o, origin) {
				return true
			}
		}
		return false
	case origin == "":
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// negotiate chooses the subprotocol and the extensions.
func negotiate(r *http.Request, opts *ServerOptions) (acceptance, rejection, bool) {
	acc := acceptance{key: strings.TrimSpace(r.Header.Get("Sec-WebSocket-Key"))}
	offered := tokenList(r.Header, "Sec-WebSocket-Protocol")
	if opts.SelectSubprotocol != nil {
		acc.subprotocol = opts.SelectSubprotocol(r, offered)
		if acc.subprotocol != "" && !slices.Contains(offered, acc.subprotocol) {
			return acc, rejection{status: http.StatusInternalServerError, body: "server chose a subprotocol the client did not offer"}, false
		}
	} else {
		for _, p := range opts.Subprotocols {
			if slices.Contains(offered, p) {
				acc.subprotocol = p
				break
			}
		}
	}
	if len(opts.Extensions) == 0 {
		return acc, rejection{}, true
	}
	offers, err := ParseExtensions(r.Header)
	if err != nil {
		return acc, rejection{status: http.StatusBadRequest, body: "malformed Sec-WebSocket-Extensions"}, false
	}
	var parts []string
	var rsv uint8
	for _, se := range opts.Extensions {
		var mine []ExtensionOffer
		for _, o := range offers {
			if strings.EqualFold(o.Name, se.Name()) {
				mine = append(mine, o)
			}
		}
		if len(mine) == 0 {
			continue
		}
		resp, ext, ok := se.Negotiate(mine)
		if !ok || ext.Rsv()&rsv != 0 { // two extensions may not share an RSV bit
			continue
		}
		rsv |= ext.Rsv()
		parts = append(parts, resp.String())
		acc.exts = append(acc.exts, ext)
	}
	acc.extHeader = strings.Join(parts, ", ")
	return acc, rejection{}, true
}

// accept writes the 101 response and opens the connection. The response
// has exactly one Upgrade and one Connection header and at most one of each
// negotiated header; extra headers were checked not to repeat them.
func (c *Conn) accept(acc acceptance, extra http.Header, rest []byte) error {
	if c.hs.stream {
		return c.acceptStream(acc, extra, rest)
	}
	// Framed straight into the output (a driver may have lent it a buffer).
	b := c.appendOut()
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = appendAcceptKey(b, acc.key)
	b = append(b, "\r\n"...)
	if acc.subprotocol != "" {
		b = appendHeaderLine(b, "Sec-WebSocket-Protocol", acc.subprotocol)
	}
	if acc.extHeader != "" {
		b = appendHeaderLine(b, "Sec-WebSocket-Extensions", acc.extHeader)
	}
	b = appendHeaders(b, mergeHeaders(c.hs.server.Header, extra))
	c.out = append(b, "\r\n"...)
	c.hs.subprotocol = acc.subprotocol
	return c.openWith(acc.exts, rest)
}

// reject writes an HTTP error response and ends the connection.
func (c *Conn) reject(rej rejection) error {
	if c.hs.stream {
		return c.rejectStream(rej)
	}
	body := rej.body + "\n"
	var b []byte
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(rej.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(rej.status)...)
	b = append(b, "\r\n"...)
	b = appendHeaderLine(b, "Content-Type", "text/plain; charset=utf-8")
	b = appendHeaderLine(b, "Content-Length", strconv.Itoa(len(body)))
	b = appendHeaderLine(b, "Connection", "close")
	for _, h := range rej.header {
		b = appendHeaderLine(b, h[0], h[1])
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.out = append(c.appendOut(), b...)
	err := &HandshakeError{StatusCode: rej.status, Reason: rej.body}
	c.finish(err)
	return err
}

func appendHeaderLine(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// appendHeaders writes h sorted by name, one line per value.
func appendHeaders(b []byte, h http.Header) []byte {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			b = appendHeaderLine(b, http.CanonicalHeaderKey(k), v)
		}
	}
	return b
}

// mergeHeaders joins two header sets (b after a) without changing either.
func mergeHeaders(a, b http.Header) http.Header {
	if len(b) == 0 {
		return a
	}
	m := a.Clone()
	if m == nil {
		m = http.Header{}
	}
	for k, vs := range b {
		for _, v := range vs {
			m.Add(k, v)
		}
	}
	return m
}

package protocol

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WebSockets over HTTP/2 (RFC 8441). The stream carries the same frames,
// masking included; only the opening handshake differs:
//
//   - the client sends an extended CONNECT: :method CONNECT, :protocol
//     websocket, :scheme, :path and :authority, with Sec-WebSocket-Version,
//     Origin, Sec-WebSocket-Protocol and Sec-WebSocket-Extensions as over
//     HTTP/1.1, and no Sec-WebSocket-Key, Upgrade or Connection (§5: "the
//     processing of the Sec-WebSocket-Key and Sec-WebSocket-Accept header
//     fields [...] has been superseded by the :protocol pseudo-header
//     field"; HTTP/2 forbids connection-specific fields);
//   - the server answers 200 (a client accepts any 2xx) with the chosen
//     subprotocol and extensions and no Sec-WebSocket-Accept;
//   - the end of the transport is the end of the stream: END_STREAM for a
//     TCP FIN, RST_STREAM for a reset (§6).
//
// The handshake is HTTP/2 HEADERS, which the HTTP/2 layer (net/http)
// encodes, so the engine does not put it in Outgoing: a server's answer is
// Response, a client's request is Request, and the client hands the
// server's response to ReceiveResponse. net/http carries the :protocol
// pseudo-header in Request.Header under ProtocolHeader.

// ProtocolHeader is the key of the :protocol pseudo-header in a net/http
// Request.Header: net/http's HTTP/2 server puts it there for an extended
// CONNECT, and its HTTP/2 client sends it from there.
const ProtocolHeader = ":protocol"

// IsExtendedConnect reports whether r is an HTTP/2 extended CONNECT (RFC
// 8441 §4), whatever its :protocol: the requests a WebSocket over HTTP/2
// opens with.
func IsExtendedConnect(r *http.Request) bool {
	return r.Method == http.MethodConnect && r.ProtoMajor == 2 && len(r.Header[ProtocolHeader]) > 0
}

var (
	connectNotAllowed = rejection{status: http.StatusMethodNotAllowed,
		body:   "over HTTP/2 a WebSocket opens with an extended CONNECT (RFC 8441)",
		header: [][2]string{{"Allow", http.MethodConnect}}}
	plainConnect = rejection{status: http.StatusBadRequest,
		body: "CONNECT without :protocol websocket"}
)

// validateStreamRequest applies RFC 8441 §4–5 to an HTTP/2 request; the
// checks it shares with RFC 6455 (version, origin) are RFC 6455's.
func validateStreamRequest(r *http.Request, opts *ServerOptions) (rejection, bool) {
	bad := func(body string) (rejection, bool) {
		return rejection{status: http.StatusBadRequest, body: body}, false
	}
	switch {
	case r.Method != http.MethodConnect:
		return connectNotAllowed, false
	case !IsExtendedConnect(r):
		return plainConnect, false
	}
	protos := r.Header[ProtocolHeader]
	if len(protos) != 1 || !strings.EqualFold(protos[0], "websocket") {
		return bad("unsupported :protocol " + quoteHeader(strings.Join(protos, ", ")) + "; this endpoint speaks websocket")
	}
	if r.Host == "" {
		return bad("missing :authority")
	}
	if r.URL == nil || r.URL.Path == "" || !strings.HasPrefix(r.URL.Path, "/") {
		return bad("missing :path")
	}
	for _, h := range []string{"Sec-WebSocket-Key", "Upgrade", "Connection"} {
		if len(r.Header.Values(h)) > 0 {
			return bad(h + " is not used over HTTP/2 (RFC 8441 §5)")
		}
	}
	return validateCommon(r, opts)
}

// acceptStream opens a server's connection over an HTTP/2 stream: the
// answer is a 200 in Response, with nothing in Outgoing.
func (c *Conn) acceptStream(acc acceptance, extra http.Header, rest []byte) error {
	h := http.Header{}
	if acc.subprotocol != "" {
		h.Set("Sec-WebSocket-Protocol", acc.subprotocol)
	}
	if acc.extHeader != "" {
		h.Set("Sec-WebSocket-Extensions", acc.extHeader)
	}
	for k, vs := range mergeHeaders(c.hs.server.Header, extra) {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	c.hs.answer = streamResponse(http.StatusOK, h, c.hs.request)
	c.hs.subprotocol = acc.subprotocol
	return c.openWith(acc.exts, rest)
}

// rejectStream ends a server's handshake over HTTP/2 with rej, in
// Response (the body is the text of the HTTP/1.1 rejection).
func (c *Conn) rejectStream(rej rejection) error {
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	for _, kv := range rej.header {
		h.Add(kv[0], kv[1])
	}
	body := rej.body + "\n"
	resp := streamResponse(rej.status, h, c.hs.request)
	resp.Body, resp.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
	c.hs.answer = resp
	err := &HandshakeError{StatusCode: rej.status, Reason: rej.body}
	c.finish(err)
	return err
}

func streamResponse(status int, h http.Header, r *http.Request) *http.Response {
	return &http.Response{
		Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/2.0", ProtoMajor: 2, Header: h, Body: http.NoBody, Request: r,
	}
}

// newStreamRequest builds a client's extended CONNECT for cs's target.
func newStreamRequest(cs *clientState, opts ClientOptions) *http.Request {
	t := cs.target
	u, err := url.ParseRequestURI(t.RequestURI) // ParseURL made it from a valid URL
	if err != nil {
		u = &url.URL{Path: "/"}
	}
	u.Scheme, u.Host = "http", t.Host
	if t.TLS {
		u.Scheme = "https"
	}
	h := http.Header{ProtocolHeader: {"websocket"}}
	h.Set("Sec-WebSocket-Version", "13")
	if opts.Origin != "" {
		h.Set("Origin", opts.Origin)
	}
	if len(opts.Subprotocols) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(opts.Subprotocols, ", "))
	}
	if offers := extensionOffers(opts.Extensions); offers != "" {
		h.Set("Sec-WebSocket-Extensions", offers)
	}
	for k, vs := range opts.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	r := &http.Request{
		Method: http.MethodConnect, URL: u, Host: t.Host, Header: h,
		Proto: "HTTP/2.0", ProtoMajor: 2, ContentLength: -1,
	}
	if t.HasUser {
		r.SetBasicAuth(t.User, t.Password)
	}
	return r
}

// Request returns the handshake request: for a server the request
// received (once validated), for a client over HTTP/2 the extended
// CONNECT to send, whose Header carries ProtocolHeader as net/http's
// HTTP/2 client expects. A client over HTTP/1.1 has its request in
// Outgoing and gets nil.
func (c *Conn) Request() *http.Request {
	if c.hs == nil {
		return nil
	}
	if c.hs.client != nil {
		return c.hs.client.request
	}
	return c.hs.request
}

// ReceiveResponse gives a client over HTTP/2 the server's answer to its
// extended CONNECT: a 2xx with acceptable Sec-WebSocket-Protocol and
// Sec-WebSocket-Extensions opens the connection (EventResponse, then
// EventOpen; the bytes of the stream then go to Receive). Anything else
// ends it with a *HandshakeError carrying the status, the headers and
// body, the first bytes of the response body (the caller reads them, up to
// 4 KiB, as the engine does no I/O). resp.Body is neither read nor kept.
// A client over HTTP/1.1 gets ErrInvalidState.
func (c *Conn) ReceiveResponse(now time.Time, resp *http.Response, body []byte) error {
	c.tick(now)
	if c.state != StateConnecting || c.hs == nil || c.hs.client == nil || c.hs.client.request == nil {
		return ErrInvalidState
	}
	err := c.clientStreamResponse(resp, body)
	c.updateTimers()
	return err
}

func (c *Conn) clientStreamResponse(resp *http.Response, body []byte) error {
	kept := *resp
	kept.Body = http.NoBody
	resp = &kept
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.clientFails(&HandshakeError{StatusCode: resp.StatusCode, Reason: "server refused the WebSocket",
			Header: resp.Header, Body: slices.Clone(body[:min(len(body), maxRejectionBody)])})
	}
	return c.clientOpens(resp, nil)
}

// extensionOffers joins the offers of every extension, in order.
func extensionOffers(exts []ClientExtension) string {
	var offers []string
	for _, e := range exts {
		for _, o := range e.Offers() {
			offers = append(offers, o.String())
		}
	}
	return strings.Join(offers, ", ")
}

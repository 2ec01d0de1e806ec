package protocol

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// ClientOptions are a client's handshake settings.
type ClientOptions struct {
	// URL is ws://, wss://, http:// or https:// (see ParseURL).
	URL string
	// Origin, if set, is sent as the Origin header (browsers always send
	// one; servers may check it).
	Origin string
	// Subprotocols to offer, in order of preference.
	Subprotocols []string
	// Extensions to offer, permessage-deflate for one.
	Extensions []ClientExtension
	// Header holds extra request headers (cookies, authorization, user
	// agent). Host, Upgrade, Connection and Sec-WebSocket-* are refused by
	// NewClient.
	Header http.Header
	// Limits bound the response's header block.
	Limits HandshakeLimits
	// HTTP2 makes the handshake an HTTP/2 extended CONNECT (RFC 8441):
	// Outgoing stays empty, Request is the request for the HTTP/2 layer to
	// send, and ReceiveResponse takes the server's answer.
	HTTP2 bool
}

// ClientExtension offers one extension and checks the server's answer.
type ClientExtension interface {
	// Offers returns the elements to offer, most preferred first.
	Offers() []ExtensionOffer
	// Accept checks the server's response element for this extension and
	// returns the Extension to run, or an error if the response is not one
	// the client can accept.
	Accept(response ExtensionOffer) (Extension, error)
	// Name is the extension token.
	Name() string
}

type clientState struct {
	target     Target
	key        string
	request    *http.Request // the extended CONNECT over HTTP/2
	protocols  []string
	extensions []ClientExtension
}

// NewClient returns a Conn whose Outgoing already holds the handshake
// request for opts.URL. It waits for the response in Receive; after a valid
// 101 (EventResponse, then EventOpen) it is open. A bad URL, a reserved or
// malformed header, or an invalid subprotocol name is an error here.
func NewClient(cfg Config, opts ClientOptions, now time.Time) (*Conn, error) {
	t, err := ParseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	reserved := []string{"Host", "Upgrade", "Connection", "Content-Length", "Transfer-Encoding"}
	if opts.Origin != "" {
		reserved = append(reserved, "Origin")
	}
	if t.HasUser {
		reserved = append(reserved, "Authorization")
	}
	if err := checkExtraHeaders(opts.Header, reserved...); err != nil {
		return nil, err
	}
	for _, p := range opts.Subprotocols {
		if !isToken(p) {
			return nil, fmt.Errorf("%w: subprotocol %s is not a token", ErrInvalidHeader, quoteHeader(p))
		}
	}
	if strings.ContainsAny(opts.Origin, "\r\n\x00") {
		return nil, fmt.Errorf("%w: Origin has CR, LF or NUL", ErrInvalidHeader)
	}
	c, err := newConn(RoleClient, cfg, now)
	if err != nil {
		return nil, err
	}
	cs := &clientState{target: t, protocols: opts.Subprotocols, extensions: opts.Extensions}
	if opts.HTTP2 {
		cs.request = newStreamRequest(cs, opts)
	} else {
		// "a nonce consisting of a randomly selected 16-byte value that has
		// been base64-encoded" (§4.1)
		var nonce [16]byte
		if _, err := io.ReadFull(c.random(), nonce[:]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInternal, err)
		}
		cs.key = base64.StdEncoding.EncodeToString(nonce[:])
		c.out = appendRequest(c.appendOut(), cs, opts)
	}
	c.hs = &handshake{limits: opts.Limits.withDefaults(), client: cs}
	c.startOpenTimer()
	return c, nil
}

func appendRequest(b []byte, cs *clientState, opts ClientOptions) []byte {
	b = append(b, "GET "...)
	b = append(b, cs.target.RequestURI...)
	b = append(b, " HTTP/1.1\r\n"...)
	b = appendHeaderLine(b, "Host", cs.target.Host)
	b = append(b, "Upgrade: websocket\r\nConnection: Upgrade\r\n"...)
	b = appendHeaderLine(b, "Sec-WebSocket-Key", cs.key)
	b = append(b, "Sec-WebSocket-Version: 13\r\n"...)
	if opts.Origin != "" {
		b = appendHeaderLine(b, "Origin", opts.Origin)
	}
	if len(opts.Subprotocols) > 0 {
		b = appendHeaderLine(b, "Sec-WebSocket-Protocol", strings.Join(opts.Subprotocols, ", "))
	}
	if offers := extensionOffers(opts.Extensions); offers != "" {
		b = appendHeaderLine(b, "Sec-WebSocket-Extensions", offers)
	}
	if cs.target.HasUser {
		cred := base64.StdEncoding.EncodeToString([]byte(cs.target.User + ":" + cs.target.Password))
		b = appendHeaderLine(b, "Authorization", "Basic "+cred)
	}
	b = appendHeaders(b, opts.Header)
	return append(b, "\r\n"...)
}

// clientHandshake checks the server's response (RFC 6455 §4.1, the
// client's checks 1–6).
func (c *Conn) clientHandshake(block, rest []byte) error {
	cs := c.hs.client
	resp, err := http.ReadResponse(bufio.NewReaderSize(bytes.NewReader(block), len(block)), nil)
	if err != nil {
		return c.clientFails(&HandshakeError{Reason: "malformed HTTP response"})
	}
	// "If the status code received from the server is not 101, the client
	// handles the response per HTTP procedures."
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.hs.rejected = &HandshakeError{StatusCode: resp.StatusCode, Reason: "server did not switch protocols", Header: resp.Header}
		c.hs.bodyWant = maxRejectionBody
		if resp.ContentLength >= 0 {
			c.hs.bodyWant = int(min(resp.ContentLength, maxRejectionBody))
		}
		c.hs.buf = bytes.Clone(rest) // rest may be the caller's
		if len(rest) >= c.hs.bodyWant {
			return c.clientRejected()
		}
		return nil
	}
	fail := func(reason string) error {
		return c.clientFails(&HandshakeError{StatusCode: resp.StatusCode, Reason: reason, Header: resp.Header})
	}
	if !hasToken(resp.Header, "Upgrade", "websocket") {
		return fail("response has no Upgrade: websocket")
	}
	if !hasToken(resp.Header, "Connection", "upgrade") {
		return fail("response has no Connection: Upgrade")
	}
	if got := resp.Header.Values("Sec-WebSocket-Accept"); len(got) != 1 || strings.TrimSpace(got[0]) != acceptKey(cs.key) {
		return fail("Sec-WebSocket-Accept does not match the key sent")
	}
	return c.clientOpens(resp, rest)
}

// clientOpens checks the server's choices in a successful response (the
// same over HTTP/1.1 and HTTP/2) and opens the connection.
func (c *Conn) clientOpens(resp *http.Response, rest []byte) error {
	cs := c.hs.client
	fail := func(reason string) error {
		return c.clientFails(&HandshakeError{StatusCode: resp.StatusCode, Reason: reason, Header: resp.Header})
	}
	// "If the response includes a |Sec-WebSocket-Protocol| header field and
	// this header field indicates the use of a subprotocol that was not
	// present in the client's handshake [...] the client MUST _Fail_".
	protos := tokenList(resp.Header, "Sec-WebSocket-Protocol")
	switch {
	case len(protos) > 1:
		return fail("server chose more than one subprotocol")
	case len(protos) == 1 && !slices.Contains(cs.protocols, protos[0]):
		return fail("server chose subprotocol " + quoteHeader(protos[0]) + ", which was not offered")
	case len(protos) == 1:
		c.hs.subprotocol = protos[0]
	}
	exts, reason := acceptExtensions(resp.Header, cs.extensions)
	if reason != "" {
		return fail(reason)
	}
	resp.Body = http.NoBody
	c.hs.response = resp
	c.emit(Event{Kind: EventResponse, Response: resp})
	return c.openWith(exts, rest)
}

// acceptExtensions checks that every extension in the response was offered,
// once, and lets it configure itself.
func acceptExtensions(h http.Header, offered []ClientExtension) ([]Extension, string) {
	elems, err := ParseExtensions(h)
	if err != nil {
		return nil, "malformed Sec-WebSocket-Extensions in response"
	}
	var exts []Extension
	used := map[string]bool{}
	var rsv uint8
	for _, e := range elems {
		name := strings.ToLower(e.Name)
		i := slices.IndexFunc(offered, func(o ClientExtension) bool { return strings.EqualFold(o.Name(), e.Name) })
		if i < 0 {
			return nil, "server accepted extension " + quoteHeader(e.Name) + ", which was not offered"
		}
		if used[name] {
			return nil, "server accepted extension " + quoteHeader(e.Name) + " twice"
		}
		used[name] = true
		ext, err := offered[i].Accept(e)
		if err != nil {
			return nil, "server's " + e.Name + " response is not acceptable: " + err.Error()
		}
		if ext.Rsv()&rsv != 0 {
			return nil, "server accepted extensions that share an RSV bit"
		}
		rsv |= ext.Rsv()
		exts = append(exts, ext)
	}
	return exts, ""
}

// clientFails ends the handshake with err.
func (c *Conn) clientFails(err *HandshakeError) error {
	c.finish(err)
	return err
}

// clientRejected ends the handshake of a non-101 response, with the body
// received so far.
func (c *Conn) clientRejected() error {
	h := c.hs
	err := h.rejected
	err.Body = bytes.Clone(h.buf[:min(len(h.buf), h.bodyWant)])
	h.buf = nil
	if err.StatusCode == http.StatusBadRequest && !h.client.target.TLS && wantsTLS(err.Body) {
		err.Reason = "the server expects TLS: use wss://, not ws://"
	}
	c.finish(err)
	return err
}

// wantsTLS reports whether a 400's body says that a plain HTTP request
// came to a TLS port, as Go's servers ("Client sent an HTTP request to an
// HTTPS server.") and nginx's ("The plain HTTP request was sent to HTTPS
// port") say it.
func wantsTLS(body []byte) bool {
	return bytes.Contains(body, []byte("HTTPS server")) || bytes.Contains(body, []byte("HTTPS port"))
}

package protocol

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
)

// Header limits of the opening handshake (defaults of HandshakeLimits).
const (
	DefaultMaxHeaderLine  = 8 << 10
	DefaultMaxHeaderCount = 128
	DefaultMaxHeaderBytes = 16 << 10
	// maxRejectionBody bounds the body of a non-101 response kept for the
	// application.
	maxRejectionBody = 4 << 10
)

// HandshakeLimits bound the HTTP header block of the opening handshake.
// Zero fields take the defaults: 8 KiB a line, 128 header lines, 16 KiB in
// all. Beyond them a server answers 431 and a client fails with
// ErrHeaderTooLarge.
type HandshakeLimits struct {
	MaxLine  int
	MaxCount int
	MaxBytes int
}

func (l HandshakeLimits) withDefaults() HandshakeLimits {
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxHeaderLine
	}
	if l.MaxCount <= 0 {
		l.MaxCount = DefaultMaxHeaderCount
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxHeaderBytes
	}
	return l
}

// ErrHeaderTooLarge: the handshake's header block broke HandshakeLimits.
var ErrHeaderTooLarge = errors.New("websocket: handshake header too large")

// HandshakeError is a failed opening handshake. A client gets it for a
// response other than a valid 101: StatusCode, Header and up to 4 KiB of
// Body are what the server sent, so the application can show it. A server
// gets it for a request it rejected: StatusCode is the status it answered.
type HandshakeError struct {
	StatusCode int
	Reason     string
	Header     http.Header
	Body       []byte
}

// Error says the handshake failed, with the status and the reason.
func (e *HandshakeError) Error() string {
	s := "websocket: handshake failed"
	if e.StatusCode != 0 {
		s += ": " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// acceptKey computes Sec-WebSocket-Accept: "the base64-encoded SHA-1 of the
// concatenation of the |Sec-WebSocket-Key| (as a string, not base64-decoded)
// with the string "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"" (§4.2.2).
func acceptKey(key string) string { return string(appendAcceptKey(nil, key)) }

// appendAcceptKey appends acceptKey(key) to b, without allocating.
func appendAcceptKey(b []byte, key string) []byte {
	var buf [64]byte // a valid key is 24 bytes
	sum := sha1.Sum(append(append(buf[:0], key...), "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"...))
	return base64.StdEncoding.AppendEncode(b, sum[:])
}

// handshake is the opening handshake's state.
type handshake struct {
	limits HandshakeLimits
	server *ServerOptions
	client *clientState

	// The header block being received.
	buf       []byte
	scan      int
	lineStart int
	lines     int

	subprotocol string
	request     *http.Request
	response    *http.Response // a client's 101 (or 2xx over HTTP/2)
	stream      bool           // a server over HTTP/2 (RFC 8441)
	answer      *http.Response // a server's answer over HTTP/2
	pending     *acceptance    // a server's decision awaiting AcceptHandshake
	rejected    *HandshakeError
	bodyWant    int
}

// headerEnd scans newly received bytes for the blank line that ends the
// header block, enforcing the limits as it goes. It returns the index after
// the block, or 0 if it has not arrived yet.
func (h *handshake) headerEnd() (int, error) {
	l := h.limits
	for ; h.scan < len(h.buf); h.scan++ {
		if h.buf[h.scan] != '\n' {
			if h.scan-h.lineStart >= l.MaxLine {
				return 0, ErrHeaderTooLarge
			}
			continue
		}
		n := h.scan - h.lineStart
		if n == 0 || n == 1 && h.buf[h.lineStart] == '\r' {
			if h.lines > 0 {
				end := h.scan + 1
				if end > l.MaxBytes {
					return 0, ErrHeaderTooLarge
				}
				return end, nil
			}
		} else if h.lines++; h.lines > l.MaxCount+1 { // +1: the request or status line
			return 0, ErrHeaderTooLarge
		} else if h.lines == 1 && h.server != nil {
			// A peer that does not speak HTTP is refused at its first
			// line, not held until a blank line or the open timeout.
			if rej, ok := checkRequestLine(h.buf[h.lineStart:h.scan]); !ok {
				return 0, &requestLineError{rej}
			}
		}
		h.lineStart = h.scan + 1
	}
	if len(h.buf) > l.MaxBytes {
		return 0, ErrHeaderTooLarge
	}
	return 0, nil
}

// receiveHandshake takes bytes while StateConnecting.
func (c *Conn) receiveHandshake(data []byte) error {
	h := c.hs
	if h.client != nil && h.client.request != nil {
		return ErrInvalidState // over HTTP/2 the response comes to ReceiveResponse
	}
	if h.rejected != nil { // a client collecting a rejection's body
		h.buf = append(h.buf, data...)
		if len(h.buf) >= h.bodyWant {
			return c.clientRejected()
		}
		return nil
	}
	if h.pending != nil { // a server waiting for AcceptHandshake
		if len(h.buf)+len(data) > h.limits.MaxBytes {
			h.pending = nil
			return c.reject(rejection{status: http.StatusBadRequest, body: "data sent before the handshake completed"})
		}
		h.buf = append(h.buf, data...)
		return nil
	}
	// Most requests and responses come whole in one read: the caller's
	// bytes are parsed where they are, and copied only to be kept.
	borrowed := len(h.buf) == 0
	if borrowed {
		h.buf = data
	} else {
		h.buf = append(h.buf, data...)
	}
	end, err := h.headerEnd()
	if borrowed && (err != nil || end == 0) {
		h.buf = bytes.Clone(h.buf)
	}
	if rl, ok := err.(*requestLineError); ok {
		return c.reject(rl.rej)
	}
	if err != nil {
		if h.server != nil {
			return c.reject(rejection{status: http.StatusRequestHeaderFieldsTooLarge, body: "request header too large"})
		}
		c.finish(err)
		return err
	}
	if end == 0 {
		return nil
	}
	block, rest := h.buf[:end], h.buf[end:]
	h.buf = nil
	if h.server != nil {
		return c.serverHandshake(block, rest)
	}
	return c.clientHandshake(block, rest)
}

// openWith completes the handshake: the connection is open with the
// negotiated extensions, and bytes that followed the handshake go to the
// frame parser.
func (c *Conn) openWith(exts []Extension, rest []byte) error {
	c.cfg.Extensions = exts
	c.open()
	c.emit(Event{Kind: EventOpen})
	if len(rest) == 0 {
		return nil
	}
	c.recv.lastRecv = c.now
	c.bufferInput(rest)
	return c.readFrames()
}

// Subprotocol returns the negotiated subprotocol ("" if none).
func (c *Conn) Subprotocol() string {
	if c.hs == nil {
		return ""
	}
	return c.hs.subprotocol
}

// Response returns, for a client whose handshake succeeded, the server's
// response (101, or 2xx over HTTP/2; its Body is empty: the bytes after it
// are the connection's); read it for the server's headers and cookies. For
// a server over HTTP/2 it returns the answer decided (200 or a rejection,
// whose text is the HandshakeError's Reason), for the HTTP/2 layer to send
// as the stream's HEADERS: over HTTP/2 the answer is not in Outgoing.
// Otherwise it returns nil.
func (c *Conn) Response() *http.Response {
	switch {
	case c.hs == nil:
		return nil
	case c.hs.server != nil:
		return c.hs.answer
	}
	return c.hs.response
}

// Extensions returns the negotiated extensions.
func (c *Conn) Extensions() []Extension { return c.cfg.Extensions }

func (c *Conn) startOpenTimer() {
	if d := c.cfg.OpenTimeoutOrDefault(); d > 0 {
		c.timers[timerOpen] = c.now.add(d)
	}
}

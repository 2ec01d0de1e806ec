package protocol

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrReservedHeader is wrapped by the error for an application header that
// the handshake writes itself. Letting an application add a second
// Connection header is how servers broke iOS Safari (design.md P4).
var ErrReservedHeader = errors.New("websocket: header is written by the handshake and may not be set")

// ErrInvalidHeader is wrapped by the error for a header name or value that
// cannot be written (not a token, or containing CR, LF or NUL).
var ErrInvalidHeader = errors.New("websocket: invalid header")

// checkExtraHeaders validates application headers for a request or a 101
// response: no handshake header, nothing that breaks the message framing.
func checkExtraHeaders(h http.Header, reserved ...string) error {
	for name, values := range h {
		canon := http.CanonicalHeaderKey(name)
		if !isToken(name) {
			return fmt.Errorf("%w: name %s is not a token", ErrInvalidHeader, quoteHeader(name))
		}
		if strings.HasPrefix(canon, "Sec-Websocket-") {
			return fmt.Errorf("%w: %s", ErrReservedHeader, canon)
		}
		for _, r := range reserved {
			if canon == r {
				return fmt.Errorf("%w: %s", ErrReservedHeader, canon)
			}
		}
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				return fmt.Errorf("%w: %s has CR, LF or NUL in its value", ErrInvalidHeader, canon)
			}
		}
	}
	return nil
}

func quoteHeader(s string) string { return `"` + s + `"` }

// isToken reports whether s is an RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	if c <= ' ' || c >= 0x7F {
		return false
	}
	return !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c))
}

// tokenList returns the comma-separated elements of every line of header
// name, trimmed, empty elements dropped ("#rule" of RFC 7230 §7).
func tokenList(h http.Header, name string) []string {
	var out []string
	for _, line := range h.Values(name) {
		for _, e := range strings.Split(line, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// hasToken reports whether the token list of header name contains token,
// case-insensitively (Firefox sends "Connection: keep-alive, Upgrade").
func hasToken(h http.Header, name, token string) bool {
	for _, e := range tokenList(h, name) {
		if strings.EqualFold(e, token) {
			return true
		}
	}
	return false
}

// ExtensionOffer is one element of a Sec-WebSocket-Extensions header: an
// extension name with its parameters, in order (RFC 6455 §9.1).
type ExtensionOffer struct {
	Name   string
	Params []ExtensionParam
}

// ExtensionParam is one parameter; HasValue is false for a bare name.
type ExtensionParam struct {
	Name     string
	Value    string
	HasValue bool
}

// String renders the offer as it goes on the wire.
func (o ExtensionOffer) String() string {
	var b strings.Builder
	b.WriteString(o.Name)
	for _, p := range o.Params {
		b.WriteString("; ")
		b.WriteString(p.Name)
		if p.HasValue {
			b.WriteByte('=')
			if isToken(p.Value) {
				b.WriteString(p.Value)
			} else {
				b.WriteString(`"` + p.Value + `"`)
			}
		}
	}
	return b.String()
}

// ErrBadExtensionHeader: a Sec-WebSocket-Extensions header that does not
// follow the grammar of RFC 6455 §9.1.
var ErrBadExtensionHeader = errors.New("websocket: malformed Sec-WebSocket-Extensions header")

// ParseExtensions parses every Sec-WebSocket-Extensions line of h, in order.
// Values may be tokens or quoted strings ("a quoted-string value MUST
// conform to the token ABNF after unescaping").
func ParseExtensions(h http.Header) ([]ExtensionOffer, error) {
	var out []ExtensionOffer
	for _, line := range h.Values("Sec-WebSocket-Extensions") {
		p := extParser{s: line}
		offers, err := p.list()
		if err != nil {
			return nil, err
		}
		out = append(out, offers...)
	}
	return out, nil
}

type extParser struct {
	s string
	i int
}

func (p *extParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *extParser) token() (string, bool) {
	p.skipSpace()
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i], p.i > start
}

func (p *extParser) peek(c byte) bool {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *extParser) value() (string, bool) {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '"' {
		p.i++
		var b strings.Builder
		for p.i < len(p.s) {
			c := p.s[p.i]
			p.i++
			switch c {
			case '"':
				v := b.String()
				return v, isToken(v)
			case '\\':
				if p.i == len(p.s) {
					return "", false
				}
				c = p.s[p.i]
				p.i++
			}
			b.WriteByte(c)
		}
		return "", false
	}
	return p.token()
}

func (p *extParser) list() ([]ExtensionOffer, error) {
	var out []ExtensionOffer
	for {
		p.skipSpace()
		if p.i == len(p.s) {
			return out, nil
		}
		if p.peek(',') { // empty list element
			continue
		}
		name, ok := p.token()
		if !ok {
			return nil, ErrBadExtensionHeader
		}
		o := ExtensionOffer{Name: name}
		for p.peek(';') {
			pn, ok := p.token()
			if !ok {
				return nil, ErrBadExtensionHeader
			}
			param := ExtensionParam{Name: pn}
			if p.peek('=') {
				if param.Value, ok = p.value(); !ok {
					return nil, ErrBadExtensionHeader
				}
				param.HasValue = true
			}
			o.Params = append(o.Params, param)
		}
		out = append(out, o)
		p.skipSpace()
		if p.i < len(p.s) && !p.peek(',') {
			return nil, ErrBadExtensionHeader
		}
	}
}

package protocol

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrBadURL is wrapped by every error of ParseURL.
var ErrBadURL = errors.New("websocket: bad URL")

// Target is where a client connects, parsed from a WebSocket URL.
type Target struct {
	// TLS is true for wss:// (and https://).
	TLS bool
	// Addr is host:port to dial, with the scheme's default port if the URL
	// has none; IPv6 literals are bracketed.
	Addr string
	// ServerName is the host without port or brackets, for TLS.
	ServerName string
	// Host is the Host header: the URL's host, with its port if it had one.
	Host string
	// RequestURI is the path and query ("/" when empty).
	RequestURI string
	// User and Password come from the URL's userinfo, sent as
	// Authorization: Basic and never in Host.
	User, Password string
	HasUser        bool
}

// ParseURL parses a WebSocket URL (RFC 6455 §3): ws:// or wss://, with
// http:// and https:// taken as synonyms. Any other scheme, a missing host
// or a fragment is an error that wraps ErrBadURL and names the problem. Use
// wss:// whenever the page or client is served over HTTPS: browsers block
// ws:// from https:// pages as mixed content.
func ParseURL(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		if !strings.Contains(raw, "://") {
			return Target{}, urlError(raw, "has no scheme; use ws:// or wss://")
		}
		return Target{}, fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	var t Target
	port := "80"
	switch strings.ToLower(u.Scheme) {
	case "ws", "http":
	case "wss", "https":
		t.TLS, port = true, "443"
	case "":
		return Target{}, urlError(raw, "has no scheme; use ws:// or wss://")
	default:
		return Target{}, urlError(raw, "has scheme "+u.Scheme+"; a WebSocket URL is ws://, wss://, http:// or https://")
	}
	// "Fragment identifiers are meaningless in the context of WebSocket
	// URIs and MUST NOT be used on these URIs." (§3)
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return Target{}, urlError(raw, "has a fragment (#...), which WebSocket URLs must not have")
	}
	if u.Hostname() == "" {
		return Target{}, urlError(raw, "has no host")
	}
	t.ServerName = u.Hostname()
	t.Host = u.Host
	if p := u.Port(); p != "" {
		port = p
	}
	t.Addr = net.JoinHostPort(t.ServerName, port)
	t.RequestURI = u.RequestURI()
	if u.User != nil {
		t.HasUser = true
		t.User = u.User.Username()
		t.Password, _ = u.User.Password()
	}
	return t, nil
}

func urlError(raw, problem string) error {
	return &urlErr{"websocket: URL " + redact(raw) + " " + problem}
}

type urlErr struct{ msg string }

func (e *urlErr) Error() string        { return e.msg }
func (e *urlErr) Is(target error) bool { return target == ErrBadURL }

// redact hides a password in a URL quoted in an error.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return strings.Replace(raw, u.User.String()+"@", u.User.Username()+":xxxxx@", 1)
	}
	return raw
}

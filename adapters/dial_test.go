package adapters_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/protocol"
)

// A cookie jar gives the handshake its cookies and takes the ones the 101
// sets, as an http.Client would.
func TestDialCookieJar(t *testing.T) {
	checkLeaks(t)
	seen := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, _ := r.Cookie("session")
		if ck != nil {
			seen <- ck.Value
		} else {
			seen <- ""
		}
		c, err := adapters.Accept(w, r, &adapters.AcceptOptions{Server: adapters.ServerOptions{
			Header: http.Header{"Set-Cookie": {"session=s3cr3t; Path=/"}}}})
		if err == nil {
			c.Close(adapters.CloseNormal, "")
		}
	}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat"
	for i, want := range []string{"", "s3cr3t"} {
		c, resp, err := adapters.Dial(ctxT(t), url, &adapters.DialOptions{Jar: jar})
		if err != nil {
			t.Fatal(err)
		}
		if got := <-seen; got != want {
			t.Fatalf("dial %d: server saw cookie %q, want %q", i, got, want)
		}
		if len(resp.Cookies()) != 1 {
			t.Fatalf("101 cookies %v", resp.Cookies())
		}
		c.Read(ctxT(t))
	}
}

// Redirects are not followed: a 3xx is a handshake error that carries the
// response and its Location.
func TestDialDoesNotFollowRedirects(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer srv.Close()
	_, resp, err := adapters.Dial(ctxT(t), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	var he *adapters.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusFound || resp == nil || resp.Header.Get("Location") != "/elsewhere" {
		t.Fatalf("got %v, %+v", err, resp)
	}
}

// The scheme mixed up, both ways: wss:// to a plain server and ws:// to a
// TLS one fail with an error that says which scheme to use (design P5);
// the first still matches tls.RecordHeaderError, the second is the
// *protocol.HandshakeError of the server's 400.
func TestDialSchemeMixUps(t *testing.T) {
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	secure := httptest.NewTLSServer(http.NotFoundHandler())
	defer secure.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, _, err := adapters.Dial(ctx, "wss"+strings.TrimPrefix(plain.URL, "http"), nil)
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) || !strings.Contains(err.Error(), "use ws://, not wss://") {
		t.Fatalf("wss:// to a plain server: %v", err)
	}
	_, resp, err := adapters.Dial(ctx, "ws"+strings.TrimPrefix(secure.URL, "https"), nil)
	var he *protocol.HandshakeError
	if !errors.As(err, &he) || resp == nil || resp.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), "use wss://, not ws://") {
		t.Fatalf("ws:// to a TLS server: %v", err)
	}
}

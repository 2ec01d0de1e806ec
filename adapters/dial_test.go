package adapters_test

import (
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wsengine/ws/adapters"
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

package adapters_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
)

// tinyproxy starts Debian's tinyproxy on a loopback port with extra
// configuration lines and returns its http:// URL; it is stopped when the
// test ends.
func tinyproxy(t *testing.T, extra string) *url.URL {
	t.Helper()
	requirePeer(t, peer{name: "tinyproxy", check: func() error {
		_, err := exec.LookPath("tinyproxy")
		return err
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "tinyproxy.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("Port %d\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nAllow 127.0.0.1\nLogLevel Critical\n%s\n", port, extra)), 0o644)
	cmd := exec.Command("tinyproxy", "-d", "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("tinyproxy did not start")
		}
	}
	return &url.URL{Scheme: "http", Host: addr}
}

func proxyTo(u *url.URL) func(*http.Request) (*url.URL, error) {
	return func(*http.Request) (*url.URL, error) { return u, nil }
}

// ws:// and wss:// through a real HTTP CONNECT proxy (tinyproxy), with and
// without authentication; the proxy's refusals (407, 403) come back as
// ErrProxy with its response; a proxy that never answers is bounded by the
// open timeout.
func TestDialThroughProxy(t *testing.T) {
	checkLeaks(t)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(w, r, nil)
		if err == nil {
			echo(c)
		}
	}))
	defer plain.Close()
	secure := httptest.NewTLSServer(plain.Config.Handler)
	defer secure.Close()
	wsURL := "ws" + strings.TrimPrefix(plain.URL, "http")
	wssURL := "wss" + strings.TrimPrefix(secure.URL, "https")
	tlsConf := &tls.Config{RootCAs: certPool(secure)}

	open := tinyproxy(t, "")
	auth := tinyproxy(t, "BasicAuth alice s3cret")
	only443 := tinyproxy(t, "ConnectPort 443")
	withUser := *auth
	withUser.User = url.UserPassword("alice", "s3cret")

	roundTrip := func(t *testing.T, url string, p *url.URL) {
		t.Helper()
		ctx := ctxT(t)
		c, _, err := adapters.Dial(ctx, url, &adapters.DialOptions{Proxy: proxyTo(p), TLSConfig: tlsConf})
		if err != nil {
			t.Fatalf("through %s: %v", p.Redacted(), err)
		}
		c.Write(ctx, adapters.OpText, []byte("through the tunnel"))
		if _, msg, err := c.Read(ctx); err != nil || string(msg) != "through the tunnel" {
			t.Fatalf("echo %q %v", msg, err)
		}
		if err := c.Close(adapters.CloseNormal, ""); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("ws", func(t *testing.T) { roundTrip(t, wsURL, open) })
	t.Run("wss", func(t *testing.T) { roundTrip(t, wssURL, open) })
	t.Run("authenticated", func(t *testing.T) { roundTrip(t, wssURL, &withUser) })
	for _, tc := range []struct {
		name   string
		proxy  *url.URL
		status int
	}{{"407 without credentials", auth, http.StatusProxyAuthRequired}, {"403 port not allowed", only443, http.StatusForbidden}} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := adapters.Dial(ctxT(t), wsURL, &adapters.DialOptions{Proxy: proxyTo(tc.proxy)})
			if !errors.Is(err, adapters.ErrProxy) || resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("got %v, %+v", err, resp)
			}
		})
	}
	t.Run("never answers", func(t *testing.T) {
		silent := &url.URL{Scheme: "http", Host: silentListener(t)}
		cfg := adapters.Config{OpenTimeout: 300 * time.Millisecond}
		start := time.Now()
		_, _, err := adapters.Dial(context.Background(), wsURL, &adapters.DialOptions{Proxy: proxyTo(silent),
			Options: adapters.Options{Config: &cfg}})
		if !errors.Is(err, adapters.ErrOpenTimeout) || time.Since(start) > 2*time.Second {
			t.Fatalf("got %v after %v", err, time.Since(start))
		}
	})
}

func certPool(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

func TestEchoServer(t *testing.T) {
	srv := httptest.NewServer(Handler(t.Logf))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := protocol.DefaultConfig()
	cfg.MaxMessageSize = MaxMessageSize
	for _, path := range []string{"/", "/echo"} {
		c, _, err := adapters.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+path, &adapters.DialOptions{Options: adapters.Options{Config: &cfg}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct {
			op frame.Opcode
			p  []byte
		}{{frame.OpText, []byte("κόσμε")}, {frame.OpBinary, []byte{0, 1, 2}}, {frame.OpBinary, bytes.Repeat([]byte{7}, MaxMessageSize)}} {
			if err := c.Write(ctx, m.op, m.p); err != nil {
				t.Fatal(err)
			}
			op, p, err := c.Read(ctx)
			if err != nil || op != m.op || !bytes.Equal(p, m.p) {
				t.Fatalf("%s: echo of %v (%d bytes): %v %d bytes %v", path, m.op, len(m.p), op, len(p), err)
			}
		}
		if err := c.Close(frame.CloseNormal, ""); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(srv.URL + "/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`location.protocol === "https:" ? "wss:" : "ws:"`)) {
		t.Fatalf("page: %d %q", resp.StatusCode, body[:min(len(body), 200)])
	}
	// Other paths are not WebSocket endpoints.
	resp, err = http.Get(srv.URL + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/elsewhere: %d", resp.StatusCode)
	}
	// A plain GET of the echo endpoint is refused with 426.
	resp, err = http.Get(srv.URL + "/echo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "websocket" || !resp.Close ||
		resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("plain GET: %d %v close=%v", resp.StatusCode, resp.Header, resp.Close)
	}
}

func TestSelfSignedCertificate(t *testing.T) {
	cert, err := selfSigned()
	if err != nil || len(cert.Certificate) != 1 {
		t.Fatalf("%v", err)
	}
}

//go:build unix

package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
)

// Ctrl-C (SIGINT) or SIGTERM: every WebSocket gets 1001 "server shutting
// down", and the command exits, with status 0, only once their close
// handshakes are done. It used to exit as soon as it stopped accepting,
// and a client could see its connection end without the close frame
// (1006). The command runs as itself, in a child process of this test
// binary (commandEnv), with and without -loop, and with -tls, where half
// the clients are WebSockets over HTTP/2: a handler each, which the
// server waits for, and which -loop's server closes.
func TestSignalClosesWebSockets(t *testing.T) {
	tlsConfig := &tls.Config{InsecureSkipVerify: true} // the command's self-signed certificate
	for _, mode := range []string{"goroutines", "loop", "goroutines tls", "loop tls"} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(mode+"/"+sig.String(), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, os.Args[0])
				cmd.Env = append(os.Environ(), commandEnv+"="+mode, "GODEBUG=http2xconnect=1")
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer cmd.Process.Kill()
				line, err := bufio.NewReader(out).ReadString('\n')
				if err != nil {
					t.Fatalf("the command said %q: %v", line, err)
				}
				var url string
				for _, f := range strings.Fields(line) {
					if strings.HasPrefix(f, "ws://") || strings.HasPrefix(f, "wss://") {
						url = f
					}
				}
				h2 := adapters.NewHTTP2Client(&http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true})
				var conns []*adapters.Conn
				for i := range 8 {
					dopts := &adapters.DialOptions{TLSConfig: tlsConfig}
					if strings.HasSuffix(mode, "tls") && i%2 == 0 {
						dopts.HTTP2 = h2
					}
					c, resp, err := adapters.Dial(ctx, url, dopts)
					if err != nil {
						t.Fatal(err)
					}
					if dopts.HTTP2 != nil && resp.ProtoMajor != 2 {
						t.Fatalf("client %d over HTTP/%d", i, resp.ProtoMajor)
					}
					defer c.CloseNow()
					if err := c.Write(ctx, frame.OpText, []byte("hello")); err != nil {
						t.Fatal(err)
					}
					if _, p, err := c.Read(ctx); err != nil || string(p) != "hello" {
						t.Fatalf("echo: %q, %v", p, err)
					}
					conns = append(conns, c)
				}
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				for i, c := range conns {
					_, _, err := c.Read(ctx)
					if code := adapters.CloseCodeOf(err); code != adapters.CloseGoingAway || !strings.Contains(err.Error(), "server shutting down") {
						t.Errorf("client %d saw %v", i, err)
					}
				}
				if err := cmd.Wait(); err != nil {
					t.Fatalf("the command ended with %v", err)
				}
			})
		}
	}
}

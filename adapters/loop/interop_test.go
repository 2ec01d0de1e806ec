package loop_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
)

// Real peers (adapters/testdata/interop's scripts) as clients of a loop
// server: Python websockets, wsproto and Node's ws echo text and binary
// from 0 B to 4 MiB, ping, and close with 4000, with and without
// permessage-deflate; and each reads the message a server sent right
// before closing (/p1), then the 1000.
func TestInteropPeers(t *testing.T) {
	py := func(module string) error {
		if exec.Command("/usr/bin/python3", "-c", "import "+module).Run() != nil {
			return errors.New("apt-get install python3-" + module)
		}
		return nil
	}
	peers := []struct {
		name  string
		argv  []string
		check func() error
	}{
		{"python-websockets", []string{"/usr/bin/python3", "../testdata/interop/websockets_peer.py"}, func() error { return py("websockets") }},
		{"python-wsproto", []string{"/usr/bin/python3", "../testdata/interop/wsproto_peer.py"}, func() error { return py("wsproto") }},
		{"node-ws", []string{"node", "../testdata/interop/ws_peer.js"}, func() error {
			if _, err := os.Stat("../testdata/interop/node_modules/ws"); err != nil {
				return errors.New("run npm ci in adapters/testdata/interop")
			}
			return exec.Command("node", "--version").Run()
		}},
	}
	for _, compress := range []bool{true, false} {
		_, url, closes := serve(t, loop.Options{
			DisableCompression: !compress,
			Config:             &adapters.Config{MaxMessageSize: 16 << 20},
			SendLimit:          32 << 20,
			OnOpen: func(c *loop.Conn) {
				if c.Request().URL.Path == "/p1" {
					c.Send(frame.OpText, []byte("last message"))
					c.Close(frame.CloseNormal, "done")
				}
			},
			OnMessage: echo,
		})
		for _, p := range peers {
			t.Run(fmt.Sprintf("%s/compression=%v", p.name, compress), func(t *testing.T) {
				if err := p.check(); err != nil {
					if os.Getenv("WSENGINE_INTEROP") == "required" {
						t.Fatalf("%s is not installed: %v", p.name, err)
					}
					missingPeers.Note(p.name, err.Error())
					t.Skipf("%s is not installed: %v", p.name, err)
				}
				out := runPeer(t, p.argv, "client", "echo", url+"/echo")
				if strings.Contains(out, "permessage-deflate") != compress || !strings.Contains(out, "PONG") ||
					!strings.Contains(out, "CLOSED 4000") || strings.Contains(out, "FAIL") {
					t.Fatalf("peer said:\n%s", out)
				}
				if e := waitEnd(t, closes); adapters.CloseCodeOf(e.err) != 4000 || !e.c.CloseStatus().Clean {
					t.Fatalf("OnClose: %v", e.err)
				}
				out = runPeer(t, p.argv, "client", "p1", url+"/p1")
				if !strings.Contains(out, "MESSAGE last message") || !strings.Contains(out, "CLOSED 1000") {
					t.Fatalf("peer said:\n%s", out)
				}
				if e := waitEnd(t, closes); !adapters.IsClean(e.err) {
					t.Fatalf("OnClose: %v", e.err)
				}
			})
		}
	}
}

// runPeer runs a peer script to its end (at most a minute) and returns
// what it printed.
func runPeer(t *testing.T, argv []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v %v: %v\n%s\n%s", argv, args, err, out, stderr.String())
	}
	return string(out)
}

// Command nbioserver is the bench's nbio echo server ("nbio" row), run as a
// child process by package bench (StartServer), not by hand. It is a binary
// of its own because nbio's package init keeps half a megabyte live (a task
// pool): linked into the bench's test binary, it was in every process the
// bench runs, and the in-process rows (BenchmarkLoop) paid for it in
// garbage collection.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/wsengine/ws/bench"
)

func main() {
	bench.RunChildWith(serve)
	fmt.Fprintln(os.Stderr, "nbioserver: started by the bench (bench.StartServer), not by hand")
	os.Exit(2)
}

// serve runs nbio's echo server (IOModNonBlocking) on ln until ctx ends.
func serve(ctx context.Context, ln net.Listener, lib string, compress bool) error {
	if lib != "nbio" {
		return fmt.Errorf("nbioserver: no server %q", lib)
	}
	up := nbws.NewUpgrader()
	up.EnableCompression(compress)
	up.MessageLengthLimit = bench.MaxMessage
	up.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, data []byte) { c.WriteMessage(mt, data) })
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		Listen:  func(string, string) (net.Listener, error) { return ln, nil },
		IOMod:   nbhttp.IOModNonBlocking,
		MaxLoad: 1 << 20,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			up.Upgrade(w, r, nil)
		}),
		ReleaseWebsocketPayload: true,
	})
	if err := engine.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	engine.Stop()
	return nil
}

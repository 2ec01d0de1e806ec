package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// selftest is a page that joins one room twice, sends messages of several
// sizes (repetitive text, so that compression takes them) from both
// sockets, and reports to /result whether each socket got every message of
// the room, in order, intact.
const selftest = `<!doctype html><meta charset="utf-8"><script>
const sizes = [1, 125, 300, 4096, 65536, 1048576];
const msgs = [];
sizes.forEach((n, i) => msgs.push(("chat " + i + " ").repeat(Math.ceil(n / 8)).slice(0, n)));
const url = "ws://" + location.host + "/ws?room=browser";
const socks = [new WebSocket(url), new WebSocket(url)];
const got = [[], []];
let opened = 0, done = false;
function report(extra) {
  if (done) return; done = true;
  const ok = got.every(g => g.length === 2 * msgs.length && g.every((m, i) => m === msgs[i % msgs.length]));
  fetch("/result", {method: "POST", body: JSON.stringify(Object.assign({ok, counts: got.map(g => g.length),
    extensions: socks.map(s => s.extensions)}, extra || {}))});
}
socks.forEach((s, k) => {
  s.onopen = () => { if (++opened === 2) { msgs.forEach(m => socks[0].send(m)); } };
  s.onmessage = ev => {
    got[k].push(ev.data);
    // The first socket's messages are all back: the second sends hers.
    if (k === 0 && got[0].length === msgs.length) msgs.forEach(m => socks[1].send(m));
    if (got[0].length === 2 * msgs.length && got[1].length === 2 * msgs.length) report();
  };
  s.onerror = () => report({error: true});
  s.onclose = ev => report({closed: ev.code});
});
setTimeout(() => report({timeout: true}), 30000);
</script>`

type browserResult struct {
	OK         bool     `json:"ok"`
	Counts     []int    `json:"counts"`
	Extensions []string `json:"extensions"`
	Error      bool     `json:"error"`
	Closed     int      `json:"closed"`
	Timeout    bool     `json:"timeout"`
}

// Headless Chromium in a room: every message reaches both of its sockets
// intact, text from 1 B to 1 MiB, prepared once and compressed once per
// message for the room (Chromium offers permessage-deflate with context
// takeover; the server keeps no compression context, so it shares).
func TestChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("WSENGINE_INTEROP") == "required" {
			t.Fatal("chromium is not installed")
		}
		missingPeers.Note("chromium", "apt-get install chromium")
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	hub := NewHub(t.Logf)
	hub.opts.Config.MaxMessageSize = 2 << 20
	results := make(chan browserResult, 1)
	mux := http.NewServeMux()
	mux.Handle("/", Handler(hub))
	mux.HandleFunc("/selftest", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(selftest))
	})
	mux.HandleFunc("/result", func(w http.ResponseWriter, r *http.Request) {
		var res browserResult
		json.NewDecoder(r.Body).Decode(&res)
		select {
		case results <- res:
		default:
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	cmd := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-quic", "--user-data-dir="+t.TempDir(), "http://"+ln.Addr().String()+"/selftest")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	select {
	case res := <-results:
		if !res.OK {
			t.Fatalf("result %+v", res)
		}
		for _, ext := range res.Extensions {
			if !strings.HasPrefix(ext, "permessage-deflate") {
				t.Fatalf("extensions %q: compression not negotiated", res.Extensions)
			}
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("no result from Chromium; its output:\n%s", out.String())
	}
}

package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed testdata/selftest.html
var selftest []byte

// browserResult is what the self-test page reports.
type browserResult struct {
	URL      string `json:"url"`
	Opened   bool   `json:"opened"`
	Steps    []bool `json:"steps"`
	Code     int    `json:"code"`
	Reason   string `json:"reason"`
	WasClean bool   `json:"wasClean"`
	Error    bool   `json:"error"`
	// Extensions is the browser's WebSocket.extensions after opening.
	Extensions string `json:"extensions"`
}

// TestChromium drives headless Chromium against the echo server over ws
// and wss: the page sends text, binary, a 1 MB text and an empty message,
// checks the echoes, closes with 4000 and reports back.
func TestChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("WSENGINE_INTEROP") == "required" {
			t.Fatal("chromium is not installed")
		}
		t.Skip("chromium is not installed")
	}
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[useTLS], func(t *testing.T) {
			var mu sync.Mutex
			var logged []string
			results := make(chan browserResult, 1)
			mux := http.NewServeMux()
			mux.Handle("/", Handler(func(format string, args ...any) {
				mu.Lock()
				logged = append(logged, fmt.Sprintf(format, args...))
				mu.Unlock()
			}))
			mux.HandleFunc("/selftest", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Write(selftest)
			})
			mux.HandleFunc("/result", func(w http.ResponseWriter, r *http.Request) {
				var res browserResult
				json.NewDecoder(r.Body).Decode(&res)
				select {
				case results <- res:
				default:
				}
			})
			var srv *httptest.Server
			if useTLS {
				srv = httptest.NewTLSServer(mux)
			} else {
				srv = httptest.NewServer(mux)
			}
			defer srv.Close()

			cmd := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
				"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
				"--disable-quic", "--ignore-certificate-errors", "--user-data-dir="+t.TempDir(), srv.URL+"/selftest")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Kill()
				cmd.Wait()
			}()
			var res browserResult
			select {
			case res = <-results:
			case <-time.After(60 * time.Second):
				t.Fatalf("no result from Chromium; its output:\n%s", out.String())
			}
			wantScheme := map[bool]string{false: "ws://", true: "wss://"}[useTLS]
			if !strings.HasPrefix(res.URL, wantScheme) || !res.Opened || res.Error || len(res.Steps) != 4 {
				t.Fatalf("result %+v", res)
			}
			for i, ok := range res.Steps {
				if !ok {
					t.Fatalf("echo %d differed: %+v", i, res)
				}
			}
			// Chromium offers permessage-deflate and the echo server takes it.
			if !strings.HasPrefix(res.Extensions, "permessage-deflate") {
				t.Fatalf("extensions %q", res.Extensions)
			}
			if res.Code != 4000 || !res.WasClean {
				t.Fatalf("close: %+v", res)
			}
			// The server saw the browser's close code and reason.
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				seen := strings.Join(logged, "\n")
				mu.Unlock()
				if strings.Contains(seen, `4000 (private) "browser done"`) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("server log: %q", seen)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

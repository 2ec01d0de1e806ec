package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters/loop"
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
	// PlanLength is how many echoes the page checks.
	PlanLength int `json:"planLength"`
	// Extensions is the browser's WebSocket.extensions after opening.
	Extensions string `json:"extensions"`
}

// TestChromium drives headless Chromium against the echo server over ws,
// wss (HTTP/1.1) and wss over HTTP/2: the page sends text and binary
// messages from 0 B to 4 MiB, checks the echoes, closes with 4000 and
// reports back.
func TestChromium(t *testing.T) {
	browser := chromium(t)
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[useTLS], func(t *testing.T) {
			runChromium(t, browser, useTLS, 1)
		})
	}
}

// TestChromiumHTTP2 runs the page against `GODEBUG=http2xconnect=1 echo
// -tls`: Chromium sees extended CONNECT advertised and opens the WebSocket
// as a stream of the page's HTTP/2 connection (RFC 8441). The setting is
// read once at process start, so the test runs in a child process with it.
func TestChromiumHTTP2(t *testing.T) {
	browser := chromium(t)
	if inHTTP2Process(t, "TestChromiumHTTP2") {
		runChromium(t, browser, true, 2)
	}
}

// TestChromiumLoop runs the page against `echo -loop`: the page through
// net/http, the WebSocket on an event loop; and against `echo -tls -loop`,
// where net/http serves TLS and the WebSocket runs on the goroutine driver.
func TestChromiumLoop(t *testing.T) {
	browser := chromium(t)
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[useTLS], func(t *testing.T) {
			runChromiumOn(t, browser, useTLS, 1, true)
		})
	}
}

func chromium(t *testing.T) string {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("WSENGINE_INTEROP") == "required" {
			t.Fatal("chromium is not installed")
		}
		missingPeers.Note("chromium", "apt-get install chromium")
		t.Skip("chromium is not installed")
	}
	return browser
}

// runChromium serves the echo server as `echo` or `echo -tls` does and
// checks the page's report; the WebSocket must have used HTTP/protoMajor.
func runChromium(t *testing.T, browser string, useTLS bool, protoMajor int) {
	runChromiumOn(t, browser, useTLS, protoMajor, false)
}

// runChromiumOn is runChromium, against the -loop server when onLoop.
func runChromiumOn(t *testing.T, browser string, useTLS bool, protoMajor int, onLoop bool) {
	var mu sync.Mutex
	var logged []string
	var protos []int
	results := make(chan browserResult, 1)
	srv, err := NewServer(func(format string, args ...any) {
		mu.Lock()
		logged = append(logged, fmt.Sprintf(format, args...))
		mu.Unlock()
	}, useTLS)
	if err != nil {
		t.Fatal(err)
	}
	echo := srv.Handler
	mux := http.NewServeMux()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/echo" {
			mu.Lock()
			protos = append(protos, r.ProtoMajor)
			mu.Unlock()
		}
		echo.ServeHTTP(w, r)
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
	srv.Handler = mux
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if onLoop {
		logf := func(format string, args ...any) {
			mu.Lock()
			logged = append(logged, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
		opts := LoopOptions(logf)
		opts.HTTP = mux
		opts.OnOpen = func(c *loop.Conn) {
			mu.Lock()
			protos = append(protos, c.Request().ProtoMajor)
			mu.Unlock()
		}
		ls, err := loop.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer ls.Close()
		if useTLS {
			// As runLoop does with -tls: net/http serves TLS, and the loop
			// server takes the upgrades (on the goroutine driver).
			srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/echo" {
					ls.ServeHTTP(w, r)
					return
				}
				mux.ServeHTTP(w, r)
			})
			go Serve(srv, ln)
			defer srv.Close()
		} else {
			go ls.Serve(ln)
		}
	} else {
		go Serve(srv, ln)
		defer srv.Close()
	}
	pageURL := "http://" + ln.Addr().String() + "/selftest"
	if useTLS {
		pageURL = "https://" + ln.Addr().String() + "/selftest"
	}

	cmd := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-quic", "--ignore-certificate-errors", "--user-data-dir="+t.TempDir(), pageURL)
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
	case <-time.After(90 * time.Second):
		t.Fatalf("no result from Chromium; its output:\n%s", out.String())
	}
	wantScheme := map[bool]string{false: "ws://", true: "wss://"}[useTLS]
	if !strings.HasPrefix(res.URL, wantScheme) || !res.Opened || res.Error || res.PlanLength < 9 || len(res.Steps) != res.PlanLength {
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
	// The server saw the browser's close code and reason, over the
	// expected protocol.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		seen := strings.Join(logged, "\n")
		got := slices.Clone(protos)
		mu.Unlock()
		if strings.Contains(seen, `4000 (private) "browser done"`) {
			if !slices.Equal(got, []int{protoMajor}) {
				t.Fatalf("WebSockets over HTTP/%v, want one over HTTP/%d", got, protoMajor)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server log: %q", seen)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestChromiumLoopHTTP2 runs the page against `GODEBUG=http2xconnect=1
// echo -tls -loop`: the page and the WebSocket share one HTTP/2 connection
// (RFC 8441), which net/http serves; the loop server runs the WebSocket on
// the goroutine driver (a loop reads plain sockets only). It runs in a
// child process, as TestChromiumHTTP2 does.
func TestChromiumLoopHTTP2(t *testing.T) {
	browser := chromium(t)
	if inHTTP2Process(t, "TestChromiumLoopHTTP2") {
		runChromiumOn(t, browser, true, 2, true)
	}
}

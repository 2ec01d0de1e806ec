package bench

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wsengine/ws/frame"
)

func TestMain(m *testing.M) {
	RunChildIfAsked()
	os.Exit(m.Run())
}

func BenchmarkFrame(b *testing.B) {
	for _, lib := range []string{"wsengine", "gobwas"} {
		for _, size := range FrameSizes {
			b.Run(fmt.Sprintf("%s/%s", lib, SizeName(size)), FrameBench(lib, size))
		}
	}
}

// BenchmarkLoop: each server loop (LoopLibraries) echoing one message per
// op over a connection in memory: the server's own CPU and allocations
// per message in steady state, without the kernel's share or its noise.
func BenchmarkLoop(b *testing.B) {
	for _, compress := range []bool{false, true} {
		for _, lib := range LoopLibraries {
			for _, size := range EchoSizes {
				b.Run(fmt.Sprintf("deflate=%v/lib=%s/%s", compress, lib, SizeName(size)), LoopBench(lib, size, compress))
			}
		}
	}
}

// BenchmarkEcho: b.N round trips through each library's server, from the
// fixed client, over conns connections. msgs/s, p50/p99 and the server's
// allocations per message are reported.
func BenchmarkEcho(b *testing.B) {
	for _, compress := range []bool{false, true} {
		for _, lib := range Libraries {
			if compress && !SupportsDeflate(lib) {
				continue
			}
			for _, size := range EchoSizes {
				for _, conns := range []int{1, 64, 1000} {
					name := fmt.Sprintf("deflate=%v/%s/%s/conns=%d", compress, lib, SizeName(size), conns)
					b.Run(name, func(b *testing.B) {
						s, err := StartServer(lib, compress)
						if err != nil {
							b.Fatal(err)
						}
						defer s.Stop()
						cs, err := Dial(s, conns)
						if err != nil {
							b.Fatal(err)
						}
						defer closeAll(cs)
						// Every connection once, so buffers have grown.
						if _, err := Echo(s, cs, size, conns); err != nil {
							b.Fatal(err)
						}
						b.ResetTimer()
						r, err := Echo(s, cs, size, max(b.N, conns))
						if err != nil {
							b.Fatal(err)
						}
						b.ReportMetric(r.MsgsPerSec(), "msgs/s")
						b.ReportMetric(float64(r.P50.Microseconds()), "p50-µs")
						b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
						b.ReportMetric(r.AllocsMsg, "srv-allocs/msg")
						b.ReportMetric(r.BytesMsg, "srv-B/msg")
						b.ReportMetric(float64(r.CPUMsg.Nanoseconds())/1e3, "srv-cpu-µs/msg")
						b.ReportMetric(float64(r.UserMsg.Nanoseconds())/1e3, "srv-user-µs/msg")
						b.ReportMetric(float64(r.GCMsg.Nanoseconds())/1e3, "srv-gc-µs/msg")
					})
				}
			}
		}
	}
}

// TestSmoke runs every library's server through a short echo, with and
// without compression, and an idle-memory measurement. It asserts only that
// the work completed and the results are well-formed, never a timing: this
// is what CI runs.
func TestSmoke(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, lib := range Libraries {
			if compress && !SupportsDeflate(lib) {
				continue
			}
			t.Run(fmt.Sprintf("%s/deflate=%v", lib, compress), func(t *testing.T) {
				s, err := StartServer(lib, compress)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Stop()
				cs, err := Dial(s, 4)
				if err != nil {
					t.Fatal(err)
				}
				for _, size := range EchoSizes {
					r, err := Echo(s, cs, size, 40)
					if err != nil {
						t.Fatal(err)
					}
					if r.Messages != 40 || r.Elapsed <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.AllocsMsg < 0 || r.CPUMsg < 0 || r.UserMsg < 0 || r.UserMsg > r.CPUMsg || r.GCMsg < 0 {
						t.Fatalf("malformed result %+v", r)
					}
				}
				closeAll(cs)
				idle, err := Idle(s, 50)
				if err != nil {
					t.Fatal(err)
				}
				// 50 connections and finite numbers; a positive heap for
				// wsengine's own servers. Another library may free buffers
				// of the echo phase during the measurement, and at 50
				// connections that can make its heap delta negative (nbio
				// did, once in CI).
				finite := !math.IsNaN(idle.BytesConn) && !math.IsInf(idle.BytesConn, 0) &&
					!math.IsNaN(idle.RSSConn) && !math.IsInf(idle.RSSConn, 0)
				if idle.Conns != 50 || !finite || strings.HasPrefix(lib, "wsengine") && idle.BytesConn <= 0 {
					t.Fatalf("malformed idle result %+v", idle)
				}
			})
		}
	}
}

// BenchmarkTransport: b.N round trips through wsengine's Read/Write server
// from wsengine clients over HTTP/1.1 and over HTTP/2 (RFC 8441), TLS both.
func BenchmarkTransport(b *testing.B) {
	for _, transport := range Transports {
		for _, size := range EchoSizes {
			b.Run(fmt.Sprintf("%s/%s/conns=64", strings.ReplaceAll(transport, "/", ""), SizeName(size)), func(b *testing.B) {
				s, err := StartServer(TLSLib, false)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Stop()
				cs, err := DialTransport(s, 64, transport)
				if err != nil {
					b.Fatal(err)
				}
				defer CloseTransport(cs)
				if _, err := EchoTransport(s, cs, transport, size, 64); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				r, err := EchoTransport(s, cs, transport, size, max(b.N, 64))
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.MsgsPerSec(), "msgs/s")
				b.ReportMetric(float64(r.CPUMsg.Nanoseconds())/1e3, "srv-cpu-µs/msg")
				b.ReportMetric(r.AllocsMsg, "srv-allocs/msg")
			})
		}
	}
}

// TestTransportSmoke runs the HTTP/1.1 and HTTP/2 rows briefly: the
// WebSockets use the transport asked for (DialTransport checks the
// response's protocol), every echo completes, and the results are
// well-formed.
func TestTransportSmoke(t *testing.T) {
	s, err := StartServer(TLSLib, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for _, transport := range Transports {
		cs, err := DialTransport(s, 8, transport)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range EchoSizes {
			r, err := EchoTransport(s, cs, transport, size, 40)
			if err != nil {
				t.Fatal(err)
			}
			if r.Lib != transport || r.Messages != 40 || r.P50 <= 0 || r.P99 < r.P50 || r.CPUMsg < 0 {
				t.Fatalf("malformed result %+v", r)
			}
		}
		CloseTransport(cs)
	}
}

// TestLoop: every loop of BenchmarkLoop echoes each message exactly
// (unmasked text, in one frame or fragments, compressed or not as
// negotiated) on a connection in memory.
func TestLoop(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, lib := range LoopLibraries {
			for _, size := range EchoSizes {
				nc, run, err := newMemLoop(lib, compress, clientFrame(size, compress))
				if err != nil {
					t.Fatal(lib, err)
				}
				nc.keep = true
				if err := run(3); err != nil {
					t.Fatal(lib, size, compress, err)
				}
				out, want := nc.out, payload(size)
				for i := 0; i < 3; i++ {
					var got []byte
					rsv := uint8(0)
					for first := true; ; first = false {
						h, n, err := frame.ParseHeader(out)
						op := frame.OpContinuation
						if first {
							op, rsv = frame.OpText, h.Rsv
						}
						if err != nil || h.Opcode != op || h.Masked || !first && h.Rsv != 0 || len(out) < n+int(h.Length) {
							t.Fatalf("%s %d %v: message %d: header %+v (%v) in %d bytes", lib, size, compress, i, h, err, len(out))
						}
						got = append(got, out[n:n+int(h.Length)]...)
						out = out[n+int(h.Length):]
						if h.Fin {
							break
						}
					}
					if rsv == frame.Rsv1 {
						// Each message on its own: no context takeover.
						got, err = io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(got),
							bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))))
						if err != nil {
							t.Fatalf("%s %d: message %d: %v", lib, size, i, err)
						}
					}
					if rsv != 0 && (rsv != frame.Rsv1 || !compress) {
						t.Fatalf("%s %d %v: message %d: RSV %d", lib, size, compress, i, rsv)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("%s %d %v: message %d differs", lib, size, compress, i)
					}
				}
				if len(out) != 0 {
					t.Fatalf("%s %d: %d bytes more than three messages", lib, size, len(out))
				}
				nc.Close() // after the checks: OnMessage's goroutine waits for credit till then
			}
		}
	}
}

func TestFrameBenchRuns(t *testing.T) {
	for _, lib := range []string{"wsengine", "gobwas"} {
		r := testing.Benchmark(FrameBench(lib, 1<<10))
		if r.N == 0 || r.Bytes == 0 {
			t.Fatalf("%s: %+v", lib, r)
		}
	}
}

func TestReportWellFormed(t *testing.T) {
	r := &Report{Date: "d", Machine: "m", Command: "c",
		Frames: []FrameResult{{Lib: "wsengine", Size: 16, MBPerSec: 100}, {Lib: "gobwas", Size: 16, MBPerSec: 50}},
		Echo: []EchoResult{{Lib: "wsengine", Size: 16, Conns: 64, Messages: 10, Elapsed: 1e9, CPUMsg: 4000},
			{Lib: "gorilla", Size: 16, Conns: 64, Messages: 20, Elapsed: 1e9, CPUMsg: 2000}},
		Idle: []IdleResult{{Lib: "wsengine", Conns: 10, BytesConn: 1024}, {Lib: "gws", Conns: 10, BytesConn: 2048}},
		Transport: []EchoResult{{Lib: "HTTP/1.1", Size: 16, Conns: 64, Messages: 10, Elapsed: 1e9, CPUMsg: 4000},
			{Lib: "HTTP/2", Size: 16, Conns: 64, Messages: 15, Elapsed: 1e9, CPUMsg: 3000}},
		Broadcast: []BroadcastResult{{Lib: "wsengine", Conns: 100, Broadcasts: 10, Batch: 1, Elapsed: 1e9, CPUDelivered: 8000, UserDelivered: 2000, AllocsBroadcast: 50},
			{Lib: "gws", Conns: 100, Broadcasts: 10, Batch: 1, Elapsed: 1e9, CPUDelivered: 10000, UserDelivered: 3000, WritesDelivered: 0.25, AllocsBroadcast: 250, Runs: 3, Spread: 0.1}},
	}
	var md, svg strings.Builder
	r.WriteMarkdown(&md)
	r.WriteSVG(&svg, 64)
	for _, want := range []string{"| 16B | gobwas | 50 | – | 0.50 | 0 |", "| 16B | 64 | gorilla | 20 | – | 2.00 | 0 | 0 | 2.0 | 0.50 |", "| gws | 10 | 2.0 | 2.00 |",
		"| echo 16B, 64 conns, wsengine (OnMessage) | gorilla | 0.50 | – | – |",
		"| 16B | 64 | HTTP/2 | 15 | – | 1.50 | 0 | 0 | 3.0 | 0.75 |", "no peer row",
		"| false | 100 | 1 | gws | 10.0 | ±5% | 1.25 | 3.0 | 0.25 | 250 | 1000 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	// Bars with their values, and an axis with labelled ticks (0, 5, 10, ... 20).
	if !strings.HasPrefix(svg.String(), "<svg") || !strings.Contains(svg.String(), "gorilla 16B: 20 msgs/s") ||
		!strings.Contains(svg.String(), `text-anchor="end">20</text>`) || !strings.Contains(svg.String(), "wsengine (Read/Write)") {
		t.Errorf("svg: %s", svg.String())
	}
}

// A row is the median run, with its own latencies, and the spread of all.
func TestMedianEcho(t *testing.T) {
	runs := []EchoResult{
		{Lib: "x", Messages: 10, Elapsed: 1e9, P50: 1},
		{Lib: "x", Messages: 30, Elapsed: 1e9, P50: 3},
		{Lib: "x", Messages: 20, Elapsed: 1e9, P50: 2},
	}
	m := MedianEcho(runs)
	if m.Messages != 20 || m.P50 != 2 || m.Runs != 3 || m.Spread != 1 {
		t.Fatalf("median %+v, want the 20-message run with spread 1", m)
	}
	if m := MedianEcho(runs[:2]); m.Messages != 10 || m.Spread != 2 {
		t.Fatalf("even count: %+v, want the lower middle run, spread 2", m)
	}
}

// A fan-out row is the run with the median CPU per delivery.
func TestMedianBroadcast(t *testing.T) {
	runs := []BroadcastResult{{AllocsBroadcast: 1, CPUDelivered: 9}, {AllocsBroadcast: 2, CPUDelivered: 3}, {AllocsBroadcast: 3, CPUDelivered: 6}}
	if m := MedianBroadcast(runs); m.AllocsBroadcast != 3 || m.Runs != 3 || m.Spread != 1 {
		t.Fatalf("median %+v, want the 6-CPU run with spread 1", m)
	}
}

// Behind finds the rows more than 10% behind, throughput and memory, and
// nothing else.
func TestBehind(t *testing.T) {
	r := &Report{
		Frames: []FrameResult{{Lib: "wsengine", Size: 16, MBPerSec: 95}, {Lib: "gobwas", Size: 16, MBPerSec: 100},
			{Lib: "wsengine", Size: 1024, MBPerSec: 80}, {Lib: "gobwas", Size: 1024, MBPerSec: 100}},
		Echo: []EchoResult{{Lib: "wsengine", Size: 16, Conns: 1, Messages: 100, Elapsed: 1e9},
			{Lib: "gws", Size: 16, Conns: 1, Messages: 150, Elapsed: 1e9},
			{Lib: "wsengine", Compress: true, Size: 16, Conns: 1, Messages: 100, Elapsed: 1e9},
			{Lib: "gws", Size: 16, Conns: 1, Compress: true, Messages: 105, Elapsed: 1e9},
			{Lib: "wsengine-rw", Compress: true, Size: 16, Conns: 1, Messages: 90, Elapsed: 1e9}},
		Idle: []IdleResult{{Lib: "wsengine", BytesConn: 2000}, {Lib: "gobwas", BytesConn: 1000}},
	}
	var got []string
	for _, g := range r.Behind(0.9) {
		got = append(got, fmt.Sprintf("%s/%s/%.2f", g.Row, g.Fastest, g.Ratio))
	}
	want := []string{"frame 1KiB/gobwas/0.80", "echo 16B, 1 conns, wsengine (OnMessage)/gws/0.67",
		"echo 16B, 1 conns, wsengine (Read/Write), deflate/gws/0.86", "idle memory/gobwas/0.50"}
	if !slices.Equal(got, want) {
		t.Fatalf("Behind = %q, want %q", got, want)
	}
}

// BenchmarkBroadcast: b.N text messages of 1 KiB (JSON-like) sent to every
// one of conns connections by each library's fan-out (BroadcastLibraries),
// with and without compression, one at a time (batch=1: every client has a
// message before the next is sent) or ten at a time (batch=10, a busy
// feed). It reports the server's CPU per delivered message and allocations
// per broadcast, and deliveries per second.
func BenchmarkBroadcast(b *testing.B) {
	for _, compress := range []bool{false, true} {
		for _, lib := range BroadcastLibraries {
			for _, conns := range []int{1000, 10000} {
				for _, batch := range []int{1, 10} {
					b.Run(fmt.Sprintf("deflate=%v/%s/conns=%d/batch=%d", compress, lib, conns, batch), func(b *testing.B) {
						if uint64(conns)+100 > FileLimit() {
							b.Skipf("%d connections need more open files than the limit, %d", conns, FileLimit())
						}
						s, err := StartBroadcastServer(lib, compress)
						if err != nil {
							b.Fatal(err)
						}
						defer s.Stop()
						r, err := RunBroadcast(s, conns, max(b.N, 10), batch, 1<<10)
						if err != nil {
							b.Fatal(err)
						}
						b.ReportMetric(float64(r.CPUDelivered.Nanoseconds())/1e3, "srv-cpu-µs/delivered")
						b.ReportMetric(float64(r.UserDelivered.Nanoseconds())/1e3, "srv-user-µs/delivered")
						b.ReportMetric(r.AllocsBroadcast, "srv-allocs/broadcast")
						b.ReportMetric(r.WritesDelivered, "srv-writes/delivered")
						b.ReportMetric(r.Delivered(), "delivered/s")
					})
				}
			}
		}
	}
}

// TestBroadcastSmoke runs every fan-out server once, with and without
// compression, over 20 connections: it asserts only that every message
// reached every client and the results are well formed.
func TestBroadcastSmoke(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, lib := range BroadcastLibraries {
			t.Run(fmt.Sprintf("%s/deflate=%v", lib, compress), func(t *testing.T) {
				s, err := StartBroadcastServer(lib, compress)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Stop()
				r, err := RunBroadcast(s, 20, 15, 5, 1<<10)
				if err != nil {
					t.Fatal(err)
				}
				if r.Lib != lib || r.Broadcasts != 15 || r.Elapsed <= 0 || r.CPUDelivered < 0 || r.UserDelivered < 0 || r.UserDelivered > r.CPUDelivered || r.AllocsBroadcast < 0 {
					t.Fatalf("malformed result %+v", r)
				}
				// Every message went out in a write; at most five (a batch) in one.
				if runtime.GOOS == "linux" && (r.WritesDelivered < 1.0/5 || r.WritesDelivered > 2) {
					t.Fatalf("%.3f write system calls per delivered message", r.WritesDelivered)
				}
			})
		}
	}
}

// BenchmarkIdle: the server's memory per idle connection, each after one
// 1 KiB echo, at WSENGINE_IDLE_CONNS connections (15,000 by default, less
// if the file limit is lower): heap and stacks after a GC, and the growth
// of the resident set, which is what a machine pays. Run it with
// -benchtime=1x; b.N does not matter.
//
//	go test -run '^$' -bench 'Idle/lib=(wsengine-loop|nbio)$' -benchtime=1x
func BenchmarkIdle(b *testing.B) {
	n := 15000
	if v, err := strconv.Atoi(os.Getenv("WSENGINE_IDLE_CONNS")); err == nil && v > 0 {
		n = v
	}
	n = min(n, int(FileLimit())-500)
	for _, lib := range Libraries {
		b.Run("lib="+lib, func(b *testing.B) {
			s, err := StartServer(lib, false)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Stop()
			var r IdleResult
			for range b.N {
				if r, err = Idle(s, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(r.BytesConn, "heap-B/conn")
			b.ReportMetric(r.RSSConn, "rss-B/conn")
			b.ReportMetric(r.RSSFloorConn, "rss-floor-B/conn")
			b.ReportMetric(float64(r.Goroutines)/float64(n), "goroutines/conn")
			b.ReportMetric(float64(n), "conns")
		})
	}
}

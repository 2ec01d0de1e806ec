package bench

import (
	"fmt"
	"os"
	"strings"
	"testing"
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
					if r.Messages != 40 || r.Elapsed <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.AllocsMsg < 0 {
						t.Fatalf("malformed result %+v", r)
					}
				}
				closeAll(cs)
				idle, err := Idle(s, 50)
				if err != nil {
					t.Fatal(err)
				}
				if idle.Conns != 50 || idle.BytesConn <= 0 {
					t.Fatalf("malformed idle result %+v", idle)
				}
			})
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
		Echo: []EchoResult{{Lib: "wsengine", Size: 16, Conns: 64, Messages: 10, Elapsed: 1e9},
			{Lib: "gorilla", Size: 16, Conns: 64, Messages: 20, Elapsed: 1e9}},
		Idle: []IdleResult{{Lib: "wsengine", Conns: 10, BytesConn: 1024}, {Lib: "gws", Conns: 10, BytesConn: 2048}},
	}
	var md, svg strings.Builder
	r.WriteMarkdown(&md)
	r.WriteSVG(&svg, 64)
	for _, want := range []string{"| 16B | gobwas | 50 | 0.50 | 0 |", "| 16B | 64 | gorilla | 20 | 2.00 |", "| gws | 10 | 2.0 | 2.00 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if !strings.HasPrefix(svg.String(), "<svg") || !strings.Contains(svg.String(), "gorilla 16B: 20 msgs/s") {
		t.Errorf("svg: %s", svg.String())
	}
}

// Command report runs the comparison of wsengine with gorilla, coder, gobwas
// and gws, and writes results/RESULTS.md and results/echo.svg.
//
//	cd bench && go run ./cmd/report -short   # under 5 minutes on 2 cores
//	cd bench && go run ./cmd/report          # the full run (1,000 connections, 10,000 idle)
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/bench"
)

func main() {
	bench.RunChildIfAsked()
	testing.Init()
	short := flag.Bool("short", false, "a quicker run: fewer messages, up to 64 connections, 1,000 idle")
	out := flag.String("out", "results", "directory for RESULTS.md and echo.svg")
	flag.Parse()

	cmd := "cd bench && go run ./cmd/report"
	if *short {
		cmd += " -short"
	}
	r := &bench.Report{Date: time.Now().UTC().Format("2006-01-02"), Machine: machine(), Command: cmd}
	start := time.Now()

	for _, lib := range []string{"wsengine", "gobwas"} {
		for _, size := range bench.FrameSizes {
			res := testing.Benchmark(bench.FrameBench(lib, size))
			r.Frames = append(r.Frames, bench.FrameResult{Lib: lib, Size: size,
				MBPerSec: float64(res.Bytes) * float64(res.N) / res.T.Seconds() / 1e6, AllocsPerOp: res.AllocsPerOp()})
			log.Printf("frame %s %s: %s", lib, bench.SizeName(size), res)
		}
	}

	connSets := []int{1, 64, 1000}
	if *short {
		connSets = []int{1, 64}
	}
	for _, compress := range []bool{false, true} {
		for _, lib := range bench.Libraries {
			if compress && !bench.SupportsDeflate(lib) {
				continue
			}
			s, err := bench.StartServer(lib, compress)
			if err != nil {
				log.Fatal(err)
			}
			for _, conns := range connSets {
				cs, err := bench.Dial(s, conns)
				if err != nil {
					log.Fatal(err)
				}
				for _, size := range bench.EchoSizes {
					n := messages(size, conns, *short)
					bench.Echo(s, cs, size, min(n, 200)) // warm up
					e, err := bench.Echo(s, cs, size, n)
					if err != nil {
						log.Fatal(err)
					}
					r.Echo = append(r.Echo, e)
					log.Printf("echo deflate=%v %s %s conns=%d: %.0f msgs/s p50 %v p99 %v %.1f allocs/msg",
						compress, lib, bench.SizeName(size), conns, e.MsgsPerSec(), e.P50, e.P99, e.AllocsMsg)
				}
				for _, c := range cs {
					c.Close()
				}
			}
			s.Stop()
		}
	}

	idle := 10000
	if *short {
		idle = 1000
	}
	// Both ends live on this machine: each needs a file descriptor.
	idle = min(idle, int(bench.FileLimit())/2-200)
	for _, lib := range bench.Libraries {
		s, err := bench.StartServer(lib, false)
		if err != nil {
			log.Fatal(err)
		}
		i, err := bench.Idle(s, idle)
		if err != nil {
			log.Fatal(err)
		}
		r.Idle = append(r.Idle, i)
		log.Printf("idle %s: %.1f KiB/conn", lib, i.BytesConn/1024)
		s.Stop()
	}

	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	md, err := os.Create(filepath.Join(*out, "RESULTS.md"))
	if err != nil {
		log.Fatal(err)
	}
	r.WriteMarkdown(md)
	md.Close()
	svg, err := os.Create(filepath.Join(*out, "echo.svg"))
	if err != nil {
		log.Fatal(err)
	}
	r.WriteSVG(svg, 64)
	svg.Close()
	fmt.Printf("wrote %s and %s in %v\n", md.Name(), svg.Name(), time.Since(start).Round(time.Second))
}

// messages per echo run: enough for stable rates, fewer for large messages
// and in short mode.
func messages(size, conns int, short bool) int {
	n := 20000
	if size >= 64<<10 {
		n = 3000
	}
	if short {
		n /= 5
	}
	return max(n, 2*conns)
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	nproc, _ := exec.Command("nproc").Output()
	return fmt.Sprintf("%s cores (`nproc`), %s, %s", strings.TrimSpace(string(nproc)), cpu, runtime.Version())
}

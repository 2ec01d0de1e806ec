// Command report runs the comparison of wsengine with gorilla, coder, gobwas
// and gws, and writes results/RESULTS.md and results/echo.svg.
//
//	cd bench && go run ./cmd/report -short   # under 5 minutes on 2 cores
//	cd bench && go run ./cmd/report          # the full run (1,000 connections, 10,000 idle and members)
//
// Every row is run several times (-rounds), libraries in a rotated order
// each round, and reported as the median run with the range of all runs.
// -only frame,echo,transport,idle,broadcast picks sections, for profiling
// one of them. The fan-out section runs at most 3 rounds: its 10,000-member
// rows take a quarter of a minute each.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/bench"
)

const allSections = "frame,echo,transport,idle,broadcast"

func main() {
	bench.RunChildIfAsked()
	testing.Init()
	short := flag.Bool("short", false, "a quicker run: fewer messages, up to 64 connections, 1,000 idle")
	out := flag.String("out", "results", "directory for RESULTS.md and echo.svg")
	rounds := flag.Int("rounds", 0, "runs of every row, reported as the median (default 5, 3 with -short)")
	only := flag.String("only", allSections, "sections to run, comma-separated (for profiling one part)")
	flag.Parse()
	run := func(section string) bool { return slices.Contains(strings.Split(*only, ","), section) }

	cmd := "cd bench && go run ./cmd/report"
	if *short {
		cmd += " -short"
	}
	if *rounds != 0 {
		cmd += fmt.Sprintf(" -rounds %d", *rounds)
	} else if *rounds = 5; *short {
		*rounds = 3
	}
	if *only != allSections {
		cmd += " -only " + *only
	}
	r := &bench.Report{Date: time.Now().UTC().Format("2006-01-02"), Machine: machine(), Command: cmd}
	start := time.Now()

	connSets := []int{1, 64, 1000}
	if *short {
		connSets = []int{1, 64}
	}
	// Rounds: every row is measured once per round, libraries in a rotated
	// order each time, and reported as the median; the machine's drift then
	// lands on every library alike.
	frames := map[string][]bench.FrameResult{}
	echoes := map[string][]bench.EchoResult{}
	transports := map[string][]bench.EchoResult{}
	for round := range *rounds {
		if run("transport") {
			// 64 connections: one TCP connection each over HTTP/1.1, one
			// for all over HTTP/2.
			s, err := bench.StartServer(bench.TLSLib, false)
			if err != nil {
				log.Fatal(err)
			}
			for _, transport := range rotate(bench.Transports, round) {
				cs, err := bench.DialTransport(s, 64, transport)
				if err != nil {
					log.Fatal(err)
				}
				for _, size := range bench.EchoSizes {
					n := messages(size, 64, *short)
					bench.EchoTransport(s, cs, transport, size, max(min(n, 200), 64))
					e, err := bench.EchoTransport(s, cs, transport, size, n)
					if err != nil {
						log.Fatal(err)
					}
					k := fmt.Sprint(transport, size)
					transports[k] = append(transports[k], e)
					log.Printf("round %d transport %s %s conns=64: %.0f msgs/s p50 %v p99 %v %.1f allocs/msg %.1f µs CPU/msg",
						round+1, transport, bench.SizeName(size), e.MsgsPerSec(), e.P50, e.P99, e.AllocsMsg, float64(e.CPUMsg.Nanoseconds())/1e3)
				}
				bench.CloseTransport(cs)
			}
			s.Stop()
		}
		if run("frame") {
			for _, lib := range rotate([]string{"wsengine", "gobwas"}, round) {
				for _, size := range bench.FrameSizes {
					res := testing.Benchmark(bench.FrameBench(lib, size))
					k := fmt.Sprint(lib, size)
					frames[k] = append(frames[k], bench.FrameResult{Lib: lib, Size: size,
						MBPerSec: float64(res.Bytes) * float64(res.N) / res.T.Seconds() / 1e6, AllocsPerOp: res.AllocsPerOp()})
					log.Printf("round %d frame %s %s: %s", round+1, lib, bench.SizeName(size), res)
				}
			}
		}
		if !run("echo") {
			continue
		}
		for _, compress := range []bool{false, true} {
			for _, lib := range rotate(bench.Libraries, round) {
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
						bench.Echo(s, cs, size, max(min(n, 200), conns)) // warm up every connection
						e, err := bench.Echo(s, cs, size, n)
						if err != nil {
							log.Fatal(err)
						}
						k := fmt.Sprint(lib, compress, size, conns)
						echoes[k] = append(echoes[k], e)
						log.Printf("round %d echo deflate=%v %s %s conns=%d: %.0f msgs/s p50 %v p99 %v %.1f allocs/msg",
							round+1, compress, lib, bench.SizeName(size), conns, e.MsgsPerSec(), e.P50, e.P99, e.AllocsMsg)
					}
					for _, c := range cs {
						c.Close()
					}
				}
				s.Stop()
			}
		}
	}
	broadcasts := map[string][]bench.BroadcastResult{}
	members, perRow := []int{1000, 10000}, 100
	if *short {
		members, perRow = []int{1000}, 30
	}
	members = slices.DeleteFunc(members, func(n int) bool { return uint64(n)+100 > bench.FileLimit() })
	for round := range min(*rounds, 3) {
		if !run("broadcast") {
			break
		}
		for _, compress := range []bool{false, true} {
			for _, lib := range rotate(bench.BroadcastLibraries, round) {
				for _, conns := range members {
					for _, batch := range []int{1, 10} {
						s, err := bench.StartBroadcastServer(lib, compress)
						if err != nil {
							log.Fatal(err)
						}
						b, err := bench.RunBroadcast(s, conns, perRow, batch, 1<<10)
						s.Stop()
						if err != nil {
							log.Fatal(err)
						}
						k := fmt.Sprint(lib, compress, conns, batch)
						broadcasts[k] = append(broadcasts[k], b)
						log.Printf("round %d broadcast deflate=%v %s members=%d batch=%d: %.1f µs CPU/delivery, %.0f allocs/broadcast",
							round+1, compress, lib, conns, batch, float64(b.CPUDelivered.Nanoseconds())/1e3, b.AllocsBroadcast)
					}
				}
			}
		}
	}
	for _, compress := range []bool{false, true} {
		for _, conns := range members {
			for _, batch := range []int{1, 10} {
				for _, lib := range bench.BroadcastLibraries {
					if runs := broadcasts[fmt.Sprint(lib, compress, conns, batch)]; len(runs) > 0 {
						r.Broadcast = append(r.Broadcast, bench.MedianBroadcast(runs))
					}
				}
			}
		}
	}

	// Rows in a fixed order: library, then conns, then size.
	for _, lib := range []string{"wsengine", "gobwas"} {
		for _, size := range bench.FrameSizes {
			if runs := frames[fmt.Sprint(lib, size)]; len(runs) > 0 {
				r.Frames = append(r.Frames, bench.MedianFrame(runs))
			}
		}
	}
	for _, compress := range []bool{false, true} {
		for _, lib := range bench.Libraries {
			for _, conns := range connSets {
				for _, size := range bench.EchoSizes {
					if runs := echoes[fmt.Sprint(lib, compress, size, conns)]; len(runs) > 0 {
						r.Echo = append(r.Echo, bench.MedianEcho(runs))
					}
				}
			}
		}
	}

	for _, transport := range bench.Transports {
		for _, size := range bench.EchoSizes {
			if runs := transports[fmt.Sprint(transport, size)]; len(runs) > 0 {
				r.Transport = append(r.Transport, bench.MedianEcho(runs))
			}
		}
	}

	idle := 10000
	if *short {
		idle = 1000
	}
	// Both ends live on this machine: each needs a file descriptor.
	idle = min(idle, int(bench.FileLimit())/2-200)
	for _, lib := range bench.Libraries {
		if !run("idle") {
			break
		}
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

// rotate returns libs starting at index round (mod len).
func rotate(libs []string, round int) []string {
	k := round % len(libs)
	return append(slices.Clone(libs[k:]), libs[:k]...)
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

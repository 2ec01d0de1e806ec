package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const childEnv = "WSENGINE_BENCH_SERVER"

// RunChildIfAsked runs an echo server and exits when this process was
// started as a benchmark child; otherwise it returns at once. Call it first
// in TestMain and in main.
func RunChildIfAsked() { RunChildWith(Serve) }

// RunChildWith is RunChildIfAsked for a binary with servers of its own
// (cmd/nbioserver): serve runs the echo server of the library named.
func RunChildWith(serve func(ctx context.Context, ln net.Listener, lib string, compress bool) error) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	exit := 1
	defer func() { os.Exit(exit) }() // after the profile is written
	lib, compress, _ := strings.Cut(spec, ",")
	raiseFileLimit()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	stats, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	statsMux := http.NewServeMux()
	statsMux.HandleFunc("/stats", serveStats)
	var rm *room // a broadcast server's
	if b, ok := strings.CutPrefix(lib, broadcastPrefix); ok {
		rm = newRoom(b, compress == "deflate")
		statsMux.HandleFunc("/broadcast", rm.serveBroadcast)
	}
	go http.Serve(stats, statsMux)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		bufio.NewReader(os.Stdin).ReadString('\n') // the parent closes stdin to stop us
		cancel()
	}()
	// WSENGINE_BENCH_CPUPROFILE=dir: each server child writes
	// dir/<lib>-<mode>-<pid>.cpu.pprof, for `go tool pprof`.
	if dir := os.Getenv("WSENGINE_BENCH_CPUPROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s-%d.cpu.pprof", lib, compress, os.Getpid())))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	// WSENGINE_BENCH_MEMPROFILE=dir: every allocation is sampled and
	// dir/<lib>-<mode>-<pid>.mem.pprof written at exit (-sample_index=alloc_space).
	if dir := os.Getenv("WSENGINE_BENCH_MEMPROFILE"); dir != "" {
		runtime.MemProfileRate = 1
		defer func() {
			runtime.GC() // the profile holds what was allocated up to the last collection
			if f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s-%d.mem.pprof", lib, compress, os.Getpid()))); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	fmt.Println("ADDR", ln.Addr(), stats.Addr())
	if rm != nil {
		srv := &http.Server{Handler: rm.handler()}
		go func() { <-ctx.Done(); srv.Close() }()
		srv.Serve(ln)
	} else {
		if err := serve(ctx, ln, lib, compress == "deflate"); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			return
		}
	}
	exit = 0
}

// Stats is a child's memory, allocation and CPU counters.
type Stats struct {
	Mallocs, TotalAlloc, HeapInuse, StackInuse uint64
	Goroutines                                 int
	// CPU is the user + system time the child used so far (its rusage):
	// on a machine whose cores the client shares, a steadier figure than
	// messages per second.
	CPU time.Duration
	// User is the user-time part of CPU: the library's own code and the
	// Go runtime's. The system part is mostly the kernel's work for the
	// socket reads and writes, about the same for every library and 70-80%
	// of CPU on loopback, where most of the noise of runs is too.
	User time.Duration
	// GC is the part of it the garbage collector's marking took (its
	// assists, dedicated and idle workers; runtime/metrics, updated at
	// the end of each cycle): what a server's allocations per message
	// cost beyond the allocations themselves.
	GC time.Duration
	// RSS is the process's resident set (VmRSS), what the kernel counts:
	// heap, stacks, the runtime's own and what the GC has not returned.
	RSS uint64
	// Writes is the write system calls the process made so far (syscw in
	// /proc/self/io; 0 where there is none): how many messages a server
	// gives the kernel in one call.
	Writes uint64
}

func serveStats(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") != "" {
		runtime.GC()
		runtime.GC()
	}
	if r.URL.Query().Get("scavenge") != "" {
		debug.FreeOSMemory() // every free page back to the OS
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	cpu, user := cpuTimes()
	json.NewEncoder(w).Encode(Stats{m.Mallocs, m.TotalAlloc, m.HeapInuse, m.StackInuse, runtime.NumGoroutine(), cpu, user, gcMarkCPU(), rss(), procField("/proc/self/io", "syscw")})
}

// rss reads VmRSS from /proc/self/status (0 where there is none).
func rss() uint64 { return procField("/proc/self/status", "VmRSS") << 10 } // in kB there

// procField reads the number on the line "name: N" of a /proc file (0
// where there is none): VmRSS in status, syscw in io.
func procField(path, name string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// Server is a library's echo server running in a child process.
type Server struct {
	Lib      string
	Compress bool
	Addr     string
	stats    string
	cmd      *exec.Cmd
	stop     func() error
}

// StartServer starts lib's echo server in a child process.
func StartServer(lib string, compress bool) (*Server, error) {
	exe, err := os.Executable()
	if lib == "nbio" {
		exe, err = nbioServer()
	}
	if err != nil {
		return nil, err
	}
	mode := "plain"
	if compress {
		mode = "deflate"
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+lib+","+mode)
	if lib == TLSLib {
		// net/http's HTTP/2 server takes WebSockets (extended CONNECT)
		// only with this, read once at process start.
		cmd.Env = append(cmd.Env, "GODEBUG=http2xconnect=1")
	}
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 || f[0] != "ADDR" {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("bench: %s server did not start: %q %v", lib, line, err)
	}
	s := &Server{Lib: lib, Compress: compress, Addr: f[1], stats: f[2], cmd: cmd}
	s.stop = func() error {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			return <-done
		}
	}
	return s, nil
}

// Stats reads the child's counters, after a GC when gc is true.
func (s *Server) Stats(gc bool) (Stats, error) {
	if gc {
		return s.stats0("?gc=1")
	}
	return s.stats0("")
}

func (s *Server) stats0(query string) (Stats, error) {
	resp, err := http.Get("http://" + s.stats + "/stats" + query)
	if err != nil {
		return Stats{}, err
	}
	defer resp.Body.Close()
	var st Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// StatsFloor reads the child's counters after a GC and after its runtime
// returned every free page to the OS (debug.FreeOSMemory): its RSS is then
// what live memory needs, without the pages that the garbage of earlier
// work left resident (how many depends on when the collector last ran).
func (s *Server) StatsFloor() (Stats, error) { return s.stats0("?gc=1&scavenge=1") }

// Stop ends the child.
func (s *Server) Stop() error { return s.stop() }

// raiseFileLimit lifts the soft limit on open files to the hard limit.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// FileLimit returns the soft limit on open files after raising it.
func FileLimit() uint64 {
	raiseFileLimit()
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}

var errShort = errors.New("bench: echo differs")

// gcMarkCPU returns the CPU time the GC's marking used so far. (The
// runtime's pause figure is left out: it is GOMAXPROCS times the pause's
// wall time, an estimate, not CPU used.)
func gcMarkCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/mark/assist:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/dedicated:cpu-seconds"}, {Name: "/cpu/classes/gc/mark/idle:cpu-seconds"}}
	metrics.Read(s)
	var sec float64
	for _, v := range s {
		sec += v.Value.Float64()
	}
	return time.Duration(sec * 1e9)
}

// cpuTimes returns the user + system time this process used so far, and
// the user part, from one reading.
func cpuTimes() (total, user time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Utime.Nano())
}

// processCPU returns the user + system time this process used so far.
func processCPU() time.Duration {
	total, _ := cpuTimes()
	return total
}

// errNbioApart is Serve's answer for nbio, whose server is cmd/nbioserver.
var errNbioApart = errors.New("bench: nbio's server is cmd/nbioserver, a binary of its own")

// nbioServer returns the path of cmd/nbioserver, built once per process
// with the go command from this package's source directory (a few seconds
// once the build cache has nbio), or WSENGINE_BENCH_NBIO when set. Why nbio
// is a binary of its own: the command's doc.
func nbioServer() (string, error) {
	nbioOnce.Do(func() {
		if p := os.Getenv("WSENGINE_BENCH_NBIO"); p != "" {
			nbioPath = p
			return
		}
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			nbioErr = errors.New("bench: no source directory to build cmd/nbioserver in")
			return
		}
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		dir = filepath.Join(dir, "wsengine-bench")
		if nbioErr = os.MkdirAll(dir, 0o755); nbioErr != nil {
			return
		}
		out := filepath.Join(dir, "nbioserver")
		build := exec.Command("go", "build", "-o", out, "./cmd/nbioserver")
		build.Dir = filepath.Dir(file)
		if msg, err := build.CombinedOutput(); err != nil {
			nbioErr = fmt.Errorf("bench: building cmd/nbioserver: %v\n%s", err, msg)
			return
		}
		nbioPath = out
	})
	return nbioPath, nbioErr
}

var (
	nbioOnce sync.Once
	nbioPath string
	nbioErr  error
)

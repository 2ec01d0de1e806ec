package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	gorilla "github.com/gorilla/websocket"
)

// EchoResult is one loopback echo run against one server.
type EchoResult struct {
	Lib       string
	Compress  bool
	Size      int
	Conns     int
	Messages  int // completed round trips
	Elapsed   time.Duration
	P50, P99  time.Duration
	AllocsMsg float64       // server allocations per message
	BytesMsg  float64       // server bytes allocated per message
	CPUMsg    time.Duration // server CPU time (user + system) per message
	UserMsg   time.Duration // the user-time part of CPUMsg (see Stats.User)
	GCMsg     time.Duration // the part of CPUMsg the GC's marking took
	// Runs and Spread are set by MedianEcho: how many runs the row is the
	// median of, and their msgs/s range as a fraction of the median.
	Runs   int
	Spread float64
}

// MsgsPerSec is the completed round trips per second.
func (r EchoResult) MsgsPerSec() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

// payload returns n bytes of text, so text messages are valid UTF-8 and
// compressible like real traffic.
func payload(n int) []byte {
	return bytes.Repeat([]byte(`{"type":"tick","v":123},`), n/24+1)[:n]
}

// Dial opens conns connections of the fixed client (gorilla) to s.
func Dial(s *Server, conns int) ([]*gorilla.Conn, error) {
	d := gorilla.Dialer{EnableCompression: s.Compress, HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}
	out := make([]*gorilla.Conn, 0, conns)
	for i := 0; i < conns; i++ {
		c, _, err := d.Dial("ws://"+s.Addr+"/", http.Header{})
		if err != nil {
			for _, c := range out {
				c.Close()
			}
			return nil, fmt.Errorf("bench: dial %s (%d of %d): %w", s.Lib, i, conns, err)
		}
		c.SetReadLimit(MaxMessage)
		out = append(out, c)
	}
	return out, nil
}

// Echo sends messages text messages of size bytes spread over conns and
// waits for each echo before the next on the same connection.
func Echo(s *Server, conns []*gorilla.Conn, size, messages int) (EchoResult, error) {
	return echo(s, len(conns), size, messages, func(i int, msg []byte) ([]byte, error) {
		c := conns[i]
		if err := c.WriteMessage(gorilla.TextMessage, msg); err != nil {
			return nil, err
		}
		_, got, err := c.ReadMessage()
		return got, err
	})
}

// echo runs messages round trips of size bytes over conns connections,
// roundTrip(i, msg) being one on connection i.
func echo(s *Server, conns, size, messages int, roundTrip func(i int, msg []byte) ([]byte, error)) (EchoResult, error) {
	msg := payload(size)
	per := make([][]time.Duration, conns)
	errs := make([]error, conns)
	before, err := s.Stats(false)
	if err != nil {
		return EchoResult{}, err
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		n := messages / conns
		if i < messages%conns {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, n)
			for k := 0; k < n; k++ {
				t := time.Now()
				got, err := roundTrip(i, msg)
				if err != nil {
					errs[i] = err
					return
				}
				if !bytes.Equal(got, msg) {
					errs[i] = errShort
					return
				}
				lat = append(lat, time.Since(t))
			}
			per[i] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := s.Stats(false)
	if err != nil {
		return EchoResult{}, err
	}
	for _, e := range errs {
		if e != nil {
			return EchoResult{}, fmt.Errorf("bench: %s echo: %w", s.Lib, e)
		}
	}
	var all []time.Duration
	for _, l := range per {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := EchoResult{Lib: s.Lib, Compress: s.Compress, Size: size, Conns: conns, Messages: len(all), Elapsed: elapsed}
	if len(all) > 0 {
		r.P50, r.P99 = all[len(all)/2], all[len(all)*99/100]
		// The stats requests themselves allocate a little: negligible
		// against thousands of messages.
		r.AllocsMsg = float64(after.Mallocs-before.Mallocs) / float64(len(all))
		r.BytesMsg = float64(after.TotalAlloc-before.TotalAlloc) / float64(len(all))
		r.CPUMsg = (after.CPU - before.CPU) / time.Duration(len(all))
		r.UserMsg = (after.User - before.User) / time.Duration(len(all))
		r.GCMsg = (after.GC - before.GC) / time.Duration(len(all))
	}
	return r, nil
}

// IdleResult is the memory a server holds per idle connection.
type IdleResult struct {
	Lib       string
	Conns     int
	BytesConn float64 // heap and goroutine stacks per connection, after GC
	RSSConn   float64 // growth of the server's resident set per connection
	// RSSFloorConn is that growth once the runtime returned every free
	// page (Server.StatsFloor): steadier from run to run than RSSConn,
	// which counts garbage of the connections' setup that the runtime
	// kept resident, more or less depending on when the collector ran.
	RSSFloorConn float64
	// Goroutines is the growth of the server's goroutine count.
	Goroutines int
}

// Idle opens n connections to s, lets them sit, and measures the server.
func Idle(s *Server, n int) (IdleResult, error) {
	before, err := s.StatsFloor()
	if err != nil {
		return IdleResult{}, err
	}
	conns, err := Dial(s, n)
	if err != nil {
		return IdleResult{}, err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Every connection echoes one 1 KiB message first: buffers that a
	// message makes and idleness releases are counted as released.
	if _, err := Echo(s, conns, 1<<10, n); err != nil {
		return IdleResult{}, err
	}
	// Wait until the server has a goroutine (or more) per connection; an
	// event-loop server has none to wait for.
	deadline := time.Now().Add(10 * time.Second)
	for !EventLoop(s.Lib) {
		st, err := s.Stats(false)
		if err != nil || st.Goroutines >= before.Goroutines+n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Idle means silent for a while: 1.5 s, past wsengine's one second
	// before it parks a waiting read (the other libraries do not change).
	time.Sleep(1500 * time.Millisecond)
	after, err := s.Stats(true)
	if err != nil {
		return IdleResult{}, err
	}
	floor, err := s.StatsFloor()
	if err != nil {
		return IdleResult{}, err
	}
	used := float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)
	return IdleResult{Lib: s.Lib, Conns: n, BytesConn: used / float64(n),
		RSSConn:      (float64(after.RSS) - float64(before.RSS)) / float64(n),
		RSSFloorConn: (float64(floor.RSS) - float64(before.RSS)) / float64(n),
		Goroutines:   after.Goroutines - before.Goroutines}, nil
}

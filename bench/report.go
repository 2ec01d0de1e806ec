package bench

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// FrameResult is one frame-level benchmark.
type FrameResult struct {
	Lib          string
	Size         int
	MBPerSec     float64
	AllocsPerOp  int64
	NsPerFrameOp float64
	Runs         int     // set by MedianFrame
	Spread       float64 // (max-min)/median MB/s over the runs
}

// MedianEcho returns the run with the median msgs/s (its latencies and
// allocations come with it, from the same run), with Runs and Spread set.
// The machine's noise is larger than many of the differences measured, so
// rows are medians of runs made in rotating order.
func MedianEcho(runs []EchoResult) EchoResult {
	m, spread := median(runs, EchoResult.MsgsPerSec)
	m.Runs, m.Spread = len(runs), spread
	return m
}

// MedianBroadcast is MedianEcho for fan-out runs, by CPU per delivery.
func MedianBroadcast(runs []BroadcastResult) BroadcastResult {
	m, spread := median(runs, func(b BroadcastResult) float64 { return float64(b.CPUDelivered) })
	m.Runs, m.Spread = len(runs), spread
	return m
}

// MedianFrame is MedianEcho for frame-level runs.
func MedianFrame(runs []FrameResult) FrameResult {
	m, spread := median(runs, func(f FrameResult) float64 { return f.MBPerSec })
	m.Runs, m.Spread = len(runs), spread
	return m
}

// median returns the element with the median value (the lower middle one
// for an even count) and the spread (max-min)/median.
func median[T any](runs []T, value func(T) float64) (T, float64) {
	if len(runs) == 0 {
		var zero T
		return zero, 0
	}
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b T) int { return cmp.Compare(value(a), value(b)) })
	m := sorted[(len(sorted)-1)/2]
	lo, hi := value(sorted[0]), value(sorted[len(sorted)-1])
	if value(m) == 0 {
		return m, 0
	}
	return m, (hi - lo) / value(m)
}

// spread formats a spread as ±half of it, the way benchstat shows a range.
func spread(s float64, runs int) string {
	if runs < 2 {
		return "–"
	}
	return fmt.Sprintf("±%.0f%%", 50*s)
}

// Report is everything one run measured.
type Report struct {
	Date, Machine, Command string
	Frames                 []FrameResult
	Echo                   []EchoResult
	Idle                   []IdleResult
	// Transport is wsengine over HTTP/1.1 and HTTP/2 (Lib is the
	// transport).
	Transport []EchoResult
	Broadcast []BroadcastResult
}

// WriteMarkdown writes the tables, with every number also as a ratio to
// wsengine's on the same row (above 1.00 means more than wsengine), and the
// list of rows where wsengine is more than 10% behind the fastest.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# wsengine vs gorilla, coder, gobwas, gws\n\n%s on %s, with `%s`.\n\n", r.Date, r.Machine, r.Command)
	fmt.Fprintf(w, "Ratios are to wsengine (OnMessage) on the same row: for msgs/s and MB/s above 1.00 means faster than wsengine; for latency, allocations and memory above 1.00 means more. ")
	fmt.Fprintf(w, "Each row is the median of its runs (libraries in rotating order each round); ± is half the range of those runs, the machine's noise on that row.\n\n")

	fmt.Fprintf(w, "## Frame level: parse + unmask + UTF-8 check, from memory\n\n| payload | library | MB/s | ± | ratio | allocs/op |\n|---|---|---|---|---|---|\n")
	for _, f := range r.Frames {
		base := r.frame("wsengine", f.Size)
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %d |\n", SizeName(f.Size), f.Lib, f.MBPerSec, spread(f.Spread, f.Runs), ratio(f.MBPerSec, base.MBPerSec), f.AllocsPerOp)
	}
	for _, compress := range []bool{false, true} {
		title := "Loopback echo"
		if compress {
			title += " with permessage-deflate"
		}
		fmt.Fprintf(w, "\n## %s (fixed client: gorilla; text messages)\n\n", title)
		fmt.Fprintf(w, "| size | conns | library | msgs/s | ± | ratio | p50 µs | p99 µs | server CPU µs/msg | ratio | server allocs/msg | server B/msg |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, e := range r.Echo {
			if e.Compress != compress {
				continue
			}
			base := r.echo("wsengine", compress, e.Size, e.Conns)
			fmt.Fprintf(w, "| %s | %d | %s | %.0f | %s | %s | %d | %d | %.1f | %s | %.1f | %.0f |\n", SizeName(e.Size), e.Conns, libLabel(e.Lib),
				e.MsgsPerSec(), spread(e.Spread, e.Runs), ratio(e.MsgsPerSec(), base.MsgsPerSec()), e.P50.Microseconds(), e.P99.Microseconds(),
				float64(e.CPUMsg.Nanoseconds())/1e3, ratio(float64(e.CPUMsg), float64(base.CPUMsg)), e.AllocsMsg, e.BytesMsg)
		}
	}
	fmt.Fprintf(w, "\n## Memory per idle connection (server process, heap + goroutine stacks, after GC)\n\n| library | connections | KiB/conn | ratio |\n|---|---|---|---|\n")
	for _, i := range r.Idle {
		base := r.idle("wsengine")
		fmt.Fprintf(w, "| %s | %d | %.1f | %s |\n", i.Lib, i.Conns, i.BytesConn/1024, ratio(i.BytesConn, base.BytesConn))
	}
	if len(r.Transport) > 0 {
		fmt.Fprintf(w, "\n## WebSocket over HTTP/2 (RFC 8441) vs HTTP/1.1 (wsengine both ends, TLS, Read/Write server; text messages)\n\n")
		fmt.Fprintf(w, "Over HTTP/1.1 every WebSocket has a TCP and TLS connection of its own; over HTTP/2 all are streams of one. No other Go library speaks RFC 8441, so there is no peer row: the ratio is to wsengine over HTTP/1.1.\n\n")
		fmt.Fprintf(w, "| size | conns | transport | msgs/s | ± | ratio | p50 µs | p99 µs | server CPU µs/msg | ratio | server allocs/msg | server B/msg |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, e := range r.Transport {
			base := r.transport(Transports[0], e.Size, e.Conns)
			fmt.Fprintf(w, "| %s | %d | %s | %.0f | %s | %s | %d | %d | %.1f | %s | %.1f | %.0f |\n", SizeName(e.Size), e.Conns, e.Lib,
				e.MsgsPerSec(), spread(e.Spread, e.Runs), ratio(e.MsgsPerSec(), base.MsgsPerSec()), e.P50.Microseconds(), e.P99.Microseconds(),
				float64(e.CPUMsg.Nanoseconds())/1e3, ratio(float64(e.CPUMsg), float64(base.CPUMsg)), e.AllocsMsg, e.BytesMsg)
		}
	}
	if len(r.Broadcast) > 0 {
		fmt.Fprintf(w, "\n## Fan-out: one 1 KiB text message to every member (BroadcastLibraries' fan-out; server CPU per delivery)\n\n")
		fmt.Fprintf(w, "batch=1: every client has a message before the next is sent; batch=10: ten are sent before the clients must have them. wsengine and wsengine-loop call `Broadcast` with a prepared message, gorilla writes a `PreparedMessage` to each member, gws uses its `Broadcaster`, coder calls `Write` on each. The ratio is to wsengine (goroutines) on the same row; user µs is the part of the CPU spent outside the kernel; writes/delivery is the server's write system calls per delivered message (below 1 when several messages to a member go out in one).\n\n")
		fmt.Fprintf(w, "| deflate | members | batch | library | server CPU µs/delivery | ± | ratio | user µs/delivery | writes/delivery | allocs/broadcast | deliveries/s |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, b := range r.Broadcast {
			base := r.broadcast("wsengine", b.Compress, b.Conns, b.Batch)
			fmt.Fprintf(w, "| %v | %d | %d | %s | %.1f | %s | %s | %.1f | %.2f | %.0f | %.0f |\n", b.Compress, b.Conns, b.Batch, b.Lib,
				float64(b.CPUDelivered.Nanoseconds())/1e3, spread(b.Spread, b.Runs), ratio(float64(b.CPUDelivered), float64(base.CPUDelivered)),
				float64(b.UserDelivered.Nanoseconds())/1e3, b.WritesDelivered, b.AllocsBroadcast, b.Delivered())
		}
	}
	behind := r.Behind(0.9)
	fmt.Fprintf(w, "\n## Rows where wsengine is more than 10%% behind the fastest\n\n")
	if len(behind) == 0 {
		fmt.Fprintf(w, "None.\n")
		return
	}
	fmt.Fprintf(w, "| row | best | wsengine vs best (throughput: wsengine ÷ best; memory: best ÷ wsengine) | ± wsengine | ± best |\n|---|---|---|---|---|\n")
	for _, b := range behind {
		fmt.Fprintf(w, "| %s | %s | %.2f | %s | %s |\n", b.Row, b.Fastest, b.Ratio, spread(b.Spread, b.Runs), spread(b.FastestSpread, b.Runs))
	}
}

// Gap is a row where wsengine is behind the fastest library.
type Gap struct {
	Row, Fastest          string
	Ratio                 float64 // wsengine / fastest
	Spread, FastestSpread float64
	Runs                  int
}

// Behind lists the rows (frame level, echo, idle memory) where wsengine's
// throughput is below within times the fastest's, or its idle memory above
// 1/within times the smallest.
func (r *Report) Behind(within float64) []Gap {
	var gaps []Gap
	for _, size := range FrameSizes {
		base := r.frame("wsengine", size)
		best := base
		for _, f := range r.Frames {
			if f.Size == size && f.MBPerSec > best.MBPerSec {
				best = f
			}
		}
		if base.MBPerSec > 0 && base.MBPerSec < within*best.MBPerSec {
			gaps = append(gaps, Gap{Row: "frame " + SizeName(size), Fastest: best.Lib, Ratio: base.MBPerSec / best.MBPerSec,
				Spread: base.Spread, FastestSpread: best.Spread, Runs: base.Runs})
		}
	}
	for _, e := range r.Echo {
		if !strings.HasPrefix(e.Lib, "wsengine") {
			continue
		}
		best := e
		for _, o := range r.Echo {
			if o.Compress == e.Compress && o.Size == e.Size && o.Conns == e.Conns && o.MsgsPerSec() > best.MsgsPerSec() {
				best = o
			}
		}
		if e.MsgsPerSec() < within*best.MsgsPerSec() {
			row := fmt.Sprintf("echo %s, %d conns, %s", SizeName(e.Size), e.Conns, libLabel(e.Lib))
			if e.Compress {
				row += ", deflate"
			}
			gaps = append(gaps, Gap{Row: row, Fastest: best.Lib, Ratio: e.MsgsPerSec() / best.MsgsPerSec(),
				Spread: e.Spread, FastestSpread: best.Spread, Runs: e.Runs})
		}
	}
	base := r.idle("wsengine")
	for _, i := range r.Idle {
		if base.BytesConn > 0 && i.BytesConn > 0 && i.BytesConn < within*base.BytesConn {
			gaps = append(gaps, Gap{Row: "idle memory", Fastest: i.Lib, Ratio: i.BytesConn / base.BytesConn, Runs: 1})
		}
	}
	return gaps
}

func ratio(v, base float64) string {
	if base == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v/base)
}

func (r *Report) frame(lib string, size int) FrameResult {
	for _, f := range r.Frames {
		if f.Lib == lib && f.Size == size {
			return f
		}
	}
	return FrameResult{}
}

func (r *Report) echo(lib string, compress bool, size, conns int) EchoResult {
	for _, e := range r.Echo {
		if e.Lib == lib && e.Compress == compress && e.Size == size && e.Conns == conns {
			return e
		}
	}
	return EchoResult{}
}

func (r *Report) broadcast(lib string, compress bool, conns, batch int) BroadcastResult {
	for _, b := range r.Broadcast {
		if b.Lib == lib && b.Compress == compress && b.Conns == conns && b.Batch == batch {
			return b
		}
	}
	return BroadcastResult{}
}

func (r *Report) transport(name string, size, conns int) EchoResult {
	for _, e := range r.Transport {
		if e.Lib == name && e.Size == size && e.Conns == conns {
			return e
		}
	}
	return EchoResult{}
}

func (r *Report) idle(lib string) IdleResult {
	for _, i := range r.Idle {
		if i.Lib == lib {
			return i
		}
	}
	return IdleResult{}
}

// WriteSVG draws messages per second of the plain echo at conns
// connections: one panel per message size, each with its own axis (the
// sizes differ by an order of magnitude), one bar per library.
func (r *Report) WriteSVG(w io.Writer, conns int) {
	colors := map[string]string{"wsengine": "#1f77b4", "wsengine-rw": "#17becf", "wsengine-stream": "#aec7e8", "wsengine-append": "#9edae5",
		"gorilla": "#ff7f0e", "gorilla-rw": "#ffbb78", "coder": "#2ca02c", "gobwas": "#d62728", "gws": "#9467bd"}
	const width, height, top, bottom, axisW = 900, 416, 40, 86, 52
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14">Loopback echo, %d connections, text messages: messages/s (median of rounds)</text>`+"\n", conns)
	plotH := float64(height - top - bottom)
	panelW := float64(width-10) / float64(len(EchoSizes))
	for g, size := range EchoSizes {
		var row []EchoResult
		best := 0.0
		for _, lib := range Libraries {
			if e := r.echo(lib, false, size, conns); e.Messages > 0 {
				row = append(row, e)
				best = math.Max(best, e.MsgsPerSec())
			}
		}
		x0 := 10 + float64(g)*panelW + axisW
		step := niceStep(best / 4)
		top2 := step * math.Ceil(best/step)
		for v := 0.0; v <= top2+step/2; v += step {
			y := float64(top) + plotH - plotH*v/top2
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n",
				x0, y, x0+panelW-axisW-10, y, x0-4, y+4, tick(v))
		}
		barW := (panelW - axisW - 10) / float64(len(Libraries))
		for i, e := range row {
			h := plotH * e.MsgsPerSec() / top2
			x := x0 + float64(i)*barW
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.0f msgs/s</title></rect>`+"\n",
				x, float64(top)+plotH-h, barW*0.85, h, colors[e.Lib], e.Lib, SizeName(e.Size), e.MsgsPerSec())
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333"/>`+"\n", x0, top, x0, top+int(plotH))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12">%s messages</text>`+"\n", x0+10, height-bottom+18, SizeName(size))
	}
	for i, lib := range Libraries {
		x := 10 + (i%4)*220
		y := height - 48 + (i/4)*16 // three rows of four
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x, y, colors[lib], x+14, y+9, libLabel(lib))
	}
	b.WriteString("</svg>\n")
	io.WriteString(w, b.String())
}

// libLabel names a library's row for people.
func libLabel(lib string) string {
	switch lib {
	case "wsengine":
		return "wsengine (OnMessage)"
	case "wsengine-rw":
		return "wsengine (Read/Write)"
	case "wsengine-stream":
		return "wsengine (Reader/Writer)"
	case "wsengine-append":
		return "wsengine (ReadAppend/Write)"
	case "gorilla-rw":
		return "gorilla (ReadMessage/WriteMessage)"
	}
	return lib
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func tick(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.0fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

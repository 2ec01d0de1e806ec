package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// FrameResult is one frame-level benchmark.
type FrameResult struct {
	Lib          string
	Size         int
	MBPerSec     float64
	AllocsPerOp  int64
	NsPerFrameOp float64
}

// Report is everything one run measured.
type Report struct {
	Date, Machine, Command string
	Frames                 []FrameResult
	Echo                   []EchoResult
	Idle                   []IdleResult
}

// WriteMarkdown writes the tables, with every number also as a ratio to
// wsengine's on the same row (above 1.00 means more than wsengine).
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# wsengine vs gorilla, coder, gobwas, gws\n\n%s on %s, with `%s`.\n\n", r.Date, r.Machine, r.Command)
	fmt.Fprintf(w, "Ratios are to wsengine on the same row: for msgs/s and MB/s above 1.00 means faster than wsengine; for latency, allocations and memory above 1.00 means more.\n\n")

	fmt.Fprintf(w, "## Frame level: parse + unmask + UTF-8 check, from memory\n\n| payload | library | MB/s | ratio | allocs/op |\n|---|---|---|---|---|\n")
	for _, f := range r.Frames {
		base := r.frame("wsengine", f.Size)
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %d |\n", SizeName(f.Size), f.Lib, f.MBPerSec, ratio(f.MBPerSec, base.MBPerSec), f.AllocsPerOp)
	}
	for _, compress := range []bool{false, true} {
		title := "Loopback echo"
		if compress {
			title += " with permessage-deflate"
		}
		fmt.Fprintf(w, "\n## %s (fixed client: gorilla; text messages)\n\n", title)
		fmt.Fprintf(w, "| size | conns | library | msgs/s | ratio | p50 µs | p99 µs | server allocs/msg | server B/msg |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, e := range r.Echo {
			if e.Compress != compress {
				continue
			}
			base := r.echo("wsengine", compress, e.Size, e.Conns)
			fmt.Fprintf(w, "| %s | %d | %s | %.0f | %s | %d | %d | %.1f | %.0f |\n", SizeName(e.Size), e.Conns, e.Lib,
				e.MsgsPerSec(), ratio(e.MsgsPerSec(), base.MsgsPerSec()), e.P50.Microseconds(), e.P99.Microseconds(), e.AllocsMsg, e.BytesMsg)
		}
	}
	fmt.Fprintf(w, "\n## Memory per idle connection (server process, heap + goroutine stacks, after GC)\n\n| library | connections | KiB/conn | ratio |\n|---|---|---|---|\n")
	for _, i := range r.Idle {
		base := r.idle("wsengine")
		fmt.Fprintf(w, "| %s | %d | %.1f | %s |\n", i.Lib, i.Conns, i.BytesConn/1024, ratio(i.BytesConn, base.BytesConn))
	}
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

func (r *Report) idle(lib string) IdleResult {
	for _, i := range r.Idle {
		if i.Lib == lib {
			return i
		}
	}
	return IdleResult{}
}

// WriteSVG draws messages per second of the plain echo at conns
// connections, grouped by message size, one bar per library.
func (r *Report) WriteSVG(w io.Writer, conns int) {
	colors := map[string]string{"wsengine": "#1f77b4", "gorilla": "#ff7f0e", "coder": "#2ca02c", "gobwas": "#d62728", "gws": "#9467bd"}
	const width, height, left, top, bottom = 720, 360, 70, 40, 50
	var rows [][]EchoResult
	for _, size := range EchoSizes {
		var row []EchoResult
		for _, lib := range Libraries {
			if e := r.echo(lib, false, size, conns); e.Messages > 0 {
				row = append(row, e)
			}
		}
		rows = append(rows, row)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">Loopback echo, %d connections: messages/s relative to the fastest per size</text>`+"\n", left, conns)
	plotH := float64(height - top - bottom)
	groupW := float64(width-left-20) / float64(len(rows))
	for g, row := range rows {
		best := 0.0
		for _, e := range row {
			best = math.Max(best, e.MsgsPerSec())
		}
		barW := groupW / float64(len(Libraries)+1)
		for i, e := range row {
			h := plotH * e.MsgsPerSec() / best
			x := float64(left) + float64(g)*groupW + float64(i)*barW
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.0f msgs/s</title></rect>`+"\n",
				x, float64(top)+plotH-h, barW*0.9, h, colors[e.Lib], e.Lib, SizeName(e.Size), e.MsgsPerSec())
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s (best %.0f/s)</text>`+"\n", float64(left)+float64(g)*groupW, height-bottom+18, SizeName(EchoSizes[g]), best)
	}
	for i, lib := range Libraries {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", left+i*110, height-18, colors[lib], left+i*110+14, height-9, lib)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", left-5, top+int(plotH), width-10, top+int(plotH))
	b.WriteString("</svg>\n")
	io.WriteString(w, b.String())
}

// Command plot draws the benchmark summary written by cmd/report as two
// PNGs: rps_vs_conns.png shows median requests/s against the connection
// count for the echo scenarios of the most common message size (64 B in
// the full run), and mem_per_conn.png shows server resident memory growth
// per idle connection against the connection count; each has one line per
// server and a logarithmic x axis. A chart with no data is skipped with a
// note.
//
//	plot -in results/latest.json -outdir results
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/smolgo/smol/bench/internal/result"
)

func main() {
	in := flag.String("in", "results/latest.json", "summary JSON written by cmd/report")
	outdir := flag.String("outdir", "results", "directory for the PNGs")
	flag.Parse()

	b, err := os.ReadFile(*in)
	if err != nil {
		fatal(err)
	}
	var s result.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		fatal(fmt.Errorf("%s: %w", *in, err))
	}
	if err := os.MkdirAll(*outdir, 0o755); err != nil {
		fatal(err)
	}

	// Requests/s: echo groups of the most frequent message size.
	sizeCount := map[int]int{}
	for _, g := range s.Groups {
		if g.Mode == "echo" && g.Rounds > 0 {
			sizeCount[g.Size]++
		}
	}
	size, best := 0, 0
	for sz, n := range sizeCount {
		if n > best || (n == best && sz < size) {
			size, best = sz, n
		}
	}
	rps := series(s.Groups, func(g result.Group) (float64, bool) {
		return g.RPS, g.Mode == "echo" && g.Size == size
	})
	draw1(rps, fmt.Sprintf("Echo ping-pong, %d B messages, server on one core", size),
		"requests/s (median)", filepath.Join(*outdir, "rps_vs_conns.png"), s, chartOpts{})

	// Memory per idle connection.
	mem := series(s.Groups, func(g result.Group) (float64, bool) {
		return g.BytesConn, g.Mode == "idle"
	})
	draw1(mem, "Server memory per idle connection (RSS growth / connections)",
		"bytes per connection (median, log scale)", filepath.Join(*outdir, "mem_per_conn.png"), s,
		chartOpts{logY: true, ref: 500, refLabel: "budget 500 B"})
}

// series collects, per server in order of appearance, the (conns, value)
// points of the groups that pick selects.
func series(groups []result.Group, pick func(result.Group) (float64, bool)) (out []named) {
	idx := map[string]int{}
	for _, g := range groups {
		v, ok := pick(g)
		if !ok || g.Rounds == 0 || v <= 0 {
			continue
		}
		i, seen := idx[g.Server]
		if !seen {
			i = len(out)
			idx[g.Server] = i
			out = append(out, named{name: g.Server})
		}
		out[i].pts = append(out[i].pts, plotter.XY{X: float64(g.Conns), Y: v})
	}
	for i := range out {
		sort.Slice(out[i].pts, func(a, b int) bool { return out[i].pts[a].X < out[i].pts[b].X })
	}
	return out
}

type named struct {
	name string
	pts  plotter.XYs
}

// chartOpts are the per-chart differences.
type chartOpts struct {
	logY     bool    // logarithmic y axis (memory spans 400 B to 12 KB)
	ref      float64 // if > 0, a dashed horizontal reference line at this y
	refLabel string
}

// draw1 renders one chart, or says why it did not.
func draw1(ss []named, title, ylabel, path string, s result.Summary, o chartOpts) {
	if len(ss) == 0 {
		fmt.Fprintf(os.Stderr, "plot: no data for %s, skipped\n", filepath.Base(path))
		return
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "connections (log scale)"
	p.Y.Label.Text = ylabel
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = dataTicks(ss)
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true

	ymin, ymax := 0.0, 0.0
	for i, n := range ss {
		line, points, err := plotter.NewLinePoints(n.pts)
		if err != nil {
			fatal(err)
		}
		c := plotutil.Color(i)
		line.Color = c
		line.Width = vg.Points(1.5)
		points.Color = c
		points.Shape = plotutil.Shape(i)
		points.Radius = vg.Points(3)
		p.Add(line, points)
		p.Legend.Add(n.name, line, points)
		for _, pt := range n.pts {
			if ymin == 0 || pt.Y < ymin {
				ymin = pt.Y
			}
			ymax = max(ymax, pt.Y)
		}
	}
	if o.ref > 0 {
		xs := dataTicks(ss)
		ref, err := plotter.NewLine(plotter.XYs{{X: xs[0].Value, Y: o.ref}, {X: xs[len(xs)-1].Value, Y: o.ref}})
		if err != nil {
			fatal(err)
		}
		ref.Color = color.Gray{Y: 0x60}
		ref.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(ref)
		p.Legend.Add(o.refLabel, ref)
		ymin, ymax = min(ymin, o.ref), max(ymax, o.ref)
	}
	if o.logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = ymin/2, ymax*4 // room for the legend
	} else {
		p.Y.Tick.Marker = kTicks{}
		p.Y.Min, p.Y.Max = 0, ymax*1.25
	}
	// A note under the title: where and when.
	note := fmt.Sprintf("%s, %d cores, %s, %s", s.Machine.CPU, s.Machine.Cores, s.Machine.GoVersion, s.Machine.Date)
	p.Title.Text += "\n" + note
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Title.TextStyle.Color = color.Black
	p.Title.Padding = vg.Points(6)
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
		fatal(err)
	}
	fmt.Fprintf(os.Stderr, "plot: wrote %s\n", path)
}

// dataTicks labels the x axis at exactly the connection counts measured;
// log-scale default ticks would label only powers of ten.
func dataTicks(ss []named) plot.ConstantTicks {
	seen := map[float64]bool{}
	var ticks plot.ConstantTicks
	for _, n := range ss {
		for _, pt := range n.pts {
			if !seen[pt.X] {
				seen[pt.X] = true
				ticks = append(ticks, plot.Tick{Value: pt.X, Label: fmt.Sprintf("%.0f", pt.X)})
			}
		}
	}
	sort.Slice(ticks, func(a, b int) bool { return ticks[a].Value < ticks[b].Value })
	return ticks
}

// kTicks are gonum's default ticks labelled in thousands ("25k").
type kTicks struct{}

// Ticks implements plot.Ticker.
func (kTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = fmt.Sprintf("%gk", ts[i].Value/1000)
		}
	}
	return ts
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "plot:", err)
	os.Exit(1)
}

// Command soakplot draws the samples of a soak run (cmd/soak's
// samples.json) as one PNG of four panels sharing the time axis: the
// server's resident memory (with its Go heap in use), its open
// descriptors, its goroutines, and the echo throughput verified per
// interval. Each of the three judged series carries the trend rule's
// least-squares line over the judged samples (dashed) and a mark where the
// warm-up ends; the descriptor panel also shows the ceiling. The
// descriptor and goroutine panels span only the values drawn.
//
//	soakplot -in results/soak-<stamp>-smol/samples.json -out results/soak-<stamp>-smol/soak.png
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"math"
	"os"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/smolgo/smol/bench/internal/result"
)

func main() {
	in := flag.String("in", "samples.json", "samples.json written by cmd/soak")
	out := flag.String("out", "soak.png", "PNG to write")
	flag.Parse()

	b, err := os.ReadFile(*in)
	if err != nil {
		fatal(err)
	}
	var rep result.SoakReport
	if err := json.Unmarshal(b, &rep); err != nil {
		fatal(fmt.Errorf("%s: %w", *in, err))
	}
	if len(rep.Samples) < 2 {
		fatal(fmt.Errorf("%s: %d samples, need at least 2 to draw", *in, len(rep.Samples)))
	}
	ss := rep.Samples
	verdict := map[string]*result.SoakVerdict{}
	for i := range rep.Verdicts {
		verdict[rep.Verdicts[i].Series] = &rep.Verdicts[i]
	}

	const mib = 1 << 20
	pick := func(f func(s result.SoakSample) float64) plotter.XYs {
		xy := make(plotter.XYs, len(ss))
		for i, s := range ss {
			xy[i] = plotter.XY{X: s.T, Y: f(s)}
		}
		return xy
	}
	var rate plotter.XYs
	for i := 1; i < len(ss); i++ {
		if dt := ss[i].T - ss[i-1].T; dt > 0 {
			rate = append(rate, plotter.XY{X: ss[i].T, Y: float64(ss[i].Bytes-ss[i-1].Bytes) / dt / mib})
		}
	}

	m := rep.Meta
	outcome := "PASS"
	if !rep.Pass {
		outcome = "FAIL"
	}
	title := fmt.Sprintf("Soak: %s, %s connections, %s-%s B messages (%s), %s: %s\n%s, load average at start %s",
		m["server"], m["conns"], m["min_size"], m["max_size"], m["dist"], m["duration"], outcome, m["started"], m["load_at_start"])

	panels := [][]*plot.Plot{
		{panel(title, "resident memory, MiB", []line{
			{"RSS", pick(func(s result.SoakSample) float64 { return float64(s.RSS) / mib })},
			{"Go heap in use", pick(func(s result.SoakSample) float64 { return float64(s.HeapInuse) / mib })},
		}, verdict["RSS"], 1.0/mib, false, ss)},
		{panel("", "open descriptors", []line{
			{"fds", pick(func(s result.SoakSample) float64 { return float64(s.FDs) })},
		}, verdict["fds"], 1, true, ss)},
		{panel("", "goroutines", []line{
			{"goroutines", pick(func(s result.SoakSample) float64 { return float64(s.Goroutines) })},
		}, verdict["goroutines"], 1, true, ss)},
		{panel("", "echo verified, MiB/s", []line{{"per interval", rate}}, nil, 1, false, ss)},
	}
	panels[3][0].X.Label.Text = "time since the load started, s"

	const w, h = 8 * vg.Inch, 10 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4),
		PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(8)}
	canvases := plot.Align(panels, tiles, dc)
	for i := range panels {
		panels[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(*out)
	if err != nil {
		fatal(err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		fatal(err)
	}
	if err := f.Close(); err != nil {
		fatal(err)
	}
	fmt.Fprintf(os.Stderr, "soakplot: wrote %s\n", *out)
}

type line struct {
	name string
	pts  plotter.XYs
}

// panel draws lines against time; v, if not nil, adds its fitted line
// (in the series' unit, multiplied by scale to the panel's), the warm-up's
// end and its ceiling. The y axis starts at 0, or with zoom spans only the
// values drawn, so that a growth of a few descriptors or goroutines on top
// of a thousand shows.
func panel(title, ylabel string, lines []line, v *result.SoakVerdict, scale float64, zoom bool, ss []result.SoakSample) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	ymin, ymax := math.Inf(1), 0.0
	for i, l := range lines {
		lp, pts, err := plotter.NewLinePoints(l.pts)
		if err != nil {
			fatal(err)
		}
		lp.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
		lp.Width = vg.Points(1.5)
		pts.Shape, pts.Radius = plotutil.Shape(i), vg.Points(2)
		p.Add(lp, pts)
		p.Legend.Add(l.name, lp)
		for _, pt := range l.pts {
			ymin, ymax = min(ymin, pt.Y), max(ymax, pt.Y)
		}
	}
	gray := color.Gray{Y: 0x60}
	dashed := []vg.Length{vg.Points(4), vg.Points(3)}
	if v != nil {
		// The fit over the judged samples, and the warm-up's end.
		t0, t1 := ss[v.Samples-v.Judged].T, ss[len(ss)-1].T
		fit, err := plotter.NewLine(plotter.XYs{
			{X: t0, Y: (v.Intercept + v.Slope*t0) * scale},
			{X: t1, Y: (v.Intercept + v.Slope*t1) * scale},
		})
		if err != nil {
			fatal(err)
		}
		fit.Color, fit.Dashes, fit.Width = color.Black, dashed, vg.Points(1)
		p.Add(fit)
		word, _, _ := strings.Cut(v.Reason, ":")
		p.Legend.Add(fmt.Sprintf("least-squares fit after the warm-up; verdict: %s", word), fit)
		if v.Ceiling > 0 {
			c, err := plotter.NewLine(plotter.XYs{{X: ss[0].T, Y: v.Ceiling * scale}, {X: t1, Y: v.Ceiling * scale}})
			if err != nil {
				fatal(err)
			}
			c.Color, c.Dashes = gray, dashed
			p.Add(c)
			p.Legend.Add("ceiling", c)
			ymax = max(ymax, v.Ceiling*scale)
		}
	}
	lo, hi := 0.0, ymax*1.3+1 // room for the legend; +1 for a series of zeros
	if zoom {
		pad := max(5, (ymax-ymin)/2)
		lo, hi = max(0, ymin-pad), ymax+2*pad
	}
	p.Y.Min, p.Y.Max = lo, hi
	if v != nil {
		t0 := ss[v.Samples-v.Judged].T
		warm, err := plotter.NewLine(plotter.XYs{{X: t0, Y: lo}, {X: t0, Y: hi}})
		if err != nil {
			fatal(err)
		}
		warm.Color, warm.Dashes = gray, []vg.Length{vg.Points(1), vg.Points(2)}
		p.Add(warm)
	}
	p.X.Min, p.X.Max = 0, ss[len(ss)-1].T
	return p
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "soakplot:", err)
	os.Exit(1)
}

package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// charts draws the charts into dir and returns their file names: memory per idle connection, and round
// trips per server CPU-second and per second, one chart per kind of load (echo, HTTP) since each has its
// own servers, with one group of bars per case and one bar per server. Only the cases and servers with a
// successful run are drawn: a case in which every run failed has nothing to draw, and must not cost the
// other cases their charts.
func (rep *report) charts(dir string) ([]string, error) {
	byKind := map[kind][]benchCase{}
	for _, c := range rep.Cases {
		if slices.ContainsFunc(rep.rows(c.ID), func(sm summary) bool { return sm.Runs > 0 }) {
			byKind[c.Kind] = append(byKind[c.Kind], c)
		}
	}
	type chart struct {
		file, title, ylabel string
		k                   kind
		value               func(*summary) float64
	}
	perCPU := func(sm *summary) float64 { return sm.OpsPerCPU }
	perSec := func(sm *summary) float64 { return sm.OpsPerSec }
	charts := []chart{
		{"efficiency-echo.png", "Echo: round trips per server CPU-second (server on one core)", "round trips per CPU-second (higher is better)", kindEcho, perCPU},
		{"efficiency-http.png", "HTTP plaintext: requests per server CPU-second (server on one core)", "requests per CPU-second (higher is better)", kindHTTP, perCPU},
		{"throughput-echo.png", "Echo: round trips per second (server on one core)", "round trips per second (higher is better)", kindEcho, perSec},
		{"throughput-http.png", "HTTP plaintext: requests per second (server on one core)", "requests per second (higher is better)", kindHTTP, perSec},
	}
	var files []string
	for _, c := range byKind[kindIdle] {
		file := c.ID + ".png"
		if err := rep.idleChart(filepath.Join(dir, file), c); err != nil {
			return files, err
		}
		files = append(files, file)
	}
	for _, ch := range charts {
		if len(byKind[ch.k]) == 0 {
			continue
		}
		if err := rep.barChart(filepath.Join(dir, ch.file), byKind[ch.k], ch.title, ch.ylabel, ch.value); err != nil {
			return files, err
		}
		files = append(files, ch.file)
	}
	return files, nil
}

// barChart draws one group of bars per case and one bar per server, the bar's height being value of
// that server's summary on that case, and saves it as a PNG at file.
func (rep *report) barChart(file string, cases []benchCase, title, ylabel string, value func(*summary) float64) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Tick.Marker = thousands{}

	var servers []string
	for _, s := range rep.servers {
		for _, c := range cases {
			if sm := rep.find(c.ID, s.Name); sm != nil && sm.Runs > 0 {
				servers = append(servers, s.Name)
				break
			}
		}
	}
	if len(servers) == 0 {
		return fmt.Errorf("%s: nothing to draw", file)
	}
	width := vg.Points(min(16, 96/float64(len(servers))))
	top := 0.0
	for i, name := range servers {
		vals := make(plotter.Values, len(cases))
		for j, c := range cases {
			if sm := rep.find(c.ID, name); sm != nil && sm.Runs > 0 {
				vals[j] = value(sm)
				top = max(top, vals[j])
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(i)
		bars.Offset = vg.Length(float64(i)-float64(len(servers)-1)/2) * width
		p.Add(bars)
		p.Legend.Add(name, bars)
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.Y.Min = 0
	p.Y.Max = top * 1.5 // room for the legend above the highest bar
	p.X.Min, p.X.Max = -0.6, float64(len(cases))-0.4
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.ID
	}
	p.NominalX(names...)
	p.Add(plotter.NewGrid())
	return p.Save(vg.Length(max(8, 1.2*float64(len(cases))+3))*vg.Inch, 5*vg.Inch, file)
}

// idleChart draws memory per idle connection on case c, one labelled bar per server: the labels keep the
// small figures readable next to the large ones.
func (rep *report) idleChart(file string, c benchCase) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Server memory (VmRSS) per idle connection, %s connections", count(float64(c.Conns)))
	p.Y.Label.Text = "bytes per connection (lower is better)"
	p.Y.Tick.Marker = thousands{}
	var (
		names  []string
		vals   plotter.Values
		labels plotter.XYLabels
	)
	for _, sm := range rep.rows(c.ID) {
		if sm.Runs == 0 {
			continue
		}
		names = append(names, sm.Server)
		vals = append(vals, sm.PerConn)
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(len(vals) - 1), Y: sm.PerConn})
		labels.Labels = append(labels.Labels, bytesPerConn(sm.PerConn))
	}
	if len(vals) == 0 {
		return fmt.Errorf("%s: nothing to draw", file)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(36))
	if err != nil {
		return err
	}
	bars.LineStyle.Width = 0
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign = -0.5 // centred over the bar
	}
	lab.Offset = vg.Point{Y: vg.Points(3)}
	p.Add(lab)
	p.Y.Min = 0
	p.Y.Max = max(1, slices.Max(vals)) * 1.15
	p.NominalX(names...)
	p.Add(plotter.NewGrid())
	return p.Save(8*vg.Inch, 4*vg.Inch, file)
}

// thousands marks a linear axis with its default ticks, labelled with thousands separators.
type thousands struct{}

// Ticks returns plot.DefaultTicks with labels such as 120,000.
func (thousands) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = count(ticks[i].Value)
		}
	}
	return ticks
}

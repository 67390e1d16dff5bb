// Package plot draws the benchmark's sweep as a PNG: throughput and p99
// latency against the number of calls in flight, one line per peer. It
// draws with image/draw and labels with golang.org/x/image's basic font, so
// that the harness needs no plotting library.
package plot

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"slices"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Point is one measurement of a sweep.
type Point struct {
	// X is the swept value (calls in flight per caller); it must be > 0,
	// since the X axis is logarithmic.
	X float64
	// Rate is the throughput (calls/s); P99, the 99th percentile latency (µs; labelled "us": the font is ASCII).
	Rate, P99 float64
}

// Series is one peer's line.
type Series struct {
	Name   string
	Points []Point
}

// Chart describes the picture.
type Chart struct {
	// Title is drawn on top.
	Title string
	// XLabel names X (e.g. "K: calls in flight per caller").
	XLabel string
	// Series are the lines; points are sorted by X when drawn.
	Series []Series
}

const (
	width, height = 1200, 560
	panelTop      = 84
	panelBottom   = height - 60
	margin        = 70
)

var (
	white  = color.RGBA{255, 255, 255, 255}
	black  = color.RGBA{30, 30, 30, 255}
	grid   = color.RGBA{225, 225, 225, 255}
	colors = map[string]color.RGBA{
		"monologue": {31, 119, 180, 255},
		"nats":      {44, 160, 44, 255},
		"socketio":  {255, 127, 14, 255},
		"floor":     {127, 127, 127, 255},
	}
	extra = []color.RGBA{{214, 39, 40, 255}, {148, 103, 189, 255}, {140, 86, 75, 255}}
)

// WritePNG draws c as a PNG on w.
func WritePNG(w io.Writer, c Chart) error {
	xs := map[float64]bool{}
	for _, s := range c.Series {
		for _, p := range s.Points {
			if p.X <= 0 || math.IsNaN(p.Rate) || math.IsNaN(p.P99) {
				return fmt.Errorf("plot: %s: bad point %+v", s.Name, p)
			}
			xs[p.X] = true
		}
	}
	if len(xs) == 0 {
		return errors.New("plot: no points")
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	text(img, width/2-len(c.Title)*7/2, 24, c.Title, black)
	ticks := make([]float64, 0, len(xs))
	for x := range xs {
		ticks = append(ticks, x)
	}
	slices.Sort(ticks)
	half := width / 2
	panels := []struct {
		left, right int
		label       string
		value       func(Point) float64
	}{
		{margin, half - 30, "throughput (calls/s)", func(p Point) float64 { return p.Rate }},
		{half + margin, width - 30, "p99 latency (us)", func(p Point) float64 { return p.P99 }},
	}
	for _, pn := range panels {
		drawPanel(img, pn.left, pn.right, pn.label, c.XLabel, ticks, c.Series, pn.value)
	}
	// Legend, top right.
	for i, s := range c.Series {
		y := 44
		x := width - 30 - (len(c.Series)-i)*140
		fill(img, x, y-5, x+18, y-1, colorOf(s.Name, i))
		text(img, x+24, y, s.Name, black)
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

func colorOf(name string, i int) color.RGBA {
	if c, ok := colors[name]; ok {
		return c
	}
	return extra[i%len(extra)]
}

func drawPanel(img *image.RGBA, left, right int, label, xLabel string, ticks []float64, series []Series, value func(Point) float64) {
	top, bottom := panelTop, panelBottom
	yMax := 0.0
	for _, s := range series {
		for _, p := range s.Points {
			yMax = max(yMax, value(p))
		}
	}
	step := niceStep(yMax)
	yTop := step * math.Ceil(yMax/step)
	if yTop == 0 {
		yTop = 1
	}
	lo, hi := math.Log2(ticks[0]), math.Log2(ticks[len(ticks)-1])
	xPix := func(x float64) int {
		if hi == lo {
			return (left + right) / 2
		}
		return left + 10 + int((math.Log2(x)-lo)/(hi-lo)*float64(right-left-20))
	}
	yPix := func(y float64) int { return bottom - int(y/yTop*float64(bottom-top)) }
	// Grid and Y ticks.
	for y := 0.0; y <= yTop+step/2; y += step {
		py := yPix(y)
		fill(img, left, py, right, py+1, grid)
		s := short(y)
		text(img, left-8-len(s)*7, py+4, s, black)
	}
	// X ticks.
	for _, x := range ticks {
		px := xPix(x)
		fill(img, px, bottom, px+1, bottom+5, black)
		s := strconv.FormatFloat(x, 'g', -1, 64)
		text(img, px-len(s)*7/2, bottom+18, s, black)
	}
	fill(img, left, top, left+1, bottom, black)
	fill(img, left, bottom, right, bottom+1, black)
	text(img, left, top-10, label, black)
	text(img, (left+right)/2-len(xLabel)*7/2, bottom+40, xLabel, black)
	for i, s := range series {
		c := colorOf(s.Name, i)
		pts := slices.Clone(s.Points)
		slices.SortFunc(pts, func(a, b Point) int { return int(math.Copysign(1, a.X-b.X)) })
		for j, p := range pts {
			x, y := xPix(p.X), yPix(value(p))
			fill(img, x-3, y-3, x+4, y+4, c)
			if j > 0 {
				line(img, xPix(pts[j-1].X), yPix(value(pts[j-1])), x, y, c)
			}
		}
	}
}

// niceStep returns a round grid step for values up to v (about 5 lines).
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// short formats an axis value: 1500 → "1.5k", 2000000 → "2M".
func short(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func fill(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	draw.Draw(img, image.Rect(x0, y0, x1, y1), &image.Uniform{c}, image.Point{}, draw.Src)
}

// line draws a 3-pixel-wide segment.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		x := x0 + (x1-x0)*i/n
		y := y0 + (y1-y0)*i/n
		fill(img, x-1, y-1, x+2, y+2, c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: &image.Uniform{c}, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

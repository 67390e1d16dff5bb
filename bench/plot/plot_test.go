package plot

import (
	"bytes"
	"image/png"
	"testing"
)

func TestWritePNG(t *testing.T) {
	chart := Chart{
		Title:  "rpc P=50 S=64",
		XLabel: "K: calls in flight per caller",
		Series: []Series{
			{Name: "monologue", Points: []Point{{1, 10000, 150}, {4, 30000, 300}, {2, 18000, 200}}},
			{Name: "nats", Points: []Point{{1, 12000, 120}, {2, 20000, 180}, {4, 33000, 260}}},
			{Name: "other", Points: []Point{{1, 5000, 900}}},
		},
	}
	var buf bytes.Buffer
	if err := WritePNG(&buf, chart); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Fatalf("size %v", b)
	}
	// The monologue marker at K=1 is drawn in its colour somewhere: count
	// pixels of each series' colour.
	for name, want := range map[string]bool{"monologue": true, "nats": true} {
		c := colors[name]
		found := 0
		for y := 0; y < height; y++ {
			for x := 0; x < width; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(b>>8) == c.B {
					found++
				}
			}
		}
		if (found > 100) != want {
			t.Errorf("%s: %d pixels of its colour", name, found)
		}
	}
	if err := WritePNG(&buf, Chart{}); err == nil {
		t.Error("no error for a chart with no points")
	}
	if err := WritePNG(&buf, Chart{Series: []Series{{Name: "x", Points: []Point{{0, 1, 1}}}}}); err == nil {
		t.Error("no error for X = 0 on a log axis")
	}
}

func TestNiceStepAndShort(t *testing.T) {
	for _, tt := range []struct{ v, want float64 }{{0, 1}, {5, 1}, {47000, 10000}, {1200, 250}, {90, 20}} {
		if got := niceStep(tt.v); got != tt.want {
			t.Errorf("niceStep(%v) = %v, want %v", tt.v, got, tt.want)
		}
	}
	for v, want := range map[float64]string{0: "0", 250: "250", 1500: "1.5k", 2e6: "2M"} {
		if got := short(v); got != want {
			t.Errorf("short(%v) = %q, want %q", v, got, want)
		}
	}
}

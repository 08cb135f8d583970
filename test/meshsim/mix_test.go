package meshsim

import (
	"testing"
	"time"
)

func TestMixDrawsVariantsByWeight(t *testing.T) {
	mix := Mix{Host: "web", Namespace: "shop", Variants: []Variant{
		{Weight: 9, Path: "/"},
		{Weight: 1, Path: "/api?v=2", Method: "POST", Headers: map[string]string{"x-user": "jason"}},
		{Weight: 0, Path: "/never"},
	}}
	rng := seeded()
	paths := map[string]int{}
	for range 20000 {
		req := mix.Next(rng)
		paths[req.Path]++
		if req.Host != "web" || req.Namespace != "shop" || req.Rand != rng {
			t.Fatalf("request %+v", req)
		}
		if req.Path == "/api?v=2" && (req.Headers.Get("x-user") != "jason" || req.Method != "POST") {
			t.Fatalf("variant lost its headers or method: %+v", req)
		}
	}
	if share := float64(paths["/api?v=2"]) / 20000; !near(share, 0.1, 0.01) || paths["/never"] != 0 {
		t.Errorf("paths %v", paths)
	}
}

func TestAMixWithoutVariantsSendsGetSlash(t *testing.T) {
	req := Mix{Host: "web", Namespace: "shop"}.Next(seeded())
	if req.Path != "/" || req.Method != "" || req.Headers != nil {
		t.Errorf("got %+v", req)
	}
}

func TestAMixRoutes(t *testing.T) {
	ix := NewIndex(shopMesh(newVS("shop", "web", []string{"web"},
		route("jason", nil, to("web", "canary", 0)))))
	mix := Mix{Host: "web", Namespace: "shop", Variants: []Variant{{Weight: 1, Headers: map[string]string{"X-User": "jason"}}}}
	if d := ix.Route(mix.Next(seeded())); d.Route != "jason" || d.Code != 200 {
		t.Errorf("got %+v", d)
	}
}

func TestPacerKeepsToTheRateWhateverTheTicks(t *testing.T) {
	start := time.Unix(0, 0)
	cases := []struct {
		name  string
		rate  float64
		ticks []time.Duration // offsets from start
		want  int
	}{
		{"regular ticks", 10, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, time.Second}, 10},
		{"one late tick catches up", 10, []time.Duration{3 * time.Second}, 30},
		{"dropped and jittered ticks", 7, []time.Duration{130 * time.Millisecond, 170 * time.Millisecond, 1900 * time.Millisecond, 2 * time.Second}, 14},
		{"fractions carry over", 0.5, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}, 2},
		{"a clock going back owes nothing", 10, []time.Duration{time.Second, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}, 15},
		{"no rate", 0, []time.Duration{time.Hour}, 0},
	}
	for _, c := range cases {
		p := NewPacer(c.rate, start)
		total := 0
		for _, tick := range c.ticks {
			total += p.Due(start.Add(tick))
		}
		if total != c.want {
			t.Errorf("%s: %d due, want %d", c.name, total, c.want)
		}
	}
}

func TestPacerRateChange(t *testing.T) {
	start := time.Unix(0, 0)
	p := NewPacer(10, start)
	p.SetRate(100, start.Add(time.Second)) // 10 due so far
	if got := p.Due(start.Add(2 * time.Second)); got != 110 {
		t.Errorf("due %d", got)
	}
}

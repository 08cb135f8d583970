package analysis_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// silentProvider accepts connections and never answers: a Prometheus that hangs.
func silentProvider() string {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	DeferCleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// slowQuerier answers every query after a pause, and counts the queries asked at once.
type slowQuerier struct {
	pause          time.Duration
	mu             sync.Mutex
	inFlight, most int
}

func (q *slowQuerier) Query(ctx context.Context, _ string, _ time.Time) (float64, error) {
	q.mu.Lock()
	q.inFlight++
	q.most = max(q.most, q.inFlight)
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.inFlight--
		q.mu.Unlock()
	}()
	select {
	case <-time.After(q.pause):
		return 100, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (q *slowQuerier) QueryRange(context.Context, string, time.Time, time.Time, time.Duration) ([]float64, error) {
	return nil, nil
}

func (q *slowQuerier) Ping(context.Context) error { return nil }

var _ = Describe("a canary of many metrics", func() {
	It("is measured a few metrics at a time, its results in the order of its spec", func(ctx context.Context) {
		q := &slowQuerier{pause: 50 * time.Millisecond}
		a := analyzerWith("http://prometheus.invalid")
		a.NewQuerier = func(analysis.PrometheusOptions) (analysis.Querier, error) { return q, nil }
		var metrics []fledgev1alpha1.CanaryMetric
		for i := range 12 {
			m := successRate(atLeast(99))
			m.Name = fmt.Sprintf("m%02d", i)
			metrics = append(metrics, m)
		}
		r := a.Check(ctx, canaryIn(healthy, metrics...), web)
		Expect(r.Verdict).To(Equal(analysis.Pass), r.Message)
		Expect(r.Metrics).To(HaveLen(12))
		for i, m := range r.Metrics {
			Expect(m.Name).To(Equal(fmt.Sprintf("m%02d", i)))
		}
		Expect(q.most).To(Equal(analysis.DefaultParallel), "never more at once than the bound, and the bound used")

		q.most = 0
		a.Parallel = 1
		Expect(a.Check(ctx, canaryIn(healthy, metrics...), web).Verdict).To(Equal(analysis.Pass))
		Expect(q.most).To(Equal(1))
	})

	It("that runs out of time keeps the verdicts it has, and fails the others as not measured in time", func(ctx context.Context) {
		hanging := template("hanging", `sum(up)`, fledgev1alpha1.MetricProvider{Address: silentProvider()})
		a := analyzerWith(prom.URL, hanging)
		checkCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		r := a.Check(checkCtx, canaryIn(healthy, successRate(atLeast(99)), fromTemplate("hanging", atMost(1))), web)

		Expect(r.Verdict).To(Equal(analysis.Fail))
		Expect(r.Metrics).To(HaveLen(2))
		Expect(r.Metrics[0].Verdict).To(Equal(string(analysis.Pass)), "measured on the Prometheus that answers: %s", r.Metrics[0].Message)
		Expect(r.Metrics[0].Value).NotTo(BeNil())
		Expect(r.Metrics[1].Verdict).To(Equal(string(analysis.Fail)))
		Expect(r.Metrics[1].Message).To(Equal("hanging: not measured within the interval: its metrics provider is slow or does not answer"))
		Expect(r.Problem.Reason).To(Equal(fledgev1alpha1.ReasonChecksTimedOut))
	})
})

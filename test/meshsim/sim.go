package meshsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/apis"
	"fledge.dev/fledge/test/istiometrics"
	"fledge.dev/fledge/test/istioxds"
)

// Options configure a running simulator.
type Options struct {
	// Config reaches the API server whose mesh is simulated.
	Config *rest.Config
	// MetricsAddress serves /metrics (and /traffic); HTTPAddress serves real requests.
	// Both default to a free loopback port.
	MetricsAddress, HTTPAddress string
	// Traffic is what the simulated clients send.
	Traffic []Mix
	// ClientNamespace is the namespace of the clients of real requests (default "default").
	ClientNamespace string
	// Seed makes the random draws repeatable.
	Seed uint64
	// Istiod, when set, is istiod's xDS: sidecar traffic is then routed by the configuration
	// istiod sends each client's sidecar (routes, clusters, endpoints), as Envoy routes it.
	// Gateway traffic, and a request whose sidecar has no configuration yet, are routed by
	// the simulator's own reading of the mesh; RoutedBy counts both.
	Istiod *istioxds.Client
}

// Sim stands in for Envoy: it watches the mesh, sends the configured traffic through it,
// serves Istio's metrics for Prometheus and answers real HTTP requests.
type Sim struct {
	// MetricsAddress and HTTPAddress are where it listens.
	MetricsAddress, HTTPAddress string

	recorder *istiometrics.Recorder
	cache    cache.Cache
	index    atomic.Pointer[Index]
	dirty    atomic.Bool
	clientNS string
	istiod   *istiodConfigs // nil without Options.Istiod

	mu      sync.Mutex
	traffic []Mix
	pacers  []*Pacer
	rng     *rand.Rand

	servers []*http.Server
	cancel  context.CancelFunc
	done    sync.WaitGroup
}

// Start watches the mesh and starts the traffic and the servers; it returns once the mesh
// was read for the first time.
func Start(ctx context.Context, opts Options) (*Sim, error) {
	c, err := cache.New(opts.Config, cache.Options{Scheme: apis.NewScheme(), DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		return nil, err
	}
	s := &Sim{recorder: istiometrics.NewRecorder(), cache: c, clientNS: opts.ClientNamespace, rng: rand.New(rand.NewPCG(opts.Seed, 1))}
	if s.clientNS == "" {
		s.clientNS = "default"
	}
	ctx, s.cancel = context.WithCancel(ctx)
	if opts.Istiod != nil {
		s.istiod = newIstiodConfigs(ctx, opts.Istiod)
	}
	for _, obj := range []client.Object{&networkingv1.VirtualService{}, &networkingv1.DestinationRule{}, &corev1.Service{}, &corev1.Pod{}} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			s.cancel()
			return nil, err
		}
		mark := func(any) { s.dirty.Store(true) }
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: mark, UpdateFunc: func(_, o any) { mark(o) }, DeleteFunc: mark}); err != nil {
			s.cancel()
			return nil, err
		}
	}
	s.done.Add(1)
	go func() { defer s.done.Done(); _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		s.cancel()
		return nil, errors.New("the mesh simulator could not read the mesh")
	}
	if err := s.rebuild(ctx); err != nil {
		s.cancel()
		return nil, err
	}
	if s.istiod != nil {
		// The sidecar of the clients of real requests, ready before the first.
		if err := s.istiod.ready(Proxy{Namespace: s.clientNS}, "80", 30*time.Second); err != nil {
			s.cancel()
			return nil, err
		}
	}
	s.SetTraffic(opts.Traffic)

	metrics := http.NewServeMux()
	metrics.Handle("/metrics", s.recorder.Handler())
	if s.MetricsAddress, err = s.serve(or(opts.MetricsAddress, "127.0.0.1:0"), metrics); err != nil {
		s.Stop()
		return nil, err
	}
	if s.HTTPAddress, err = s.serve(or(opts.HTTPAddress, "127.0.0.1:0"), http.HandlerFunc(s.answer)); err != nil {
		s.Stop()
		return nil, err
	}
	s.done.Add(2)
	go func() { defer s.done.Done(); s.watchMesh(ctx) }()
	go func() { defer s.done.Done(); s.send(ctx) }()
	return s, nil
}

// SetTraffic replaces what the simulated clients send. Routed by istiod, it first waits (at
// most 10 s) until each client's sidecar has its configuration.
func (s *Sim) SetTraffic(mixes []Mix) {
	if s.istiod != nil {
		ix := s.index.Load()
		for _, m := range mixes {
			if m.Gateway != "" && m.Gateway != meshGateway {
				continue
			}
			host := ix.requestHost(m.Host, m.Namespace, meshGateway)
			_ = s.istiod.ready(Proxy{Namespace: m.Namespace, Labels: m.SourceLabels}, ix.routeName(host, 0), 10*time.Second)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.traffic = mixes
	s.pacers = make([]*Pacer, len(mixes))
	for i, m := range mixes {
		s.pacers[i] = m.Pacer(now)
	}
}

// RoutedBy counts the sidecar requests routed by istiod's configuration and those routed by
// the simulator's own reading because their sidecar had none yet (both 0 without Istiod).
func (s *Sim) RoutedBy() (istiod, ownReading uint64) {
	if s.istiod == nil {
		return 0, 0
	}
	return s.istiod.byIstiod.Load(), s.istiod.byOwnReading.Load()
}

// Stop ends the traffic, the servers and the watches.
func (s *Sim) Stop() {
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	s.cancel()
	s.done.Wait()
}

// watchMesh rebuilds the routing index shortly after the mesh changes.
func (s *Sim) watchMesh(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.dirty.Swap(false) {
			_ = s.rebuild(ctx)
		}
	}
}

func (s *Sim) rebuild(ctx context.Context) error {
	var (
		vsList  networkingv1.VirtualServiceList
		drList  networkingv1.DestinationRuleList
		svcList corev1.ServiceList
		podList corev1.PodList
	)
	for _, l := range []client.ObjectList{&vsList, &drList, &svcList, &podList} {
		if err := s.cache.List(ctx, l); err != nil {
			return fmt.Errorf("read the mesh: %w", err)
		}
	}
	var m Mesh
	for _, vs := range vsList.Items {
		m.VirtualServices = append(m.VirtualServices, vs)
	}
	for _, dr := range drList.Items {
		m.DestinationRules = append(m.DestinationRules, dr)
	}
	for i := range svcList.Items {
		m.Services = append(m.Services, &svcList.Items[i])
	}
	for i := range podList.Items {
		m.Pods = append(m.Pods, &podList.Items[i])
	}
	if s.istiod != nil {
		m.Envoy = s.istiod
	}
	ix := NewIndex(m)
	if s.istiod != nil {
		s.istiod.prepare(ix.callers())
	}
	s.index.Store(ix)
	return nil
}

// send paces the configured traffic through the mesh. Latencies are drawn, not waited for.
func (s *Sim) send(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		ix := s.index.Load()
		s.mu.Lock()
		for i, mix := range s.traffic {
			for range s.pacers[i].Due(now) {
				ix.Route(mix.Next(s.rng)).Record(s.recorder)
			}
		}
		s.mu.Unlock()
	}
}

// answer routes a real request: the Host header names the service (web, web.shop, ...), and
// the answer says which version served it, after its drawn latency (at most 2 s).
func (s *Sim) answer(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	s.mu.Lock()
	seed := s.rng.Uint64()
	s.mu.Unlock()
	d := s.index.Load().Route(Request{
		Namespace: s.clientNS, Host: host, Path: r.URL.RequestURI(), Method: r.Method,
		Headers: r.Header.Clone(), Rand: rand.New(rand.NewPCG(seed, 2)),
	})
	d.Record(s.recorder)
	time.Sleep(min(d.Latency, 2*time.Second))

	served := "no workload"
	if d.Served != nil {
		served = fmt.Sprintf("%s (pod %s)", d.Served.Workload, d.Served.Pod)
		w.Header().Set("X-Served-By", d.Served.Workload)
		pod := &corev1.Pod{}
		if err := s.cache.Get(r.Context(), client.ObjectKey{Namespace: d.Served.Namespace, Name: d.Served.Pod}, pod); err == nil && len(pod.Spec.Containers) > 0 {
			image := pod.Spec.Containers[0].Image
			w.Header().Set("X-Served-Image", image)
			served += " " + image
		}
	}
	if d.Route != "" {
		w.Header().Set("X-Route", d.Route)
	}
	for k, v := range d.ResponseHeaders {
		w.Header().Set(k, v)
	}
	w.WriteHeader(d.Code)
	fmt.Fprintf(w, "%d from %s in %s", d.Code, served, d.Latency.Round(time.Millisecond))
	if d.Flags != "" {
		fmt.Fprintf(w, " [%s]", d.Flags)
	}
	fmt.Fprintln(w)
}

func (s *Sim) serve(address string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

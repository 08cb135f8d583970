package istioxds

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

const (
	clusterType  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	endpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

// Snapshot is what a sidecar holds from istiod at one moment: its outbound routes by name
// ("80" for port 80), the clusters it knows, and each cluster's healthy endpoint addresses.
// It is never changed once published.
type Snapshot struct {
	Routes    map[string]*routev3.RouteConfiguration
	Clusters  map[string]bool
	Endpoints map[string][]string
}

// Watcher holds one sidecar's ADS stream to istiod open, as Envoy does: it subscribes to every
// cluster, to the endpoints of each, and to the routes it is asked for, acknowledges each
// push, and reconnects when the stream breaks, keeping the last configuration meanwhile (as
// Envoy keeps serving with it).
type Watcher struct {
	client *Client
	proxy  Proxy

	snapshot atomic.Pointer[Snapshot]
	ready    chan struct{}
	once     sync.Once

	mu     sync.Mutex
	routes []string
	resub  chan struct{}
}

// Watch starts a Watcher for proxy subscribed to the routes named; it runs until ctx ends.
func (c *Client) Watch(ctx context.Context, proxy Proxy, routes ...string) *Watcher {
	w := &Watcher{client: c, proxy: proxy, ready: make(chan struct{}), routes: slices.Clone(routes), resub: make(chan struct{}, 1)}
	go w.run(ctx)
	return w
}

// Snapshot is the configuration last received whole (routes, clusters and their endpoints),
// nil before the first.
func (w *Watcher) Snapshot() *Snapshot { return w.snapshot.Load() }

// Ready is closed once the first whole configuration has arrived.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Subscribe adds route names to those the watcher asks for.
func (w *Watcher) Subscribe(routes ...string) {
	w.mu.Lock()
	changed := false
	for _, r := range routes {
		if !slices.Contains(w.routes, r) {
			w.routes = append(w.routes, r)
			changed = true
		}
	}
	w.mu.Unlock()
	if changed {
		select {
		case w.resub <- struct{}{}:
		default:
		}
	}
}

// Subscribed reports whether the watcher asks for the route named.
func (w *Watcher) Subscribed(route string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Contains(w.routes, route)
}

func (w *Watcher) routeNames() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.routes)
}

func (w *Watcher) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		_ = w.stream(ctx)
		if time.Since(start) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// state is one stream's view: what was received of each type, and the last nonce and version
// of each, which every later request of that type must carry.
type state struct {
	routes    map[string]*routev3.RouteConfiguration
	clusters  map[string]bool
	eds       []string // the clusters whose endpoints are asked for
	endpoints map[string][]string
	version   map[string]string
	nonce     map[string]string
	received  map[string]bool
}

func (w *Watcher) stream(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(w.client.conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	node, err := sidecarNode(w.proxy)
	if err != nil {
		return err
	}
	st := &state{
		routes: map[string]*routev3.RouteConfiguration{}, clusters: map[string]bool{}, endpoints: map[string][]string{},
		version: map[string]string{}, nonce: map[string]string{}, received: map[string]bool{},
	}
	var sendMu sync.Mutex
	send := func(typeURL string, names []string) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(&discoveryv3.DiscoveryRequest{
			Node: node, TypeUrl: typeURL, ResourceNames: names,
			VersionInfo: st.version[typeURL], ResponseNonce: st.nonce[typeURL],
		})
	}
	if err := send(clusterType, nil); err != nil {
		return err
	}
	if err := send(routeType, w.routeNames()); err != nil {
		return err
	}
	responses := make(chan *discoveryv3.DiscoveryResponse)
	failed := make(chan error, 1)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				failed <- err
				return
			}
			select {
			case responses <- resp:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		var resp *discoveryv3.DiscoveryResponse
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case <-w.resub:
			if err := send(routeType, w.routeNames()); err != nil {
				return err
			}
			continue
		case resp = <-responses:
		}
		typeURL := resp.GetTypeUrl()
		if err := st.apply(resp); err != nil {
			// Envoy refuses what it cannot read and says so with the last good version.
			st.nonce[typeURL] = resp.GetNonce()
			_ = send(typeURL, w.namesFor(typeURL, st))
			continue
		}
		st.version[typeURL], st.nonce[typeURL], st.received[typeURL] = resp.GetVersionInfo(), resp.GetNonce(), true
		if err := send(typeURL, w.namesFor(typeURL, st)); err != nil {
			return err
		}
		if typeURL == clusterType {
			eds := st.edsClusters()
			if !slices.Equal(eds, st.eds) {
				st.eds = eds
				for name := range st.endpoints {
					if !slices.Contains(eds, name) {
						delete(st.endpoints, name)
					}
				}
				if err := send(endpointType, eds); err != nil {
					return err
				}
			}
		}
		w.publish(st)
	}
}

func (w *Watcher) namesFor(typeURL string, st *state) []string {
	switch typeURL {
	case routeType:
		return w.routeNames()
	case endpointType:
		return st.eds
	}
	return nil
}

// apply takes in one response. Clusters come whole in each; routes and endpoints only as
// they change, so the others are kept.
func (st *state) apply(resp *discoveryv3.DiscoveryResponse) error {
	switch resp.GetTypeUrl() {
	case clusterType:
		clusters := map[string]bool{}
		for _, any := range resp.GetResources() {
			c := &clusterv3.Cluster{}
			if err := any.UnmarshalTo(c); err != nil {
				return err
			}
			clusters[c.GetName()] = c.GetType() == clusterv3.Cluster_EDS
		}
		st.clusters = clusters
	case routeType:
		for _, any := range resp.GetResources() {
			rc := &routev3.RouteConfiguration{}
			if err := any.UnmarshalTo(rc); err != nil {
				return err
			}
			st.routes[rc.GetName()] = rc
		}
	case endpointType:
		for _, any := range resp.GetResources() {
			cla := &endpointv3.ClusterLoadAssignment{}
			if err := any.UnmarshalTo(cla); err != nil {
				return err
			}
			st.endpoints[cla.GetClusterName()] = healthyAddresses(cla)
		}
	}
	return nil
}

// edsClusters are the clusters whose endpoints come over EDS, sorted.
func (st *state) edsClusters() []string {
	var out []string
	for name, eds := range st.clusters {
		if eds {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// publish makes the stream's state the snapshot once every kind has arrived: clusters, the
// routes asked for, and the endpoints of every cluster (an empty assignment counts). Until a
// new cluster's endpoints arrive the last snapshot stays, as Envoy keeps a cluster warming.
func (w *Watcher) publish(st *state) {
	if !st.received[clusterType] || !st.received[routeType] {
		return
	}
	for _, name := range st.eds {
		if _, ok := st.endpoints[name]; !ok {
			return
		}
	}
	w.snapshot.Store(&Snapshot{Routes: maps.Clone(st.routes), Clusters: maps.Clone(st.clusters), Endpoints: maps.Clone(st.endpoints)})
	w.once.Do(func() { close(w.ready) })
}

// healthyAddresses are the endpoints Envoy balances over: healthy, or of unknown health
// (istiod leaves health unset for ready endpoints).
func healthyAddresses(cla *endpointv3.ClusterLoadAssignment) []string {
	var out []string
	for _, locality := range cla.GetEndpoints() {
		for _, e := range locality.GetLbEndpoints() {
			switch e.GetHealthStatus() {
			case corev3.HealthStatus_HEALTHY, corev3.HealthStatus_UNKNOWN:
				out = append(out, e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress())
			}
		}
	}
	return out
}

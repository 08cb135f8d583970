package meshsim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fledge.dev/fledge/test/istioxds"
)

// istiodConfigs holds a sidecar's ADS stream to istiod open for every proxy the simulated
// traffic leaves through, and gives each request its proxy's latest configuration.
type istiodConfigs struct {
	ctx    context.Context
	client *istioxds.Client

	mu      sync.Mutex
	proxies map[string]*watchedProxy

	byIstiod, byOwnReading atomic.Uint64
}

type watchedProxy struct {
	watcher *istioxds.Watcher
	stop    context.CancelFunc
	config  atomic.Pointer[EnvoyConfig]
}

func newIstiodConfigs(ctx context.Context, client *istioxds.Client) *istiodConfigs {
	return &istiodConfigs{ctx: ctx, client: client, proxies: map[string]*watchedProxy{}}
}

// For is the configuration proxy's sidecar holds; it starts watching for a proxy it has not
// seen, and subscribes to route where the proxy's sidecar had not asked for it yet.
func (c *istiodConfigs) For(proxy Proxy, route string) *EnvoyConfig {
	p := c.watch(proxy, route)
	if !p.watcher.Subscribed(route) {
		p.watcher.Subscribe(route)
		return nil
	}
	snap := p.watcher.Snapshot()
	if snap == nil || snap.Routes[route] == nil {
		return nil
	}
	if config := p.config.Load(); config != nil && config.Snapshot() == snap {
		return config
	}
	config := NewEnvoyConfig(snap)
	p.config.Store(config)
	return config
}

func (c *istiodConfigs) Routed(byIstiod bool) {
	if byIstiod {
		c.byIstiod.Add(1)
	} else {
		c.byOwnReading.Add(1)
	}
}

// watch is the watched proxy, started with route subscribed when new.
func (c *istiodConfigs) watch(proxy Proxy, route string) *watchedProxy {
	key := proxyKey(proxy)
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.proxies[key]
	if p == nil {
		ctx, stop := context.WithCancel(c.ctx)
		p = &watchedProxy{stop: stop, watcher: c.client.Watch(ctx, istioxds.Proxy{
			Namespace: proxy.Namespace, IP: or(proxy.IP, "127.0.0.3"), Pod: or(proxy.Pod, clientName(proxy)), Labels: proxy.Labels,
		}, route)}
		c.proxies[key] = p
	}
	return p
}

// prepare watches, ahead of their first call, the sidecars of the pods that call other hosts,
// and stops watching those of pods that are gone.
func (c *istiodConfigs) prepare(callers map[string]Proxy, routes map[string][]string) {
	for key, proxy := range callers {
		for _, route := range routes[key] {
			c.watch(proxy, route).watcher.Subscribe(route)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, p := range c.proxies {
		if _, calling := callers[key]; !calling && strings.Contains(key, "/pod:") {
			p.stop()
			delete(c.proxies, key)
		}
	}
}

// ready waits until proxy's sidecar has its configuration with route, at most timeout.
func (c *istiodConfigs) ready(proxy Proxy, route string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for c.For(proxy, route) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("istiod sent no route %s to a sidecar of namespace %s within %s", route, proxy.Namespace, timeout)
		}
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// proxyKey tells proxies apart: by pod when a pod calls, else by namespace and labels.
func proxyKey(p Proxy) string {
	if p.Pod != "" {
		return p.Namespace + "/pod:" + p.Pod + "/" + p.IP
	}
	return p.Namespace + "/client:" + clientName(p)
}

// clientName names a client that is no pod after its labels, so that clients with other
// labels are other proxies to istiod.
func clientName(p Proxy) string {
	keys := slices.Sorted(maps.Keys(p.Labels))
	parts := []string{"client"}
	for _, k := range keys {
		parts = append(parts, sanitize(k), sanitize(p.Labels[k]))
	}
	return strings.Join(parts, "-")
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}

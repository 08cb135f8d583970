// Package istioxds asks istiod, over xDS as a sidecar's Envoy does, for the HTTP routes it
// gives the proxies of a namespace, and reads them as Envoy does. The tests compare that with
// what the mesh simulator does with the same request, so that the split users get on the local
// stack is Istio's own translation of what Fledge wrote, not our reading of it.
package istioxds

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

const routeType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"

// Proxy is the sidecar istiod is asked for: a workload of Namespace at IP.
type Proxy struct {
	Namespace string
	// IP names the proxy in istiod's eyes: with Pod and Labels those of a pod, istiod gives
	// it that pod's routes (sourceLabels match it); an IP no pod has gives the namespace's.
	IP     string
	Pod    string
	Labels map[string]string
}

// Client asks one istiod, over one connection, as many sidecars.
type Client struct {
	address string
	conn    *grpc.ClientConn
}

// Dial connects to istiod's plain-text xDS address; Close the Client when done.
func Dial(address string) (*Client, error) {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &Client{address: address, conn: conn}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Routes fetches the outbound route configuration that a sidecar of proxy gets for port ("80"
// is the route of every HTTP service on port 80), on a stream of its own.
func (c *Client) Routes(ctx context.Context, proxy Proxy, port uint32) (*routev3.RouteConfiguration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(c.conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, fmt.Errorf("open an xDS stream to istiod at %s: %w", c.address, err)
	}
	node, err := sidecarNode(proxy)
	if err != nil {
		return nil, err
	}
	name := strconv.FormatUint(uint64(port), 10)
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: routeType, ResourceNames: []string{name}}); err != nil {
		return nil, fmt.Errorf("ask istiod for route %s: %w", name, err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return nil, fmt.Errorf("read istiod's answer for route %s: %w", name, err)
		}
		if resp.GetTypeUrl() != routeType {
			continue
		}
		for _, any := range resp.GetResources() {
			rc := &routev3.RouteConfiguration{}
			if err := any.UnmarshalTo(rc); err != nil {
				return nil, fmt.Errorf("read route %s from istiod: %w", name, err)
			}
			if rc.GetName() == name {
				return rc, nil
			}
		}
		return nil, errors.New("istiod has no route " + name + " for this proxy")
	}
}

// sidecarNode is the Envoy node a sidecar of proxy presents, as pilot-agent fills it in.
func sidecarNode(proxy Proxy) (*corev3.Node, error) {
	name := proxy.Pod
	if name == "" {
		name = "fledge-xds-probe"
	}
	labels := map[string]any{}
	for k, v := range proxy.Labels {
		labels[k] = v
	}
	metadata, err := structpb.NewStruct(map[string]any{
		"NAMESPACE":         proxy.Namespace,
		"CLUSTER_ID":        "Kubernetes",
		"NAME":              name,
		"INTERCEPTION_MODE": "REDIRECT",
		"LABELS":            labels,
	})
	if err != nil {
		return nil, err
	}
	return &corev3.Node{
		Id:       fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", proxy.IP, name, proxy.Namespace, proxy.Namespace),
		Metadata: metadata,
	}, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"fledge.dev/fledge/analysis"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/istioxds"
	"fledge.dev/fledge/test/meshsim"
)

// run starts the stack, installs the app, runs the two rollouts and prints a summary.
func run(ctx context.Context, opts options) error {
	manager, err := filepath.Abs(opts.manager)
	if err != nil {
		return err
	}
	if _, err := os.Stat(manager); err != nil {
		return fmt.Errorf("the Fledge manager %s is not built: run `make demo`", opts.manager)
	}

	step("Starting the local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok nodes, and istiod validating every Istio object")
	t := time.Now()
	stack, err := cluster.Start(ctx, cluster.Options{Workloads: true, Nodes: 3, Istio: true})
	if err != nil {
		return err
	}
	defer stack.Stop()
	done("control plane ready in %s (logs in %s)", since(t), stack.Dir)

	step("Starting the mesh simulator, which stands in for Envoy (routing by the configuration istiod sends its sidecars), and Prometheus, which scrapes it")
	xds, err := istioxds.Dial(stack.IstiodXDSAddress)
	if err != nil {
		return err
	}
	defer xds.Close()
	mesh, err := meshsim.Start(ctx, meshsim.Options{Config: stack.Config, ClientNamespace: demoNamespace, Istiod: xds})
	if err != nil {
		return err
	}
	defer mesh.Stop()
	prom, err := cluster.StartPrometheus(ctx, cluster.PrometheusOptions{Targets: []string{mesh.MetricsAddress}})
	if err != nil {
		return err
	}
	defer prom.Stop()
	done("mesh: requests on http://%s, metrics on http://%s/metrics; Prometheus on %s", mesh.HTTPAddress, mesh.MetricsAddress, prom.URL)

	step("Starting the Fledge manager")
	stopManager, err := startManager(ctx, manager, stack, prom.URL)
	if err != nil {
		return err
	}
	defer stopManager()
	done("manager running (log in %s)", filepath.Join(stack.Dir, "fledge-manager.log"))

	app := &app{k8s: stack.Client, mesh: mesh}
	step("Installing the app: Deployment %s/%s (2 replicas, v1) and its Canary", demoNamespace, demoApp)
	if err := app.install(ctx, opts.interval); err != nil {
		return err
	}
	mesh.SetTraffic([]meshsim.Mix{{Namespace: demoNamespace, Host: demoApp, RequestsPerSecond: 50}})
	if _, err := app.follow(ctx, "initialising", ""); err != nil {
		return err
	}
	fmt.Printf("  50 requests a second flow through the mesh. Try one yourself: curl -s -H 'Host: %s.%s' http://%s/\n", demoApp, demoNamespace, mesh.HTTPAddress)
	app.sample(ctx, 5, nil)

	query, err := analysis.NewPrometheus(analysis.PrometheusOptions{Address: prom.URL})
	if err != nil {
		return err
	}
	var results []result
	for _, r := range []struct {
		title string
		v     version
	}{
		{"Rollout 1: v2, a good version (no errors, 20 ms)", version{image: "example.com/podinfo:v2", errorRate: "0", latency: "20ms"}},
		{"Rollout 2: v3, a bad version (30 % of its requests fail)", version{image: "example.com/podinfo:v3", errorRate: "0.3", latency: "20ms"}},
	} {
		step("%s", r.title)
		started := time.Now()
		previous, err := app.rolloutID(ctx)
		if err != nil {
			return err
		}
		if err := app.release(ctx, r.v); err != nil {
			return err
		}
		c, err := app.follow(ctx, "rollout", previous)
		if err != nil {
			return err
		}
		res := result{title: r.title, phase: string(c.Status.Phase), took: since(started), message: c.Status.Message}
		res.canaryRequests, res.canaryErrors = app.canaryTraffic(ctx, query, time.Since(started))
		results = append(results, res)
		// istiod takes a moment to push the routes back to the sidecars (the canary keeps
		// running meanwhile, for scaleDownDelaySeconds): ask once they have them.
		time.Sleep(2 * time.Second)
		fmt.Println("  two seconds after the rollout, the mesh answers:")
		app.sample(ctx, 5, nil)
	}

	summary(results)
	if opts.keep {
		return keep(ctx, stack, mesh)
	}
	return nil
}

const (
	demoNamespace = "demo"
	demoApp       = "podinfo"
)

// startManager runs the real manager binary against the stack, its log in the stack's folder.
// It has the rights config/default gives it, as in a cluster.
func startManager(ctx context.Context, path string, stack *cluster.Cluster, prometheus string) (func(), error) {
	probe, err := freeAddress()
	if err != nil {
		return nil, err
	}
	kubeconfig, err := stack.ManagerKubeconfig(ctx)
	if err != nil {
		return nil, err
	}
	manager, err := cluster.StartProcess(stack.Dir, "fledge-manager", path,
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--metrics-bind-address=0",
		"--health-probe-bind-address="+probe,
		"--prometheus-address="+prometheus,
		"--cluster-name=demo",
	)
	if err != nil {
		return nil, err
	}
	stop := func() { _ = manager.Stop(10 * time.Second) }
	// Ready when its probe answers.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if err := manager.Running(); err != nil {
			return nil, err
		}
		if c, err := net.DialTimeout("tcp", probe, 200*time.Millisecond); err == nil {
			c.Close()
			return stop, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	return nil, errors.New("the manager did not start within a minute")
}

func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// keep leaves the stack running until Ctrl-C, for exploring it with kubectl.
func keep(ctx context.Context, stack *cluster.Cluster, mesh *meshsim.Sim) error {
	step("The stack keeps running; Ctrl-C stops it")
	fmt.Printf("  export KUBECONFIG=%s\n", stack.KubeconfigPath)
	fmt.Printf("  %s get canaries,deployments,virtualservices -n %s\n", stack.Assets.Kubectl(), demoNamespace)
	fmt.Printf("  curl -s -H 'Host: %s.%s' http://%s/\n", demoApp, demoNamespace, mesh.HTTPAddress)
	<-ctx.Done()
	return nil
}

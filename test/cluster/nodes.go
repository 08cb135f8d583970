package cluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fakeNodeAnnotation marks the nodes kwok manages.
const fakeNodeAnnotation = "kwok.x-k8s.io/node"

// createNodes registers fake nodes, removes the not-ready taint that admission puts on every
// new node (no node-lifecycle controller runs here to remove it), and waits until kwok reports
// them Ready.
func (c *Cluster) createNodes(ctx context.Context, count int) error {
	names := make([]string, count)
	for i := range count {
		names[i] = fmt.Sprintf("kwok-node-%d", i)
		node := fakeNode(names[i])
		if err := c.Client.Create(ctx, node); err != nil {
			return fmt.Errorf("create node %s: %w", names[i], err)
		}
		// A patch, not an update: kwok may have written the node since it was created.
		untaint := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"taints":null}}`))
		if err := c.Client.Patch(ctx, node, untaint); err != nil {
			return fmt.Errorf("untaint node %s: %w", names[i], err)
		}
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.processesRunning(); err != nil {
			return false, err
		}
		for _, name := range names {
			var node corev1.Node
			if err := c.Client.Get(ctx, client.ObjectKey{Name: name}, &node); err != nil {
				return false, err
			}
			if !nodeReady(&node) || len(node.Spec.Taints) > 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("wait for %d fake nodes to be Ready and untainted (logs in %s): %w", count, c.Dir, err)
	}
	return nil
}

func fakeNode(name string) *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("1000"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{fakeNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
}

func nodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

package cluster_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	istioapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var _ = Describe("Istio's CRD validation on the local API server", func() {
	var istio istioclient.Interface

	BeforeEach(func() {
		var err error
		istio, err = istioclient.NewForConfig(stack.Config)
		Expect(err).NotTo(HaveOccurred())
	})

	It("accepts a DestinationRule with two subsets and an 80/20 VirtualService", func(ctx context.Context) {
		dr := &istionetworkingv1.DestinationRule{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "app"},
			Spec: istioapiv1.DestinationRule{
				Host: "app",
				Subsets: []*istioapiv1.Subset{
					{Name: "primary", Labels: map[string]string{"app": "app-primary"}},
					{Name: "canary", Labels: map[string]string{"app": "app"}},
				},
			},
		}
		_, err := istio.NetworkingV1().DestinationRules("default").Create(ctx, dr, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		vs := &istionetworkingv1.VirtualService{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "app"},
			Spec: istioapiv1.VirtualService{
				Hosts: []string{"app"},
				Http: []*istioapiv1.HTTPRoute{{
					Name: "primary-canary",
					Route: []*istioapiv1.HTTPRouteDestination{
						{Destination: &istioapiv1.Destination{Host: "app", Subset: "primary"}, Weight: 80},
						{Destination: &istioapiv1.Destination{Host: "app", Subset: "canary"}, Weight: 20},
					},
				}},
			},
		}
		_, err = istio.NetworkingV1().VirtualServices("default").Create(ctx, vs, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		got, err := istio.NetworkingV1().VirtualServices("default").Get(ctx, "app", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Spec.Http[0].Route[0].Weight).To(Equal(int32(80)))
		Expect(got.Spec.Http[0].Route[1].Weight).To(Equal(int32(20)))
	})

	It("refuses a DestinationRule subset without a name", func(ctx context.Context) {
		dr := &istionetworkingv1.DestinationRule{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "nameless-subset"},
			Spec: istioapiv1.DestinationRule{
				Host:    "app",
				Subsets: []*istioapiv1.Subset{{Labels: map[string]string{"app": "app"}}},
			},
		}
		_, err := istio.NetworkingV1().DestinationRules("default").Create(ctx, dr, metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring("spec.subsets[0].name: Required value")))
	})

	It("refuses a VirtualService route without a destination host", func(ctx context.Context) {
		vs := &istionetworkingv1.VirtualService{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "hostless-route"},
			Spec: istioapiv1.VirtualService{
				Hosts: []string{"app"},
				Http: []*istioapiv1.HTTPRoute{{
					Route: []*istioapiv1.HTTPRouteDestination{{Destination: &istioapiv1.Destination{Subset: "canary"}, Weight: 100}},
				}},
			},
		}
		_, err := istio.NetworkingV1().VirtualServices("default").Create(ctx, vs, metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring("spec.http[0].route[0].destination.host: Required value")))
	})
})

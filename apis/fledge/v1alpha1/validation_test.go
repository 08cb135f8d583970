package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

var objectSeq atomic.Int32

// object builds an unstructured Fledge object of kind from a YAML spec, the way a person
// writes it, so that even values a typed client could not send (a bad duration) are tested.
func object(kind, spec string) *unstructured.Unstructured {
	var specMap map[string]any
	Expect(yaml.Unmarshal([]byte(spec), &specMap)).To(Succeed())
	u := &unstructured.Unstructured{Object: map[string]any{"spec": specMap}}
	u.SetAPIVersion(fledgev1alpha1.GroupVersion.String())
	u.SetKind(kind)
	u.SetNamespace("default")
	u.SetName(fmt.Sprintf("%s-%d", map[string]string{"Canary": "canary", "MetricTemplate": "template", "AlertProvider": "provider"}[kind], objectSeq.Add(1)))
	return u
}

func expectRejected(ctx context.Context, kind, spec, message string) {
	err := k8s.Create(ctx, object(kind, spec))
	Expect(err).To(HaveOccurred(), "the API server accepted a %s it should refuse:\n%s", kind, spec)
	Expect(err.Error()).To(ContainSubstring(message))
}

var _ = Describe("a Canary", func() {
	It("is accepted with only a target and a port, and gets safe defaults", func(ctx context.Context) {
		canary := &fledgev1alpha1.Canary{}
		canary.Namespace, canary.Name = "default", "minimal"
		canary.Spec.TargetRef.Name = "app"
		canary.Spec.Service.Port = 80
		Expect(k8s.Create(ctx, canary)).To(Succeed())

		var got fledgev1alpha1.Canary
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(canary), &got)).To(Succeed())
		Expect(got.Spec.TargetRef.APIVersion).To(Equal("apps/v1"))
		Expect(got.Spec.TargetRef.Kind).To(Equal("Deployment"))
		Expect(got.Spec.Service.PortName).To(Equal("http"))
		Expect(got.Spec.Analysis.Interval).NotTo(BeNil())
		Expect(got.Spec.Analysis.Interval.Duration.String()).To(Equal("1m0s"))
		Expect(got.Spec.Analysis.Threshold).To(Equal(int32(5)))
		Expect(got.Spec.ProgressDeadlineSeconds).To(HaveValue(Equal(int32(600))))
		Expect(got.Spec.SkipAnalysis).To(BeFalse())
		Expect(got.Spec.Suspend).To(BeFalse())
	})

	It("is accepted with every feature set", func(ctx context.Context) {
		Expect(k8s.Create(ctx, object("Canary", `
targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
progressDeadlineSeconds: 120
service:
  port: 9898
  targetPort: 8080
  hosts: [podinfo.example.com]
  gateways: [istio-system/public]
  timeout: 5s
  retries: {attempts: 3, perTryTimeout: 1s, retryOn: "5xx,connect-failure"}
  headers:
    request: {set: {x-fledge: "true"}, remove: [x-debug]}
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool: {maxConnections: 100, http2MaxRequests: 1000, idleTimeout: 30s}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
    tlsMode: ISTIO_MUTUAL
analysis:
  interval: 30s
  threshold: 3
  stepWeights: [5, 10, 25, 50, 75]
  mirror: {percentage: 50}
  iterations: 2
  sessionAffinity: {cookieName: canary, maxAge: 1h}
  testers:
  - headers: {x-team: {exact: qa}}
  faultInjection:
    dependency: payments
    delay: {fixedDelay: 2s, percentage: 50}
    abort: {httpStatus: 503, percentage: 10}
    iterations: 2
  metrics:
  - name: success-rate
    builtin: request-success-rate
    thresholdRange: {min: 99}
  - name: latency
    builtin: request-duration
    thresholdRange: {max: 500}
    interval: 1m
  - name: errors-vs-primary
    builtin: request-success-rate
    minRequests: 100
    compareToPrimary: {maxDecrease: 1}
  - name: latency-vs-primary
    builtin: request-duration
    compareToPrimary: {statistical: {direction: Increase, confidence: 0.99, maxEffectSize: 0.2}}
  - name: queue-depth
    templateRef: {name: queue-depth, namespace: monitoring}
    templateVariables: {queue: orders}
    thresholdRange: {min: 0, max: 100.5}
  alerts:
  - providerRef: {name: team-slack}
    severity: warn
`))).To(Succeed())
	})

	It("is accepted with existing subsets and no port", func(ctx context.Context) {
		Expect(k8s.Create(ctx, object("Canary", `
targetRef: {name: app-v2}
service: {name: app}
subsets: {destinationRule: app, stable: v1, candidate: v2}
`))).To(Succeed())
	})

	It("is accepted as an A/B test by header and cookie", func(ctx context.Context) {
		Expect(k8s.Create(ctx, object("Canary", `
targetRef: {name: app}
service: {port: 80}
analysis:
  iterations: 10
  match:
  - headers: {x-canary: {exact: insider}}
  - headers: {cookie: {regex: "^(.*?;)?(canary=always)(;.*)?$"}}
  - uri: {prefix: /beta/}
`))).To(Succeed())
	})

	DescribeTable("is refused at admission with a message that says what to fix",
		func(ctx context.Context, spec, message string) {
			expectRejected(ctx, "Canary", spec, message)
		},
		Entry("a target that is not a Deployment",
			`{targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: app}, service: {port: 80}}`,
			"targetRef must point at a Deployment"),
		Entry("a target without a name",
			`{targetRef: {kind: Deployment}, service: {port: 80}}`,
			"spec.targetRef.name: Required value"),
		Entry("no service port",
			`{targetRef: {name: app}, service: {}}`,
			"service.port is required"),
		Entry("existing subsets without the service name",
			`{targetRef: {name: app-v2}, service: {}, subsets: {destinationRule: app, stable: v1, candidate: v2}}`,
			"with subsets, set service.name to the existing Service"),
		Entry("existing subsets that are the same subset",
			`{targetRef: {name: app-v2}, service: {name: app}, subsets: {destinationRule: app, stable: v2, candidate: v2}}`,
			"subsets.stable and subsets.candidate must be different subsets"),
		Entry("a service port out of range",
			`{targetRef: {name: app}, service: {port: 70000}}`,
			"spec.service.port: Invalid value: 70000: spec.service.port in body should be less than or equal to 65535"),
		Entry("step weights out of order",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {stepWeights: [20, 10, 30]}}`,
			"stepWeights must be in ascending order without repeats"),
		Entry("a repeated step weight",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {stepWeights: [20, 20, 40]}}`,
			"stepWeights must be in ascending order without repeats"),
		Entry("a step weight of 0",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {stepWeights: [0, 50]}}`,
			"each of stepWeights must be within 1..100"),
		Entry("a step weight above 100",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {stepWeights: [50, 120]}}`,
			"each of stepWeights must be within 1..100"),
		Entry("maxWeight below stepWeight",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {stepWeight: 30, maxWeight: 20}}`,
			"maxWeight must be at least stepWeight"),
		Entry("stepWeights together with stepWeight",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {stepWeights: [10, 20], stepWeight: 10}}`,
			"set either stepWeights or stepWeight with maxWeight, not both"),
		Entry("a stepWeight above 100",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {stepWeight: 150}}`,
			"spec.analysis.stepWeight in body should be less than or equal to 100"),
		Entry("an interval under a second",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {interval: 500ms}}`,
			"interval must be at least 1s"),
		Entry("an interval that is not a duration",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {interval: 5 minutes}}`,
			"spec.analysis.interval in body should match"),
		Entry("a threshold of 0",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {threshold: 0}}`,
			"spec.analysis.threshold in body should be greater than or equal to 1"),
		Entry("a metric with both a built-in check and a template",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-success-rate, templateRef: {name: t}, thresholdRange: {min: 99}}]}}`,
			"a metric names exactly one check: set either builtin or templateRef"),
		Entry("a metric with neither a built-in check nor a template",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, thresholdRange: {min: 99}}]}}`,
			"a metric names exactly one check: set either builtin or templateRef"),
		Entry("an unknown built-in check",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: error-rate, thresholdRange: {max: 1}}]}}`,
			`Unsupported value: "error-rate"`),
		Entry("a metric without a threshold range or a comparison",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-success-rate}]}}`,
			"a metric needs thresholdRange (fixed bounds), compareToPrimary (relative to the primary), or both"),
		Entry("a comparison without bounds",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-success-rate, compareToPrimary: {}}]}}`,
			"compareToPrimary needs either bounds"),
		Entry("a comparison with bounds and a statistical test",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-duration, compareToPrimary: {maxIncrease: 5, statistical: {direction: Increase}}}]}}`,
			"compareToPrimary needs either bounds"),
		Entry("a statistical test without a direction",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-duration, compareToPrimary: {statistical: {}}}]}}`,
			"spec.analysis.metrics[0].compareToPrimary.statistical.direction: Required value"),
		Entry("a confidence level above 0.9999",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-duration, compareToPrimary: {statistical: {direction: Increase, confidence: 1}}}]}}`,
			"confidence must be within 0.5..0.9999, for example 0.95"),
		Entry("an empty threshold range",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-success-rate, thresholdRange: {}}]}}`,
			"thresholdRange needs min, max or both"),
		Entry("a threshold range with min above max",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-duration, thresholdRange: {min: 500, max: 100}}]}}`,
			"thresholdRange.min must not be greater than thresholdRange.max"),
		Entry("two metrics with one name",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-duration, thresholdRange: {max: 1}}, {name: m, builtin: request-success-rate, thresholdRange: {min: 99}}]}}`,
			"Duplicate value"),
		Entry("template variables without a template",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-duration, templateVariables: {a: b}, thresholdRange: {max: 1}}]}}`,
			"templateVariables are only used with templateRef"),
		Entry("a template variable longer than 1024 characters",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, templateRef: {name: t}, templateVariables: {a: `+strings.Repeat("x", 1025)+`}, thresholdRange: {max: 1}}]}}`,
			"each of templateVariables must be at most 1024 characters"),
		Entry("a statistical comparison that needs more points than it takes",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {metrics: [{name: m, builtin: request-duration, compareToPrimary: {statistical: {direction: Increase, samples: 10, minSamples: 20}}}]}}`,
			"minSamples must not exceed samples"),
		Entry("iterations without a match or a mirror",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {iterations: 5}}`,
			"iterations counts A/B or mirror intervals"),
		Entry("a match without iterations",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {match: [{headers: {x-canary: {exact: "1"}}}]}}`,
			"match (A/B testing) needs iterations"),
		Entry("a match together with step weights",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {iterations: 3, stepWeight: 10, match: [{headers: {x-canary: {exact: "1"}}}]}}`,
			"match (A/B testing) routes by request, not by weight"),
		Entry("a header match with both exact and prefix",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {iterations: 3, match: [{headers: {x-canary: {exact: "1", prefix: "1"}}}]}}`,
			"a string match needs exactly one of exact, prefix or regex"),
		Entry("a mirror with an A/B match",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {iterations: 3, mirror: {percentage: 10}, match: [{headers: {x-canary: {exact: "1"}}}]}}`,
			"mirror comes before weighted steps; it cannot be combined with match"),
		Entry("fault injection with neither a delay nor an abort",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {faultInjection: {dependency: payments}}}`,
			"faultInjection needs a delay, an abort or both"),
		Entry("fault injection in an A/B test",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {iterations: 2, match: [{headers: {x-canary: {exact: "1"}}}], faultInjection: {dependency: payments, abort: {httpStatus: 503}}}}`,
			"faultInjection runs after the first weighted step"),
		Entry("an empty match",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {iterations: 3, match: [{}]}}`,
			"a match needs at least one of headers, uri or queryParams"),
		Entry("an unknown alert severity",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {alerts: [{providerRef: {name: slack}, severity: critical}]}}`,
			`Unsupported value: "critical"`),
		Entry("a progress deadline of a few seconds",
			`{targetRef: {name: app}, service: {port: 80}, progressDeadlineSeconds: 5}`,
			"spec.progressDeadlineSeconds in body should be greater than or equal to 10"),
		Entry("a route timeout that is not a duration",
			`{targetRef: {name: app}, service: {port: 80, timeout: ten seconds}}`,
			"spec.service.timeout in body should match"),
		Entry("an unknown load balancer",
			`{targetRef: {name: app}, service: {port: 80, trafficPolicy: {loadBalancer: {simple: FASTEST}}}}`,
			`Unsupported value: "FASTEST"`),

		// What Istio's validation would refuse in the routes Fledge writes.
		Entry("an A/B match on an empty header name",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {iterations: 3, match: [{headers: {"": {exact: insider}}}]}}`,
			"each header name must be an HTTP token"),
		Entry("a tester header name with a space",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {testers: [{headers: {"x team": {exact: qa}}}]}}`,
			"each header name must be an HTTP token"),
		Entry("an empty header prefix",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {iterations: 3, match: [{headers: {x-canary: {prefix: ""}}}]}}`,
			"a header's prefix must not be empty"),
		Entry("an empty query parameter prefix",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {iterations: 3, match: [{queryParams: {beta: {prefix: ""}}}]}}`,
			"a query parameter's prefix must not be empty"),
		Entry("an empty regex",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {iterations: 3, match: [{uri: {regex: ""}}]}}`,
			"regex must not be empty"),
		Entry("a host that is not a DNS name",
			`{targetRef: {name: app}, service: {port: 80, hosts: ["web_app.example.com"]}}`,
			"each host must be a DNS name"),
		Entry("a wildcard in the middle of a host",
			`{targetRef: {name: app}, service: {port: 80, hosts: ["web.*.example.com"]}}`,
			"each host must be a DNS name"),
		Entry("the host * for the mesh",
			`{targetRef: {name: app}, service: {port: 80, hosts: ["*"]}}`,
			"hosts may hold * only for a VirtualService bound to gateways"),
		Entry("a gateway with two slashes",
			`{targetRef: {name: app}, service: {port: 80, gateways: ["istio-system/public/extra"]}}`,
			"each gateway must be mesh, a Gateway's name, or namespace/name"),
		Entry("a gateway in the old name.namespace form",
			`{targetRef: {name: app}, service: {port: 80, gateways: ["public.istio-system"]}}`,
			"each gateway must be mesh, a Gateway's name, or namespace/name"),
		Entry("a host under a wildcard host",
			`{targetRef: {name: app}, service: {port: 80, hosts: ["*.example.com", "web.example.com"], gateways: [istio-system/public]}}`,
			"hosts must not overlap"),
		Entry("the host * beside another",
			`{targetRef: {name: app}, service: {port: 80, hosts: ["*", "web"], gateways: [istio-system/public]}}`,
			"hosts must not overlap"),
		Entry("a host label over 63 characters",
			`{targetRef: {name: app}, service: {port: 80, hosts: ["a123456789012345678901234567890123456789012345678901234567890123.example.com"]}}`,
			"each label of a host (between dots) must be at most 63 characters"),
		Entry("a host whose last label is a number",
			`{targetRef: {name: app}, service: {port: 80, hosts: ["web.123"]}}`,
			"a host's last label must not be all digits"),
		Entry("a retry on a status code Go does not know",
			`{targetRef: {name: app}, service: {port: 80, retries: {attempts: 2, retryOn: "5xx,599"}}}`,
			"retryOn is a comma-separated list"),
		Entry("a gateway without a namespace before its slash",
			`{targetRef: {name: app}, service: {port: 80, gateways: ["/public"]}}`,
			"each gateway must be mesh, a Gateway's name, or namespace/name"),
		Entry("a route timeout under a millisecond",
			`{targetRef: {name: app}, service: {port: 80, timeout: 500us}}`,
			"timeout must be at least 1ms, in whole milliseconds"),
		Entry("a route timeout finer than a millisecond",
			`{targetRef: {name: app}, service: {port: 80, timeout: 1500us}}`,
			"timeout must be at least 1ms, in whole milliseconds"),
		Entry("a per-try timeout of zero",
			`{targetRef: {name: app}, service: {port: 80, retries: {attempts: 2, perTryTimeout: 0s}}}`,
			"perTryTimeout must be at least 1ms"),
		Entry("retries turned off with a retry condition",
			`{targetRef: {name: app}, service: {port: 80, retries: {attempts: 0, retryOn: 5xx}}}`,
			"attempts 0 turns retries off"),
		Entry("an unknown retry condition",
			`{targetRef: {name: app}, service: {port: 80, retries: {attempts: 2, retryOn: "5xx,on-tuesdays"}}}`,
			"retryOn is a comma-separated list"),
		Entry("retry conditions separated by a comma and a space",
			`{targetRef: {name: app}, service: {port: 80, retries: {attempts: 2, retryOn: "5xx, connect-failure"}}}`,
			"retryOn is a comma-separated list"),
		Entry("a connect timeout of zero",
			`{targetRef: {name: app}, service: {port: 80, trafficPolicy: {connectionPool: {connectTimeout: 0s}}}}`,
			"connectTimeout must be at least 1ms"),
		Entry("an outlier detection interval under a millisecond",
			`{targetRef: {name: app}, service: {port: 80, trafficPolicy: {outlierDetection: {interval: 100us}}}}`,
			"outlierDetection.interval must be at least 1ms"),
		Entry("mutual TLS without client certificates",
			`{targetRef: {name: app}, service: {port: 80, trafficPolicy: {tlsMode: MUTUAL}}}`,
			"tlsMode MUTUAL needs client certificates"),
		Entry("a fault dependency that is not a host",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {faultInjection: {dependency: "payments/v1", abort: {httpStatus: 503}}}}`,
			"dependency must be a host"),
		Entry("a fault delay under a millisecond",
			`{targetRef: {name: app}, service: {port: 80}, analysis: {faultInjection: {dependency: payments, delay: {fixedDelay: 10us}}}}`,
			"fixedDelay must be at least 1ms"),
	)

	It("is accepted with what Istio accepts at the edges", func(ctx context.Context) {
		Expect(k8s.Create(ctx, object("Canary", `
targetRef: {name: app}
service:
  port: 80
  hosts: ["*.example.com", web, web.prod.svc.cluster.local, 10.0.0.1]
  gateways: [istio-system/public, public]
  timeout: 1.5s
  retries: {attempts: 3, perTryTimeout: 250ms, retryOn: "5xx,gateway-error,503,retriable-status-codes"}
  trafficPolicy:
    connectionPool: {connectTimeout: 1ms}
analysis:
  iterations: 2
  match:
  - headers: {x-canary: {exact: ""}, ":authority": {prefix: web}, "X_Team.Name": {regex: "^(qa|ops)$"}, "x-o'brien": {exact: "1"}}
    uri: {prefix: ""}
`))).To(Succeed())
	})

	It("is accepted with the host * alone, on a gateway", func(ctx context.Context) {
		Expect(k8s.Create(ctx, object("Canary", `
targetRef: {name: app}
service: {port: 80, hosts: ["*"], gateways: [istio-system/public]}
`))).To(Succeed())
	})

	It("is accepted with a regex admission cannot judge; the manager judges it", func(ctx context.Context) {
		// CEL cannot compile a user's regex: the manager refuses it before it writes a route.
		Expect(k8s.Create(ctx, object("Canary", `
targetRef: {name: app}
service: {port: 80}
analysis:
  iterations: 2
  match:
  - headers: {x-user: {regex: "(["}}
`))).To(Succeed())
	})
})

var _ = Describe("a MetricTemplate", func() {
	It("is accepted with an address and a query, and gets safe defaults", func(ctx context.Context) {
		template := &fledgev1alpha1.MetricTemplate{}
		template.Namespace, template.Name = "default", "error-rate"
		template.Spec.Provider.Address = "http://prometheus.monitoring:9090"
		template.Spec.Query = `sum(rate(http_requests_total{namespace="{{ .Namespace }}"}[{{ .Interval }}]))`
		Expect(k8s.Create(ctx, template)).To(Succeed())

		var got fledgev1alpha1.MetricTemplate
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(template), &got)).To(Succeed())
		Expect(got.Spec.Provider.Type).To(Equal("prometheus"))
		Expect(got.Spec.Provider.Timeout).NotTo(BeNil())
		Expect(got.Spec.Provider.Timeout.Duration.String()).To(Equal("10s"))
	})

	DescribeTable("is refused at admission with a message that says what to fix",
		func(ctx context.Context, spec, message string) {
			expectRejected(ctx, "MetricTemplate", spec, message)
		},
		Entry("an address without a scheme",
			`{provider: {address: "prometheus:9090"}, query: up}`,
			"address must be an http:// or https:// URL with a host"),
		Entry("an address that is not http",
			`{provider: {address: "ftp://prometheus:9090"}, query: up}`,
			"address must be an http:// or https:// URL with a host"),
		Entry("an empty query",
			`{provider: {address: "http://prometheus:9090"}, query: ""}`,
			"spec.query in body should be at least 1 chars long"),
		Entry("insecureSkipVerify on plain http",
			`{provider: {address: "http://prometheus:9090", insecureSkipVerify: true}, query: up}`,
			"insecureSkipVerify only applies to an https:// address"),
		Entry("a query timeout of an hour",
			`{provider: {address: "http://prometheus:9090", timeout: 1h}, query: up}`,
			"timeout must be within 100ms..5m"),
		Entry("an unknown provider type",
			`{provider: {type: datadog, address: "http://prometheus:9090"}, query: up}`,
			`Unsupported value: "datadog"`),
	)
})

var _ = Describe("an AlertProvider", func() {
	It("is accepted with a webhook URL, and defaults to Slack", func(ctx context.Context) {
		provider := &fledgev1alpha1.AlertProvider{}
		provider.Namespace, provider.Name = "default", "team-slack"
		provider.Spec.WebhookURL = &fledgev1alpha1.SecretKeyRef{SecretName: "slack", Key: "url"}
		Expect(k8s.Create(ctx, provider)).To(Succeed())

		var got fledgev1alpha1.AlertProvider
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(provider), &got)).To(Succeed())
		Expect(got.Spec.Type).To(Equal("slack"))
	})

	It("is accepted with a bot token and a channel", func(ctx context.Context) {
		Expect(k8s.Create(ctx, object("AlertProvider", `{channel: "#deploys", botToken: {secretName: slack, key: token}}`))).To(Succeed())
	})

	DescribeTable("is refused at admission with a message that says what to fix",
		func(ctx context.Context, spec, message string) {
			expectRejected(ctx, "AlertProvider", spec, message)
		},
		Entry("no credentials",
			`{channel: "#deploys"}`,
			"set exactly one of botToken"),
		Entry("both a bot token and a webhook",
			`{channel: "#deploys", botToken: {secretName: a, key: token}, webhookURL: {secretName: b, key: url}}`,
			"set exactly one of botToken"),
		Entry("a bot token without a channel",
			`{botToken: {secretName: slack, key: token}}`,
			"a Slack bot token needs a channel to post to"),
		Entry("an unknown provider type",
			`{type: teams, webhookURL: {secretName: b, key: url}}`,
			`Unsupported value: "teams"`),
	)
})

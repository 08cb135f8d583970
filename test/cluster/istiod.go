package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	istioapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/cert"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// IstioValidationWebhook names the ValidatingWebhookConfiguration that sends every write of
// an Istio object to istiod, as Istio's installation does on a cluster.
const IstioValidationWebhook = "fledge-test-istio-validator"

// istioNamespace is where istiod runs, as in an installed Istio.
const istioNamespace = "istio-system"

// startIstiod runs Istio's control plane, pilot-discovery, against the local API server, and
// registers its validating webhook, so that the API server refuses a VirtualService or
// DestinationRule that a real Istio refuses, with Istio's own message. istiod serves the
// webhook on loopback with a certificate of the harness's for 127.0.0.1.
func (c *Cluster) startIstiod(ctx context.Context) error {
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: istioNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	dir := filepath.Join(c.Dir, "istiod")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caPEM, err := writeServingCert(dir)
	if err != nil {
		return fmt.Errorf("certificates for istiod's webhook: %w", err)
	}
	// An empty mesh configuration: Istio's defaults.
	meshConfig := filepath.Join(dir, "mesh.yaml")
	if err := os.WriteFile(meshConfig, []byte("{}\n"), 0o600); err != nil {
		return err
	}
	// istiod listens on ports picked free here; another suite's process may take one before
	// istiod binds it, so a start that finds its port taken is tried again on others.
	for attempt := 1; ; attempt++ {
		istiod, err := c.startIstiodOn(ctx, dir, meshConfig, caPEM)
		if err == nil {
			return nil
		}
		if attempt == 3 || istiod == nil || !strings.Contains(istiod.LogTail(50), "address already in use") {
			return err
		}
		istiod.Kill()
	}
}

// startIstiodOn starts istiod on free loopback ports, points the webhook at it, and waits
// until its validation is in force; it returns the process even when that fails.
func (c *Cluster) startIstiodOn(ctx context.Context, dir, meshConfig string, caPEM []byte) (*Process, error) {
	ports := map[string]int{}
	for _, name := range []string{"http", "https", "grpc", "monitoring"} {
		var err error
		if ports[name], err = freePort(); err != nil {
			return nil, err
		}
	}
	loopback := func(name string) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[name])) }
	istiod, err := StartProcessEnv(c.Dir, "istiod", c.Assets.Path(assetIstiod), istiodEnv,
		"discovery",
		"--kubeconfig="+c.KubeconfigPath,
		"--meshConfig="+meshConfig,
		"--httpAddr="+loopback("http"),
		"--httpsAddr="+loopback("https"),
		"--grpcAddr="+loopback("grpc"),
		"--monitoringAddr="+loopback("monitoring"),
		"--secureGRPCAddr=",
		"--tlsCertFile="+filepath.Join(dir, "tls.crt"),
		"--tlsKeyFile="+filepath.Join(dir, "tls.key"),
		"--caCertFile="+filepath.Join(dir, "ca.crt"),
		"--domain=cluster.local",
		"--log_output_level=default:warn",
		// Its debug page would take a fixed port, shared by every suite's istiod.
		"--ctrlz_port=0",
	)
	if err != nil {
		return nil, err
	}
	if err := c.registerIstioWebhook(ctx, "https://"+loopback("https")+"/validate", caPEM); err != nil {
		istiod.Kill()
		return nil, err
	}
	if err := c.waitForIstioValidation(ctx, istiod); err != nil {
		return istiod, err
	}
	c.procs = append(c.procs, istiod)
	c.istiod = istiod
	c.IstiodXDSAddress = loopback("grpc")
	return istiod, nil
}

// istiodEnv turns off what the tests do not use and would only slow istiod down or have it
// write into the cluster: its CA, the injection webhook, Gateway API and ambient mode.
var istiodEnv = []string{
	"POD_NAMESPACE=" + istioNamespace,
	"POD_NAME=istiod-local",
	"REVISION=default",
	"ENABLE_CA_SERVER=false",
	"INJECTION_WEBHOOK_CONFIG_NAME=",
	// istiod patches the caBundle of its own webhook configuration; the harness registers its
	// own under another name.
	"VALIDATION_WEBHOOK_CONFIG_NAME=",
	"PILOT_ENABLE_GATEWAY_API=false",
	"PILOT_ENABLE_AMBIENT=false",
}

func (c *Cluster) registerIstioWebhook(ctx context.Context, url string, caPEM []byte) error {
	none := admissionregistrationv1.SideEffectClassNone
	fail := admissionregistrationv1.Fail
	webhook := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: IstioValidationWebhook},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "validation.istio.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			TimeoutSeconds:          ptr.To[int32](10),
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups:   []string{"networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io"},
					APIVersions: []string{"*"},
					Resources:   []string{"*"},
				},
			}},
		}},
	}
	err := c.Client.Create(ctx, webhook)
	if apierrors.IsAlreadyExists(err) {
		// A start before this one registered it, for ports it could not have.
		existing := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err = c.Client.Get(ctx, client.ObjectKeyFromObject(webhook), existing); err == nil {
			existing.Webhooks = webhook.Webhooks
			err = c.Client.Update(ctx, existing)
		}
	}
	if err != nil {
		return fmt.Errorf("register istiod's validating webhook: %w", err)
	}
	return nil
}

// waitForIstioValidation waits until the API server asks istiod about Istio objects: a
// VirtualService with a regex that is not RE2 is refused with Istio's message.
func (c *Cluster) waitForIstioValidation(ctx context.Context, istiod *Process) error {
	bad := &istionetworkingv1.VirtualService{
		ObjectMeta: metav1.ObjectMeta{Namespace: istioNamespace, Name: "probe"},
		Spec: istioapiv1.VirtualService{
			Hosts: []string{"probe"},
			Http: []*istioapiv1.HTTPRoute{{
				Match: []*istioapiv1.HTTPMatchRequest{{Headers: map[string]*istioapiv1.StringMatch{
					"x-probe": {MatchType: &istioapiv1.StringMatch_Regex{Regex: "(["}},
				}}},
				Route: []*istioapiv1.HTTPRouteDestination{{Destination: &istioapiv1.Destination{Host: "probe"}}},
			}},
		},
	}
	var last error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := istiod.Running(); err != nil {
			return false, err
		}
		err := c.Client.Create(ctx, bad.DeepCopy(), client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), "denied the request") && strings.Contains(err.Error(), "regex") {
			return true, nil
		}
		last = err // nil: accepted; else istiod does not serve yet and the webhook call fails
		return false, nil
	})
	if err == nil {
		return nil
	}
	return fmt.Errorf("istiod's validation is not in force after two minutes (%v, last answer %v: an invalid regex must be refused); the end of its log:\n%s", err, last, istiod.LogTail(30))
}

// writeServingCert writes a certificate for 127.0.0.1 and the key to it (tls.crt, tls.key)
// into dir, with the CA that signed it (ca.crt), and returns the certificate chain in PEM,
// whose CA is the webhook's caBundle.
func writeServingCert(dir string) ([]byte, error) {
	// The chain holds the serving certificate, then the CA that signed it.
	chain, key, err := cert.GenerateSelfSignedCertKey("127.0.0.1", nil, []string{"localhost", "istiod." + istioNamespace + ".svc"})
	if err != nil {
		return nil, err
	}
	for name, data := range map[string][]byte{"ca.crt": chain, "tls.crt": chain, "tls.key": key} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return chain, nil
}

package install_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/util/cert"
)

// metricsServerName is the name the manager's metrics certificate is for, and the one its
// scrapers verify, as config/prometheus's ServiceMonitor does (serverName).
const metricsServerName = "fledge-metrics.fledge-system.svc"

// metricsCertificate is a serving certificate for the manager's metrics endpoint, as
// cert-manager would write it into a kubernetes.io/tls Secret: Dir holds tls.crt and tls.key
// (for --metrics-cert-dir), CAFile the CA that signed it (the Secret's ca.crt).
type metricsCertificate struct {
	Dir, CAFile string
	pool        *x509.CertPool
}

func issueMetricsCertificate(dir string) (*metricsCertificate, error) {
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey(metricsServerName, []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		return nil, err
	}
	// The serving certificate, then the CA that signed it.
	leaf, rest := pem.Decode(certPEM)
	ca, _ := pem.Decode(rest)
	if leaf == nil || ca == nil {
		return nil, errors.New("the generated certificate holds no CA")
	}
	c := &metricsCertificate{Dir: filepath.Join(dir, "metrics-cert"), pool: x509.NewCertPool()}
	c.CAFile = filepath.Join(c.Dir, "ca.crt")
	caPEM := pem.EncodeToMemory(ca)
	if !c.pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the generated CA does not parse")
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	for name, data := range map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": caPEM} {
		if err := os.WriteFile(filepath.Join(c.Dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// client reaches the metrics endpoint verifying its certificate, as Prometheus does.
func (c *metricsCertificate) client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: c.pool, ServerName: metricsServerName, MinVersion: tls.VersionTLS12},
	}}
}

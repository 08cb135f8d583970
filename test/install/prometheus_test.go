package install_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	dto "github.com/prometheus/client_model/go"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"

	"fledge.dev/fledge/test/cluster"
)

// promServer is the pinned Prometheus of `make assets`, configured as config/prometheus
// configures the Prometheus Operator's: it scrapes the manager over HTTPS, verifying its
// certificate, with a bearer token (job="fledge", honor_labels) and evaluates the alerts of rules.yaml. Its API asks for basic
// auth, so that the MetricTemplate of the install specs needs the credentials of its Secret.
type promServer struct {
	URL                string
	Username, Password string
	proc               *cluster.Process
	client             api.Client
	api                promv1.API
}

type promOptions struct {
	// Dir holds the configuration, the data and the log.
	Dir string
	// Binary is the Prometheus binary.
	Binary string
	// Target is the manager's metrics address (host:port), scraped with the token in TokenFile.
	Target, TokenFile string
	// RulesFile is a Prometheus rule file.
	RulesFile string
	// CAFile and ServerName verify the manager's certificate, as the ServiceMonitor's
	// tlsConfig does.
	CAFile, ServerName string
}

func startPrometheus(ctx context.Context, opts promOptions) (*promServer, error) {
	p := &promServer{Username: "fledge", Password: "install-test"}
	hash, err := bcrypt.GenerateFromPassword([]byte(p.Password), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	web := fmt.Sprintf("basic_auth_users:\n  %s: %s\n", p.Username, hash)
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
- job_name: fledge
  scheme: https
  metrics_path: /metrics
  honor_labels: true
  authorization:
    credentials_file: %q
  tls_config:
    ca_file: %q
    server_name: %q
  static_configs:
  - targets: [%q]
`, opts.RulesFile, opts.TokenFile, opts.CAFile, opts.ServerName, opts.Target)
	for name, content := range map[string]string{"prometheus.yml": config, "web.yml": web} {
		if err := os.WriteFile(filepath.Join(opts.Dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	p.proc, err = cluster.StartProcess(opts.Dir, "prometheus", opts.Binary,
		"--config.file="+filepath.Join(opts.Dir, "prometheus.yml"),
		"--web.config.file="+filepath.Join(opts.Dir, "web.yml"),
		"--storage.tsdb.path="+filepath.Join(opts.Dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--log.level=warn",
	)
	if err != nil {
		return nil, err
	}
	if err := p.connect(); err != nil {
		return p, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		// Prometheus refuses to start with a rule file it cannot load: that shows here.
		if err := p.proc.Running(); err != nil {
			return p, err
		}
		if _, err := p.api.Runtimeinfo(ctx); err == nil {
			return p, nil
		} else if time.Now().After(deadline) {
			return p, fmt.Errorf("Prometheus is not ready after a minute (log in %s): %w", opts.Dir, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *promServer) Stop() error { return p.proc.Stop(10 * time.Second) }

// connect makes the client_golang client of the server, with its basic auth.
func (p *promServer) connect() error {
	rt, err := promconfig.NewRoundTripperFromConfig(promconfig.HTTPClientConfig{
		BasicAuth: &promconfig.BasicAuth{Username: p.Username, Password: promconfig.Secret(p.Password)},
	}, "install-test")
	if err != nil {
		return err
	}
	p.client, err = api.NewClient(api.Config{Address: p.URL, RoundTripper: rt})
	if err != nil {
		return err
	}
	p.api = promv1.NewAPI(p.client)
	return nil
}

// query evaluates expr now and returns the number of series of the result.
func (p *promServer) query(ctx context.Context, expr string) (int, error) {
	value, _, _, err := p.api.Query(ctx, expr, time.Now())
	if err != nil {
		return 0, fmt.Errorf("%s: %w", expr, err)
	}
	vector, ok := value.(model.Vector)
	if !ok {
		return 0, fmt.Errorf("%s: a %s, not an instant vector", expr, value.Type())
	}
	return len(vector), nil
}

// metricNames parses expr with Prometheus's own parser (its parse_query API, the parser of
// the Prometheus version the project pins) and returns the metric names it selects.
// client_golang has no method for parse_query: the call goes through its client.
func (p *promServer) metricNames(ctx context.Context, expr string) ([]string, error) {
	u := p.client.URL("/api/v1/parse_query", nil)
	u.RawQuery = url.Values{"query": {expr}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	_, body, err := p.client.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	var answer struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   any    `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("parse_query %s: %w", expr, err)
	}
	if answer.Status != "success" {
		return nil, fmt.Errorf("parse_query %s: %s", expr, answer.Error)
	}
	names := map[string]bool{}
	var anonymous bool
	walkAST(answer.Data, func(node map[string]any) {
		if t := node["type"]; t != "vectorSelector" && t != "matrixSelector" {
			return
		}
		name, _ := node["name"].(string)
		if name == "" {
			// {__name__="..."} selects by name too; a selector with no name is refused below.
			matchers, _ := node["matchers"].([]any)
			for _, m := range matchers {
				m, _ := m.(map[string]any)
				if m["name"] == model.MetricNameLabel && m["type"] == "=" {
					name, _ = m["value"].(string)
				}
			}
		}
		if name == "" {
			anonymous = true
			return
		}
		names[name] = true
	})
	if anonymous {
		return nil, fmt.Errorf("%s selects series without naming their metric", expr)
	}
	return slices.Sorted(maps.Keys(names)), nil
}

// walkAST calls visit on every node of the JSON AST of parse_query.
func walkAST(node any, visit func(map[string]any)) {
	switch n := node.(type) {
	case map[string]any:
		visit(n)
		for _, child := range n {
			walkAST(child, visit)
		}
	case []any:
		for _, child := range n {
			walkAST(child, visit)
		}
	}
}

// alertRules returns the alerting rules Prometheus loaded, by name.
func (p *promServer) alertRules(ctx context.Context) (map[string]promv1.AlertingRule, error) {
	result, err := p.api.Rules(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]promv1.AlertingRule{}
	for _, g := range result.Groups {
		for _, r := range g.Rules {
			if alert, ok := r.(promv1.AlertingRule); ok {
				out[alert.Name] = alert
			}
		}
	}
	return out, nil
}

// targetHealth is the health of the scrape of job fledge ("up", "down" or "unknown").
func (p *promServer) targetHealth(ctx context.Context) (string, error) {
	targets, err := p.api.Targets(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range targets.Active {
		if t.ScrapePool == "fledge" {
			if t.LastError != "" {
				return string(t.Health), errors.New(t.LastError)
			}
			return string(t.Health), nil
		}
	}
	return "", errors.New("Prometheus has no target for job fledge")
}

// writeRuleFile writes the groups of the PrometheusRule of config/prometheus/rules.yaml as a
// Prometheus rule file (the operator hands Prometheus the same).
func writeRuleFile(path string) (ruleGroups, error) {
	objs, err := readObjects("config", "prometheus", "rules.yaml")
	if err != nil {
		return ruleGroups{}, err
	}
	if len(objs) != 1 || objs[0].GetKind() != "PrometheusRule" {
		return ruleGroups{}, errors.New("config/prometheus/rules.yaml holds no single PrometheusRule")
	}
	spec, err := yaml.Marshal(objs[0].Object["spec"])
	if err != nil {
		return ruleGroups{}, err
	}
	var groups ruleGroups
	if err := yaml.UnmarshalStrict(spec, &groups); err != nil {
		return ruleGroups{}, err
	}
	return groups, os.WriteFile(path, spec, 0o600)
}

// dashboardQuery is a PromQL expression of the dashboard: a panel's target, or the selector
// of a template variable's label_values().
type dashboardQuery struct {
	Where string
	Expr  string
}

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// dashboardQueries reads config/prometheus/dashboard.json.
func dashboardQueries() ([]dashboardQuery, error) {
	path, err := repoPath("config", "prometheus", "dashboard.json")
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var dash struct {
		Panels     []dashboardPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []dashboardQuery
	var walk func([]dashboardPanel)
	walk = func(panels []dashboardPanel) {
		for _, p := range panels {
			for _, t := range p.Targets {
				out = append(out, dashboardQuery{Where: fmt.Sprintf("panel %q target %s", p.Title, t.RefID), Expr: t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		sel := labelValues.FindStringSubmatch(q)
		if sel == nil {
			return nil, fmt.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
		}
		out = append(out, dashboardQuery{Where: "variable " + v.Name, Expr: sel[1]})
	}
	return out, nil
}

type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

var grafanaRange = regexp.MustCompile(`\$__(rate_interval|interval|range)\b`)

// grafanaExpand replaces Grafana's variables as Grafana would before querying: the ranges by
// 5m, and the dashboard's own variables by what selects the manager and every Canary.
func grafanaExpand(expr string) string {
	expr = grafanaRange.ReplaceAllString(expr, "5m")
	return strings.NewReplacer("$job", "fledge", "$namespace", ".*", "$canary", ".*").Replace(expr)
}

// declaredMetrics reads the metrics Fledge declares in its source: the Name of every
// prometheus.*Opts literal of the files, with the series names a histogram exposes.
func declaredMetrics(files ...string) (map[string]bool, error) {
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, file := range files {
		path, err := repoPath(file)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return nil, err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "prometheus" {
				return true
			}
			for _, elt := range lit.Elts {
				kv, ok := elt.(*ast.KeyValueExpr)
				if !ok || fmt.Sprint(kv.Key) != "Name" {
					continue
				}
				if s, ok := kv.Value.(*ast.BasicLit); ok && s.Kind == token.STRING {
					name, err := strconv.Unquote(s.Value)
					if err != nil {
						continue
					}
					for _, series := range seriesNames(name, sel.Sel.Name == "HistogramOpts", sel.Sel.Name == "SummaryOpts") {
						out[series] = true
					}
				}
			}
			return true
		})
	}
	return out, nil
}

// servedMetrics parses a scrape and returns the series names it exposes.
func servedMetrics(body string) (map[string]bool, map[string]*dto.MetricFamily, error) {
	text := expfmt.NewTextParser(model.UTF8Validation)
	families, err := text.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	out := map[string]bool{}
	for name, f := range families {
		for _, series := range seriesNames(name, f.GetType() == dto.MetricType_HISTOGRAM, f.GetType() == dto.MetricType_SUMMARY) {
			out[series] = true
		}
	}
	return out, families, nil
}

func seriesNames(name string, histogram, summary bool) []string {
	switch {
	case histogram:
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	case summary:
		return []string{name, name + "_sum", name + "_count"}
	}
	return []string{name}
}

// hasSample reports whether family has a sample whose labels include want.
func hasSample(families map[string]*dto.MetricFamily, family string, want map[string]string) bool {
	f, ok := families[family]
	if !ok {
		return false
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}

// loopback never goes through a proxy: everything the suite talks to listens on loopback.
var loopback = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

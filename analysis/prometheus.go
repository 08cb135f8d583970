package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
)

// Querier runs queries against a metrics provider.
type Querier interface {
	// Query returns the single value of an instant query at t; ErrNoData when the result is
	// empty or not a number.
	Query(ctx context.Context, query string, t time.Time) (float64, error)
	// QueryRange returns the points of a single series between start and end.
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]float64, error)
	// Ping checks that the provider answers.
	Ping(ctx context.Context) error
}

// ErrNoData means a query answered with nothing to judge: no series, or NaN.
var ErrNoData = errors.New("no data")

// QueryError is a query the provider refused or could not run; it quotes the query.
type QueryError struct {
	Query string
	// Rejected is true when the query itself is at fault: the provider refused it (bad
	// PromQL), or its result is not one number.
	Rejected bool
	Err      error
}

func (e *QueryError) Error() string {
	if e.Rejected {
		return fmt.Sprintf("the provider rejected the query %q: %v", e.Query, e.Err)
	}
	return fmt.Sprintf("query %q: %v", e.Query, e.Err)
}

func (e *QueryError) Unwrap() error { return e.Err }

// PrometheusOptions configure a Prometheus client.
type PrometheusOptions struct {
	Address string
	// Timeout of each query.
	Timeout time.Duration
	// BearerToken, or Username and Password, authenticate; CA is a PEM bundle to trust.
	BearerToken        string
	Username, Password string
	CA                 string
	InsecureSkipVerify bool
}

// Prometheus queries a Prometheus server through its HTTP API (client_golang's v1 API).
type Prometheus struct {
	api     promv1.API
	timeout time.Duration
}

// NewPrometheus returns a client for the server at opts.Address.
func NewPrometheus(opts PrometheusOptions) (*Prometheus, error) {
	cfg := promconfig.HTTPClientConfig{
		TLSConfig: promconfig.TLSConfig{CA: opts.CA, InsecureSkipVerify: opts.InsecureSkipVerify},
	}
	switch {
	case opts.BearerToken != "":
		cfg.Authorization = &promconfig.Authorization{Type: "Bearer", Credentials: promconfig.Secret(opts.BearerToken)}
	case opts.Username != "":
		cfg.BasicAuth = &promconfig.BasicAuth{Username: opts.Username, Password: promconfig.Secret(opts.Password)}
	}
	rt, err := promconfig.NewRoundTripperFromConfig(cfg, "fledge")
	if err != nil {
		return nil, fmt.Errorf("configure the connection to %s: %w", opts.Address, err)
	}
	client, err := api.NewClient(api.Config{Address: opts.Address, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", opts.Address, err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Prometheus{api: promv1.NewAPI(client), timeout: timeout}, nil
}

// Query implements Querier.
func (p *Prometheus) Query(ctx context.Context, query string, t time.Time) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	value, _, _, err := p.api.Query(ctx, query, t, promv1.WithTimeout(p.timeout))
	if err != nil {
		return 0, queryError(query, err)
	}
	var v float64
	switch result := value.(type) {
	case model.Vector:
		switch len(result) {
		case 0:
			return 0, ErrNoData
		case 1:
			v = float64(result[0].Value)
		default:
			return 0, &QueryError{Query: query, Rejected: true, Err: fmt.Errorf("%d series in the result; aggregate them to one (for example with sum)", len(result))}
		}
	case *model.Scalar:
		v = float64(result.Value)
	default:
		return 0, &QueryError{Query: query, Rejected: true, Err: fmt.Errorf("a %s result; the query must give one number", value.Type())}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, ErrNoData
	}
	return v, nil
}

// QueryRange implements Querier.
func (p *Prometheus) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	value, _, _, err := p.api.QueryRange(ctx, query, promv1.Range{Start: start, End: end, Step: step}, promv1.WithTimeout(p.timeout))
	if err != nil {
		return nil, queryError(query, err)
	}
	matrix, ok := value.(model.Matrix)
	if !ok {
		return nil, &QueryError{Query: query, Rejected: true, Err: fmt.Errorf("a %s result; the query must give one series", value.Type())}
	}
	switch len(matrix) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, &QueryError{Query: query, Rejected: true, Err: fmt.Errorf("%d series in the result; aggregate them to one (for example with sum)", len(matrix))}
	}
	points := make([]float64, 0, len(matrix[0].Values))
	for _, v := range matrix[0].Values {
		points = append(points, float64(v.Value))
	}
	return finite(points), nil
}

// Ping implements Querier.
func (p *Prometheus) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if _, err := p.api.Buildinfo(ctx); err != nil {
		return fmt.Errorf("the metrics provider does not answer: %w", err)
	}
	return nil
}

func queryError(query string, err error) error {
	var apiErr *promv1.Error
	rejected := errors.As(err, &apiErr) && apiErr.Type == promv1.ErrBadData
	return &QueryError{Query: query, Rejected: rejected, Err: err}
}

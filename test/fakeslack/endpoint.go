package fakeslack

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// endpoint serves a handler on a loopback address that can go down (connections refused) and
// come back up on the same address, the way a real outage looks to a client.
type endpoint struct {
	handler http.Handler
	addr    string
	// stop is closed by close: it releases the handlers that hang.
	stop chan struct{}

	mu     sync.Mutex
	ln     net.Listener
	srv    *http.Server
	closed bool
}

func startEndpoint(h http.Handler) (*endpoint, error) {
	e := &endpoint{handler: h, stop: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.addr = ln.Addr().String()
	e.serve(ln)
	return e, nil
}

func (e *endpoint) serve(ln net.Listener) {
	srv := &http.Server{Handler: e.handler, ReadHeaderTimeout: 10 * time.Second}
	e.ln, e.srv = ln, srv
	go func() { _ = srv.Serve(ln) }()
}

// down closes the listener and every open connection: clients get "connection refused" until up.
func (e *endpoint) down() {
	e.mu.Lock()
	ln, srv := e.ln, e.srv
	e.ln, e.srv = nil, nil
	e.mu.Unlock()
	if srv != nil {
		// Close the listener here: Serve may not have taken it yet, and then srv.Close
		// would leave it open a moment, long enough for a client to connect.
		_ = ln.Close()
		_ = srv.Close()
	}
}

// up listens again on the same address.
func (e *endpoint) up() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("fakeslack: the server is closed")
	}
	if e.srv != nil {
		return nil
	}
	// The port was ours a moment ago; retry briefly in case the kernel still holds it.
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", e.addr); err == nil {
			e.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("fakeslack: listen again on %s: %w", e.addr, err)
}

func (e *endpoint) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	close(e.stop)
	e.mu.Unlock()
	e.down()
}

// hang holds a request until the client gives up, the server goes down or closes.
func (e *endpoint) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-e.stop:
	}
}

// Fault is how one call goes wrong. The zero Fault is a call that works.
type Fault struct {
	// Status answers with this HTTP status instead of 200.
	Status int
	// RetryAfter is the Retry-After header of the answer, with Status 429.
	RetryAfter string
	// SlackError answers ok:false with this error code (the Web API), or is the body of the
	// error answer (a webhook: status 400 unless Status says otherwise).
	SlackError string
	// Hang never answers: the client has to give up.
	Hang bool
	// LostReply does the work, then answers 500, as when the response is lost on the way.
	// With Hang, it does the work and then never answers: the client cannot know it was done
	// (a controller stopped during the call, say).
	LostReply bool
}

// hangsFirst: a fault that hangs without doing the work.
func (f Fault) hangsFirst() bool { return f.Hang && !f.LostReply }

// faults are the queued and the standing faults of a server.
type faults struct {
	next    map[string][]Fault // by method
	outage  *Fault
	counted map[string]int // calls, by method
	played  map[string]int // calls that met a fault, by method
}

func newFaults() faults {
	return faults{next: map[string][]Fault{}, counted: map[string]int{}, played: map[string]int{}}
}

// take counts a call of method and returns the fault it meets.
func (f *faults) take(method string) Fault {
	f.counted[method]++
	var met Fault
	if q := f.next[method]; len(q) > 0 {
		met, f.next[method] = q[0], q[1:]
	} else if f.outage != nil {
		met = *f.outage
	}
	if met != (Fault{}) {
		f.played[method]++
	}
	return met
}

func (f *faults) clear() {
	f.next = map[string][]Fault{}
	f.outage = nil
}

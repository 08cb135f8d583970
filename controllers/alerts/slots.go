package alerts

import "sync"

// slots counts the workers each provider holds, to bound them.
type slots struct {
	mu   sync.Mutex
	held map[string]int
}

// acquire takes a worker slot of provider unless it holds limit already.
func (s *slots) acquire(provider string, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[provider] >= limit {
		return false
	}
	if s.held == nil {
		s.held = map[string]int{}
	}
	s.held[provider]++
	return true
}

// release gives back a slot acquire took.
func (s *slots) release(provider string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[provider]--; s.held[provider] <= 0 {
		delete(s.held, provider)
	}
}

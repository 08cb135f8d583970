package alerts

import "sync"

// slots bounds the provider calls each provider has in flight, and keeps, in order, the items
// that wait for one of its slots, so that a slot given back goes to the item that waited
// longest rather than to whichever polls first.
type slots struct {
	mu      sync.Mutex
	held    map[string]int
	waiting map[string][]item
}

// acquireOrWait takes a slot of provider unless it holds limit already; then it puts it (once)
// at the end of the provider's line, for release to hand it a slot later.
func (s *slots) acquireOrWait(provider string, limit int, it item) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held, s.waiting = map[string]int{}, map[string][]item{}
	}
	if s.held[provider] < limit {
		s.held[provider]++
		return true
	}
	for _, w := range s.waiting[provider] {
		if w == it {
			return false
		}
	}
	s.waiting[provider] = append(s.waiting[provider], it)
	return false
}

// release gives back a slot acquireOrWait took and returns the item first in line for it, if
// any: the caller queues it again.
func (s *slots) release(provider string) (item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[provider]--; s.held[provider] <= 0 {
		delete(s.held, provider)
	}
	line := s.waiting[provider]
	if len(line) == 0 {
		return item{}, false
	}
	next := line[0]
	if len(line) == 1 {
		delete(s.waiting, provider)
	} else {
		s.waiting[provider] = line[1:]
	}
	return next, true
}

package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memoryReading is one read of /proc/<pid>/status, in KiB.
type memoryReading struct {
	hwmKB int64 // VmHWM: the peak resident set since the process started
	rssKB int64 // VmRSS: the resident set now
}

// memorySampler reads the manager's memory once a second, so that the peak is known even if
// the process dies before the end.
type memorySampler struct {
	pid  int
	mu   sync.Mutex
	last memoryReading
	peak int64
	done chan struct{}
	once sync.Once
}

func startMemorySampler(pid int) *memorySampler {
	s := &memorySampler{pid: pid, done: make(chan struct{})}
	s.sampleNow()
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
				s.sampleNow()
			}
		}
	}()
	return s
}

// sampleNow reads the memory now; on an error (the process is gone) it keeps the last read.
func (s *memorySampler) sampleNow() memoryReading {
	r, err := readMemory(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.last = r
		s.peak = max(s.peak, r.hwmKB, r.rssKB)
	}
	return s.last
}

func (s *memorySampler) peakKB() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

func (s *memorySampler) stop() { s.once.Do(func() { close(s.done) }) }

func readMemory(pid int) (memoryReading, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memoryReading{}, fmt.Errorf("read the memory of pid %d: %w", pid, err)
	}
	defer f.Close()
	var r memoryReading
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), ":")
		if !ok {
			continue
		}
		switch key {
		case "VmHWM":
			r.hwmKB = parseKB(value)
		case "VmRSS":
			r.rssKB = parseKB(value)
		}
	}
	return r, scanner.Err()
}

// parseKB reads a value such as "  123456 kB".
func parseKB(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(s), " kB"), 10, 64)
	return n
}

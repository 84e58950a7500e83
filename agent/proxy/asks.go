package proxy

import (
	"sync"
	"time"
)

// The block page's "ask a parent" link names the blocked host in its
// query, and anything can be written there: a child could fill the
// parent's list with requests for sites that were never blocked, or
// with one site a thousand times. So a request is taken only for a host
// this client was just blocked on (recentBlocks), and at most as often
// as Config.Asks allows, the limiter the admin API's "ask" route uses.

// Bounds of the recent-blocks memory.
const (
	recentFor       = 10 * time.Minute // "just blocked"
	recentPerClient = 16               // hosts remembered per client
	recentClients   = 1024             // clients remembered
)

// recentBlocks remembers, per client, the last hosts it was blocked on.
type recentBlocks struct {
	mu sync.Mutex
	m  map[string][]recentBlock
}

type recentBlock struct {
	host string
	at   time.Time
}

// add remembers that client was blocked on host now, and reports whether
// this is a new visit: the first block of host for client in a minute.
func (r *recentBlocks) add(client, host string, now time.Time) (visit bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string][]recentBlock{}
	}
	bs, ok := r.m[client]
	if !ok && len(r.m) >= recentClients {
		r.forgetOldest(now)
	}
	visit = true
	for i, b := range bs {
		if b.host == host {
			visit = now.Sub(b.at) >= time.Minute
			bs = append(bs[:i], bs[i+1:]...)
			break
		}
	}
	if len(bs) >= recentPerClient {
		bs = bs[1:]
	}
	r.m[client] = append(bs, recentBlock{host: host, at: now})
	return visit
}

// had reports whether client was blocked on host within recentFor of now.
func (r *recentBlocks) had(client, host string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.m[client] {
		if b.host == host && now.Sub(b.at) < recentFor && !b.at.After(now) {
			return true
		}
	}
	return false
}

// forgetOldest drops the clients whose last block is stale, or else the
// one blocked longest ago.
func (r *recentBlocks) forgetOldest(now time.Time) {
	oldest, at := "", now
	for c, bs := range r.m {
		last := bs[len(bs)-1].at
		if now.Sub(last) >= recentFor {
			delete(r.m, c)
			continue
		}
		if oldest == "" || last.Before(at) {
			oldest, at = c, last
		}
	}
	if len(r.m) >= recentClients {
		delete(r.m, oldest)
	}
}

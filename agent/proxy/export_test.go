package proxy

// WithoutLane makes p serve every request through the net/http server and
// goproxy, as before the lane, so tests can compare the two.
func WithoutLane(p *Proxy) { p.noLane = true }

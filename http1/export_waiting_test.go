package http1

// WaitingRequests returns how many requests wait in line for a connection, over all hosts of t.
func WaitingRequests(t *Transport) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, hc := range t.hosts {
		n += len(hc.waiting)
	}
	return n
}

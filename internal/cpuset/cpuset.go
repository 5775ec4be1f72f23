// Package cpuset writes sets of CPU numbers as taskset(1) does, for the messages of the benchmark
// tools (eddy bench and the bench/ runner) that name the CPUs a process may run on.
package cpuset

import (
	"fmt"
	"strconv"
	"strings"
)

// Max bounds the CPU numbers List looks at: what a Linux CPU affinity set holds (unix.CPUSet).
const Max = 1024

// List writes the CPUs below Max for which allowed is true as taskset does, "0-3,6", or "none".
func List(allowed func(cpu int) bool) string {
	var parts []string
	for c := 0; c < Max; c++ {
		if !allowed(c) {
			continue
		}
		first := c
		for c+1 < Max && allowed(c+1) {
			c++
		}
		if c == first {
			parts = append(parts, strconv.Itoa(c))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", first, c))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

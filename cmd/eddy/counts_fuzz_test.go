package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseCounts checks bench's --echo-conns and --http-conns lists: parseCounts takes a comma list
// whose non-empty elements, trimmed, are each what strconv.Atoi reads as 1 or more, and returns them
// in order; and a list it returns, written back with commas, parses to the same counts.
func FuzzParseCounts(f *testing.F) {
	for _, s := range []string{"100,1000", "", ",", " 1 , 2 ", "0", "-1", "+5", "1,,2", "1;2", "99999999999999999999",
		"1\u00a0", "\t7\n", "0x10", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseCounts(s)
		var want []int
		ok := true
		for _, e := range strings.Split(s, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			n, aerr := strconv.Atoi(e)
			if aerr != nil || n < 1 {
				ok = false
				break
			}
			want = append(want, n)
		}
		if (err == nil) != ok || ok && !slices.Equal(got, want) {
			t.Fatalf("parseCounts(%q) = %v, %v; want %v, taken: %t", s, got, err, want, ok)
		}
		if err != nil {
			return
		}
		var b strings.Builder
		for i, n := range got {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(n))
		}
		if again, err := parseCounts(b.String()); err != nil || !slices.Equal(again, got) {
			t.Fatalf("parseCounts(%q) = %v, %v; want %v", b.String(), again, err, got)
		}
	})
}

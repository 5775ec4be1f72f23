package cpuset

import "testing"

func TestList(t *testing.T) {
	for _, tc := range []struct {
		set  map[int]bool
		want string
	}{
		{nil, "none"},
		{map[int]bool{0: true}, "0"},
		{map[int]bool{0: true, 1: true, 2: true, 3: true, 6: true}, "0-3,6"},
		{map[int]bool{1: true, 3: true, 4: true, Max - 1: true}, "1,3-4,1023"},
	} {
		if got := List(func(c int) bool { return tc.set[c] }); got != tc.want {
			t.Errorf("List(%v) = %q, want %q", tc.set, got, tc.want)
		}
	}
}

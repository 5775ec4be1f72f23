package http1

import (
	"net/url"
	"reflect"
	"testing"
)

// TestPlainOriginURLMatchesNetURL checks the short cut for plain origin-form targets against
// url.ParseRequestURI on every target "/a" followed by two octets of an assortment that covers
// each class: plain path octets, '?', '%', octets net/url escapes, obs-text.
func TestPlainOriginURLMatchesNetURL(t *testing.T) {
	octs := []byte("aZ09-_.~$&+,/:;=@?%#!*'()[]|^\"<>{}\\`\x80\xff")
	targets := []string{"/", "/?", "//", "/??", "/a?", "/?a", "/%41", "/a%2Fb"}
	for _, a := range octs {
		for _, b := range octs {
			targets = append(targets, "/a"+string([]byte{a, b}), "/"+string([]byte{a, b})+"?q")
		}
	}
	fast := 0
	for _, target := range targets {
		var got url.URL
		if !plainOriginURL(&got, target) {
			continue
		}
		fast++
		want, err := url.ParseRequestURI(target)
		if err != nil || !reflect.DeepEqual(&got, want) {
			t.Errorf("plainOriginURL(%q) = %#v; url.ParseRequestURI: %#v, %v", target, got, want, err)
		}
	}
	if fast == 0 {
		t.Fatal("no target took the short cut")
	}
}

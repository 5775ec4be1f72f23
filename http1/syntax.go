package http1

// Octet classes of RFC 9110 and RFC 3986, one bit each in the octets table.
const (
	isTchar     = 1 << iota // token character (RFC 9110 §5.6.2)
	isValue                 // field-value octet: HTAB, SP, VCHAR, obs-text
	isTarget                // request-target octet: VCHAR, obs-text
	isHost                  // Host octet: reg-name, IP-literal brackets, ':' port
	isScheme                // URI scheme octet after the first: ALPHA DIGIT + - .
	isHex                   // hex digit
	isPlainPath             // a path octet net/url leaves as it is: no escaping, no unescaping
)

var octets = buildOctets()

func buildOctets() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		alpha := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		digit := '0' <= c && c <= '9'
		if c == '\t' || c >= ' ' && c != 0x7f {
			t[c] |= isValue
		}
		if c > ' ' && c != 0x7f {
			t[c] |= isTarget
		}
		if alpha || digit {
			t[c] |= isTchar | isHost | isScheme
		}
		if digit || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			t[c] |= isHex
		}
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] |= isTchar
	}
	// unreserved and sub-delims, '%' of pct-encoded (also IPv6 zones),
	// brackets of IP-literal and ':' before the port.
	for _, c := range []byte("-._~!$&'()*+,;=%[]:") {
		t[c] |= isHost
	}
	for _, c := range []byte("+-.") {
		t[c] |= isScheme
	}
	// What url.shouldEscape(c, encodePath) is false for: unreserved octets and the reserved ones
	// a path keeps, '?' excepted.
	for c := 0; c < 256; c++ {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			t[c] |= isPlainPath
		}
	}
	for _, c := range []byte("-_.~$&+,/:;=@") {
		t[c] |= isPlainPath
	}
	return t
}

// isToken reports whether b is a non-empty token.
func isToken(b []byte) bool {
	for _, c := range b {
		if octets[c]&isTchar == 0 {
			return false
		}
	}
	return len(b) > 0
}

func isWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes optional whitespace (SP, HTAB) from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals s, ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// nextElement returns the next element of the comma-separated list in v at
// or after i, with optional whitespace trimmed, and the index after it.
// Empty elements are returned as empty slices (RFC 9110 §5.6.1 lets a
// recipient ignore them); the list is over when next exceeds len(v).
func nextElement(v []byte, i int) (elem []byte, next int) {
	j := i
	for j < len(v) && v[j] != ',' {
		j++
	}
	return trimOWS(v[i:j]), j + 1
}

// listContains reports whether the comma-separated list v has an element
// equal to token, ignoring ASCII case.
func listContains(v []byte, token string) bool {
	for i := 0; i <= len(v); {
		var e []byte
		e, i = nextElement(v, i)
		if equalFold(e, token) {
			return true
		}
	}
	return false
}

// fieldSpan locates one field line in a buffer: the name is
// [name, colon) and the value, trimmed of OWS, is [value, end).
type fieldSpan struct {
	name, colon, value, end int32
}

// splitField parses a field line (RFC 9112 §5) that starts at offset off of
// its buffer, without the line terminator. It refuses obs-fold and a line
// that starts with whitespace, whitespace before the colon, a name that is
// not a token, and a value with control characters (CR, LF and NUL among
// them; RFC 9110 §5.5).
func splitField(line []byte, off int) (fieldSpan, *Error) {
	if isWS(line[0]) {
		return fieldSpan{}, errObsFold
	}
	i := 0
	for i < len(line) && octets[line[i]]&isTchar != 0 {
		i++
	}
	switch {
	case i == len(line):
		return fieldSpan{}, errNoColon
	case line[i] == ':' && i > 0:
	case isWS(line[i]):
		return fieldSpan{}, errSpaceBeforeColon
	default:
		return fieldSpan{}, errFieldName
	}
	vs, ve := i+1, len(line)
	if !validValue(line[vs:ve]) {
		return fieldSpan{}, errFieldValue
	}
	for vs < ve && isWS(line[vs]) {
		vs++
	}
	for ve > vs && isWS(line[ve-1]) {
		ve--
	}
	return fieldSpan{int32(off), int32(off + i), int32(off + vs), int32(off + ve)}, nil
}

// validValue reports whether every octet of b may appear in a field value.
// It tests eight octets at a time: a word passes when none of its bytes is
// below 0x20 (other than HTAB) and none is 0x7f.
func validValue(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		w := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		// A byte has its high bit set in low when it is below 0x20, and
		// in del when it equals 0x7f; bytes >= 0x80 are masked out by ^w.
		low := (w - 0x2020202020202020) & ^w & highs
		x := w ^ 0x7f7f7f7f7f7f7f7f
		del := (x - ones) & ^x & highs
		if low|del != 0 {
			break // let the byte loop judge, HTAB included
		}
		b = b[8:]
	}
	for _, c := range b {
		if octets[c]&isValue == 0 {
			return false
		}
	}
	return true
}

package etls

// framer follows the TLS record framing of the bytes given to crypto/tls, so that crypto/tls is
// given at most the rest of the record it is reading: it then never holds a record it has not
// asked for, and the loop knows, without asking it, whether a whole record is waiting. That spares
// the loop a tls.Conn.Read that can only report errWouldBlock (with an allocation in crypto/tls's
// readFromUntil) after each record.
//
// Every record has a 5-byte header whose last two bytes are the length of the body that follows
// (RFC 8446 section 5.1; the same in TLS 1.2), from the first byte of a connection on, whatever the
// bytes are: garbage is framed the same way, and crypto/tls rejects it on its first header.
type framer struct {
	hdr  [5]byte
	hdrN int // bytes of the current record's header fed so far
	body int // bytes of the current record's body still to feed, once the header is whole
	// vers is the record version every record carries once the handshake is over (0x0303 for TLS
	// 1.2 and 1.3; setVersion), 0 before: a header with another one is crypto/tls's to refuse on
	// the header alone (protocol_version), as it does on a net.Conn.
	vers uint16
}

// setVersion records the negotiated version (tls.ConnectionState.Version), whose record version
// crypto/tls requires of every record from then on: TLS 1.3's records carry TLS 1.2's.
func (f *framer) setVersion(v uint16) {
	if v == 0x0304 {
		v = 0x0303
	}
	f.vers = v
}

// bodyLen is the body length in a whole header.
func bodyLen(h []byte) int { return int(h[3])<<8 | int(h[4]) }

// limit returns how many bytes of in (what comes next in the stream) belong to the current record.
func (f *framer) limit(in []byte) int {
	if f.hdrN < 5 {
		need := 5 - f.hdrN
		if len(in) < need {
			return len(in)
		}
		var h [5]byte
		copy(h[:], f.hdr[:f.hdrN])
		copy(h[f.hdrN:], in[:need])
		return min(len(in), need+bodyLen(h[:]))
	}
	return min(len(in), f.body)
}

// advance records that fed, which limit allowed, went to crypto/tls.
func (f *framer) advance(fed []byte) {
	for len(fed) > 0 {
		if f.hdrN < 5 {
			k := copy(f.hdr[f.hdrN:], fed)
			f.hdrN += k
			fed = fed[k:]
			if f.hdrN == 5 {
				f.body = bodyLen(f.hdr[:])
			}
		} else {
			k := min(f.body, len(fed))
			f.body -= k
			fed = fed[k:]
		}
		if f.hdrN == 5 && f.body == 0 {
			f.hdrN = 0 // the record is whole: the next one starts
		}
	}
}

// ready reports whether the rest of the current record (or, between records, a whole next one) is
// in a and b, which follow each other in the stream.
func (f *framer) ready(a, b []byte) bool {
	n := len(a) + len(b)
	if f.hdrN == 5 {
		return n >= f.body
	}
	need := 5 - f.hdrN
	if n < need {
		return false
	}
	var h [5]byte
	copy(h[:], f.hdr[:f.hdrN])
	k := copy(h[f.hdrN:], a)
	copy(h[f.hdrN+k:], b)
	// A length no TLS 1.3 record may have is crypto/tls's to refuse (record_overflow) on the header
	// alone, as it does: waiting for such a body would leave the connection stalled, for 64 KiB that a
	// hostile peer need never send. (A TLS 1.2 record of that size, up to 2 KiB larger, only costs a
	// Read that finds part of it.)
	//
	// Likewise a record version other than the negotiated one (plain text sent on an established
	// connection, say "GET / HTTP/1.1": 0x4554, and a body of 8239 bytes): crypto/tls refuses it on
	// the header, and waiting for its body left the connection open, and the peer without an answer,
	// for as long as the peer wished.
	return n >= need+bodyLen(h[:]) || bodyLen(h[:]) > maxRecordBody ||
		(f.vers != 0 && uint16(h[1])<<8|uint16(h[2]) != f.vers)
}

// maxRecordBody is the largest body of a TLS 1.3 record (RFC 8446 section 5.2: 2^14 + 256).
const maxRecordBody = 16384 + 256

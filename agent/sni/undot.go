package sni

// undotCopy handles the one hello crypto/tls refuses that we must still
// decide on: a server_name ending in '.'. raw is a sequence of complete
// handshake records holding one ClientHello (helloExtent checked the
// framing). If the hello's first host_name entry ends in '.', undotCopy
// returns a fresh copy of the records, re-framed, with that dot replaced by
// 'a' (so crypto/tls can validate everything else), and the name as sent.
// It never modifies raw, which is the client's data still in the reader.
func undotCopy(raw []byte) (fixed []byte, name string, ok bool) {
	if len(raw) < recordHeaderLen {
		return nil, "", false
	}
	// Reassemble the handshake message; records may fragment it anywhere.
	msg := make([]byte, 0, len(raw))
	for rest := raw; len(rest) > 0; {
		if len(rest) < recordHeaderLen {
			return nil, "", false
		}
		n := int(rest[3])<<8 | int(rest[4])
		if len(rest) < recordHeaderLen+n {
			return nil, "", false
		}
		msg = append(msg, rest[recordHeaderLen:recordHeaderLen+n]...)
		rest = rest[recordHeaderLen+n:]
	}
	start, end, ok := findServerName(msg)
	if !ok || end == start || msg[end-1] != '.' {
		return nil, "", false
	}
	name = string(msg[start:end])
	msg[end-1] = 'a'

	// Re-frame in maximal records with the client's record version; record
	// boundaries carry no meaning for the parse.
	fixed = make([]byte, 0, len(msg)+recordHeaderLen*(len(msg)/maxRecordPlaintext+1))
	for rest := msg; len(rest) > 0; {
		n := min(len(rest), maxRecordPlaintext)
		fixed = append(fixed, recordTypeHandshake, raw[1], raw[2], byte(n>>8), byte(n))
		fixed = append(fixed, rest[:n]...)
		rest = rest[n:]
	}
	return fixed, name, true
}

// findServerName walks a ClientHello handshake message (RFC 8446 section
// 4.1.2, RFC 6066 section 3) to the first host_name in the server_name
// extension and returns its offsets in msg. Every length is checked against
// what remains, so it cannot read out of bounds or loop: each step
// consumes at least one byte of a finite slice.
func findServerName(msg []byte) (start, end int, ok bool) {
	r := reader{b: msg, lim: len(msg)}
	if r.u8() != handshakeClientHello {
		return 0, 0, false
	}
	body := r.sub(r.u24())
	body.skip(2 + 32)     // legacy_version, random
	body.skip(body.u8())  // legacy_session_id
	body.skip(body.u16()) // cipher_suites
	body.skip(body.u8())  // legacy_compression_methods
	exts := body.sub(body.u16())
	for exts.ok() && !exts.empty() {
		typ := exts.u16()
		data := exts.sub(exts.u16())
		if typ != extensionServerName {
			continue
		}
		list := data.sub(data.u16())
		for list.ok() && !list.empty() {
			nameType := list.u8()
			n := list.u16()
			s := list.off
			list.skip(n)
			if list.ok() && nameType == 0 {
				return s, s + n, true
			}
		}
		return 0, 0, false
	}
	return 0, 0, false
}

// reader is a bounds-checked cursor over msg[off:lim]. Reads past lim set
// bad and return zero, so a walk over lying lengths just stops.
type reader struct {
	b        []byte
	off, lim int
	bad      bool
}

func (r *reader) ok() bool    { return !r.bad }
func (r *reader) empty() bool { return r.off >= r.lim }

func (r *reader) take(n int) (int, bool) {
	if r.bad || n < 0 || n > r.lim-r.off {
		r.bad = true
		return 0, false
	}
	s := r.off
	r.off += n
	return s, true
}

func (r *reader) skip(n int) { r.take(n) }

func (r *reader) u8() int {
	s, ok := r.take(1)
	if !ok {
		return 0
	}
	return int(r.b[s])
}

func (r *reader) u16() int {
	s, ok := r.take(2)
	if !ok {
		return 0
	}
	return int(r.b[s])<<8 | int(r.b[s+1])
}

func (r *reader) u24() int {
	s, ok := r.take(3)
	if !ok {
		return 0
	}
	return int(r.b[s])<<16 | int(r.b[s+1])<<8 | int(r.b[s+2])
}

// sub consumes n bytes and returns a reader confined to them; offsets stay
// relative to the whole message.
func (r *reader) sub(n int) *reader {
	s, ok := r.take(n)
	if !ok {
		return &reader{b: r.b, bad: true}
	}
	return &reader{b: r.b, off: s, lim: s + n}
}

package settings_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/greengate/greengate/agent/settings"
)

// FuzzDecode checks the decoder's properties on any input:
//   - it never panics;
//   - an error matches ErrDecode or ErrInvalid and comes with zero Settings;
//   - accepted settings validate, and Encode then Decode gives the same
//     canonical bytes (nothing is lost or invented in a round trip);
//   - ToPolicy accepts what Decode accepts.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(goodDoc))
	f.Add([]byte(`{"profiles":[{"name":"a","block":[]}]}`))
	f.Add([]byte(`{"profiles":[{"name":"a","block":["adult"],"hours":{"mon":["07:00-24:00"]}}],"users":{"x":"a"}}`))
	f.Add([]byte(`{"profiles":[{"name":"a","block":[]}],"PROFILES":[]}`))
	f.Add([]byte(`{"profiles":null}`))
	f.Add([]byte(`{"profiles":[{"name":"a","block":[]}],"users":{"A":"a","a":"a"},"listen":"127.0.0.1:1"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\xef\xbb\xbf{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := settings.DecodeBytes(data)
		if err != nil {
			if !errors.Is(err, settings.ErrDecode) && !errors.Is(err, settings.ErrInvalid) {
				t.Fatalf("error matches no sentinel: %v", err)
			}
			if fmt.Sprint(s) != fmt.Sprint(settings.Settings{}) {
				t.Fatalf("non-zero settings with an error: %+v", s)
			}
			return
		}
		if err := settings.Validate(s, nil); err != nil {
			t.Fatalf("accepted but invalid: %v", err)
		}
		enc, err := settings.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := settings.DecodeBytes(enc)
		if err != nil {
			t.Fatalf("own encoding refused: %v\n%s", err, enc)
		}
		enc2, _ := settings.Encode(s2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the document:\n%s\n%s", enc, enc2)
		}
		if _, _, err := settings.ToPolicy(s, nil); err != nil {
			t.Fatalf("ToPolicy refused accepted settings: %v", err)
		}
	})
}

// FuzzParseHash: ParseHash never panics, refuses out-of-bounds costs, and
// what it accepts has exactly one spelling (String gives the input back).
func FuzzParseHash(f *testing.F) {
	h, _ := settings.HashPassword("correct horse", cheap)
	f.Add(h)
	f.Add("$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$" + "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$YWJjZGVmZ2hpamtsbW5vcA")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := settings.ParseHash(s)
		if err != nil {
			if !errors.Is(err, settings.ErrBadHash) {
				t.Fatalf("error matches no sentinel: %v", err)
			}
			return
		}
		if p.String() != s {
			t.Fatalf("accepted a non-canonical spelling %q (canonical %q)", s, p.String())
		}
		if p.Params.Memory > 1<<20 || p.Params.Time > 16 || p.Params.Threads > 16 {
			t.Fatalf("accepted costs %+v", p.Params)
		}
	})
}

// FuzzParseSpan: accepted spans are in [0, 1440], non-empty, and print back
// as the input.
func FuzzParseSpan(f *testing.F) {
	for _, s := range []string{"07:00-08:00", "00:00-24:00", "23:59-24:00", "24:00-24:00", "9:00-10:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := settings.ParseSpan(s)
		if err != nil {
			return
		}
		if sp.Start < 0 || sp.End > 1440 || sp.Start >= sp.End {
			t.Fatalf("ParseSpan(%q) = %+v", s, sp)
		}
		back := fmt.Sprintf("%02d:%02d-%02d:%02d", sp.Start/60, sp.Start%60, sp.End/60, sp.End%60)
		if back != s {
			t.Fatalf("ParseSpan(%q) prints back as %q", s, back)
		}
	})
}

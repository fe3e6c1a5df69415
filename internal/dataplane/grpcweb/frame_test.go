package grpcweb

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"reflect"
	"testing"
)

func TestAppendTrailerFrame(t *testing.T) {
	tests := []struct {
		name     string
		trailers http.Header
		want     string
	}{
		{
			name:     "status only",
			trailers: http.Header{"Grpc-Status": {"0"}},
			want:     "\x80\x00\x00\x00\x0fgrpc-status:0\r\n",
		},
		{
			name: "status, message and custom trailers in lower case, sorted",
			trailers: http.Header{
				"Grpc-Status":  {"5"},
				"Grpc-Message": {"not%20found"},
				"Body-Length":  {"4"},
				"X-Multi":      {"a", "b"},
			},
			want: "\x80\x00\x00\x00\x4e" +
				"body-length:4\r\ngrpc-message:not%20found\r\ngrpc-status:5\r\nx-multi:a\r\nx-multi:b\r\n",
		},
		{
			name:     "no trailers",
			trailers: http.Header{},
			want:     "\x80\x00\x00\x00\x00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendTrailerFrame([]byte("prefix"), tt.trailers)
			if want := "prefix" + tt.want; string(got) != want {
				t.Fatalf("frame\n got %q\nwant %q", got, want)
			}
			// The length field says how long the block is.
			flags, payload, rest, ok := SplitFrame(got[len("prefix"):])
			if !ok || flags != FlagTrailer || len(rest) != 0 || len(payload) != len(tt.want)-frameHeaderLen {
				t.Fatalf("SplitFrame = %#x, %q, %q, %v", flags, payload, rest, ok)
			}
		})
	}
}

func TestSplitFrame(t *testing.T) {
	msg := AppendFrame(nil, 0, []byte("hello"))
	tests := []struct {
		name        string
		in          []byte
		wantOK      bool
		wantFlags   byte
		wantPayload string
		wantRest    string
	}{
		{"empty", nil, false, 0, "", ""},
		{"header cut", msg[:3], false, 0, "", ""},
		{"payload cut", msg[:len(msg)-1], false, 0, "", ""},
		{"exact", msg, true, 0, "hello", ""},
		{"followed by the next frame", append(append([]byte{}, msg...), 0x80, 0), true, 0, "hello", "\x80\x00"},
		{"empty payload", []byte{0x80, 0, 0, 0, 0}, true, 0x80, "", ""},
		{"length beyond any buffer", []byte{0, 0xff, 0xff, 0xff, 0xff, 1}, false, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags, payload, rest, ok := SplitFrame(tt.in)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				if !bytes.Equal(rest, tt.in) {
					t.Fatalf("rest %q, want the input back", rest)
				}
				return
			}
			if flags != tt.wantFlags || string(payload) != tt.wantPayload || string(rest) != tt.wantRest {
				t.Fatalf("got %#x %q %q, want %#x %q %q", flags, payload, rest, tt.wantFlags, tt.wantPayload, tt.wantRest)
			}
		})
	}
}

func TestParseTrailers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    http.Header
		wantErr bool
	}{
		{"CRLF lines", "grpc-status:0\r\ngrpc-message:ok\r\n", http.Header{"Grpc-Status": {"0"}, "Grpc-Message": {"ok"}}, false},
		{"whitespace after the colon, no final CRLF", "grpc-status: 3\r\nx: a b ", http.Header{"Grpc-Status": {"3"}, "X": {"a b"}}, false},
		{"LF lines and repeated names", "a:1\nA:2\n", http.Header{"A": {"1", "2"}}, false},
		{"value with a colon", "k:a:b\r\n", http.Header{"K": {"a:b"}}, false},
		{"empty", "", http.Header{}, false},
		{"no colon", "grpc-status\r\n", nil, true},
		{"empty name", ":0\r\n", nil, true},
		{"space in name", "grpc status:0\r\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTrailers([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformedTrailers) {
					t.Fatalf("err = %v, want ErrMalformedTrailers", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestTextDecoder(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	frame := string(AppendFrame(nil, 0, []byte("a message of some length")))
	tests := []struct {
		name    string
		pieces  []string // fed one Decode call each
		want    string
		wantErr bool
	}{
		{"one chunk", []string{b64([]byte(frame))}, frame, false},
		{"empty body", nil, "", false},
		{
			"several padded chunks in one piece",
			[]string{b64([]byte(frame[:1])) + b64([]byte(frame[1:7])) + b64([]byte(frame[7:]))},
			frame, false,
		},
		{
			"padded chunks split at odd places",
			[]string{b64([]byte(frame[:2]))[:3], b64([]byte(frame[:2]))[3:] + b64([]byte(frame[2:]))[:1], "", b64([]byte(frame[2:]))[1:]},
			frame, false,
		},
		{"one byte at a time", splitEvery(b64([]byte("xy"))+b64([]byte("z")), 1), "xyz", false},
		{"not base64", []string{"AB*D"}, "", true},
		{"padding inside a group", []string{"A=BC"}, "", true},
		{"too much padding", []string{"A==="}, "", true},
		{"non-canonical padding bits", []string{"AB=="}, "", true},
		{"newline", []string{"AAAA\nAAAA"}, "", true},
		{"ends mid-group", []string{"AAAAAA"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d TextDecoder
			var got []byte
			var err error
			for _, p := range tt.pieces {
				if got, err = d.Decode(got, []byte(p)); err != nil {
					break
				}
			}
			if err == nil {
				err = d.Close()
			}
			if tt.wantErr {
				if !errors.Is(err, ErrBadBase64) {
					t.Fatalf("err = %v, want ErrBadBase64 (decoded %q)", err, got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func splitEvery(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func TestTextEncoder(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	one := AppendFrame(nil, 0, []byte("one"))
	two := AppendFrame(nil, 0, []byte("second"))
	var e textEncoder
	// A frame completes only with its last byte; each goes out as its own
	// padded base64 chunk.
	steps := []struct {
		in   []byte
		want string
	}{
		{one[:4], ""},
		{one[4:], b64(one)},
		{append(append([]byte{}, two...), one[:1]...), b64(two)},
		{one[1:], b64(one)},
	}
	for i, s := range steps {
		if got := string(e.encode(nil, s.in)); got != s.want {
			t.Fatalf("step %d: %q, want %q", i, got, s.want)
		}
	}
}

// FuzzTextDecoder: whatever the input and however it is cut, the decoder
// does not panic, gives the same answer in pieces as in one go, and
// decodes any sequence of padded base64 chunks to their concatenation.
func FuzzTextDecoder(f *testing.F) {
	f.Add([]byte("hello, world"), uint8(3), uint8(5))
	f.Add([]byte{}, uint8(0), uint8(0))
	f.Add([]byte("\x00\x00\x00\x00\x02hi"), uint8(1), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk, cut uint8) {
		// As a client would send it: chunks of data, each padded.
		var enc []byte
		size := int(chunk)%7 + 1
		for rest := data; len(rest) > 0; {
			n := min(size, len(rest))
			enc = base64.StdEncoding.AppendEncode(enc, rest[:n])
			rest = rest[n:]
		}
		got, err := decodeInTwo(enc, int(cut))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("decode(%q) = %q, %v; want %q", enc, got, err, data)
		}

		// Arbitrary input: one go and two pieces agree.
		whole, errWhole := decodeInTwo(data, len(data))
		parts, errParts := decodeInTwo(data, int(cut))
		if (errWhole == nil) != (errParts == nil) || (errWhole == nil && !bytes.Equal(whole, parts)) {
			t.Fatalf("%q: whole %q, %v; in two at %d: %q, %v", data, whole, errWhole, cut, parts, errParts)
		}
	})
}

func decodeInTwo(in []byte, cut int) ([]byte, error) {
	cut = min(cut, len(in))
	var d TextDecoder
	out, err := d.Decode(nil, in[:cut])
	if err != nil {
		return nil, err
	}
	if out, err = d.Decode(out, in[cut:]); err != nil {
		return nil, err
	}
	return out, d.Close()
}

// FuzzTrailerFrame: a body's frames are split without panic, and any
// trailer block that parses re-encodes to a frame that parses the same.
func FuzzTrailerFrame(f *testing.F) {
	f.Add(AppendTrailerFrame(AppendFrame(nil, 0, []byte("msg")), http.Header{"Grpc-Status": {"0"}}))
	f.Add([]byte("\x80\x00\x00\x00\x10grpc-status: 13\r\n"))
	f.Add([]byte("\x80\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, body []byte) {
		for rest := body; ; {
			flags, payload, after, ok := SplitFrame(rest)
			if !ok {
				break
			}
			if len(after) >= len(rest) {
				t.Fatalf("SplitFrame made no progress on %q", rest)
			}
			rest = after
			if flags&FlagTrailer == 0 {
				continue
			}
			h, err := ParseTrailers(payload)
			if err != nil {
				continue
			}
			_, again, _, ok := SplitFrame(AppendTrailerFrame(nil, h))
			if !ok {
				t.Fatalf("re-encoded trailers of %q do not split", payload)
			}
			h2, err := ParseTrailers(again)
			if err != nil || !reflect.DeepEqual(h, h2) {
				t.Fatalf("trailers %q: parsed %v, re-encoded %q parsed %v, %v", payload, h, again, h2, err)
			}
		}
	})
}

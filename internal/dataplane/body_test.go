package dataplane

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// slowSource hands out its data a few bytes per read.
type slowSource struct {
	data string
	step int
}

func (s *slowSource) Read(p []byte) (int, error) {
	if s.data == "" {
		return 0, io.EOF
	}
	n := min(len(p), s.step, len(s.data))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

func TestRequestBodyReplay(t *testing.T) {
	var whole []byte
	b := newRequestBody(&slowSource{data: "hello, world", step: 3}, 64)
	b.onComplete(func(p []byte) { whole = p })

	first := b.reader()
	buf := make([]byte, 5)
	n, _ := io.ReadFull(first, buf)
	if string(buf[:n]) != "hello" {
		t.Fatalf("first attempt read %q", buf[:n])
	}
	second := b.reader()
	if _, err := first.Read(buf); !errors.Is(err, errBodyReplaced) {
		t.Errorf("replaced reader: %v, want errBodyReplaced", err)
	}
	got, err := io.ReadAll(second)
	if err != nil || string(got) != "hello, world" {
		t.Fatalf("retry read %q, %v; want the whole body", got, err)
	}
	if string(whole) != "hello, world" {
		t.Errorf("complete got %q", whole)
	}
	if !b.replayable() {
		t.Error("body within the limit must stay replayable")
	}
	third, _ := b.getBody()
	if got, _ := io.ReadAll(third); string(got) != "hello, world" {
		t.Errorf("third read %q", got)
	}
}

func TestRequestBodyOverLimit(t *testing.T) {
	called := false
	data := strings.Repeat("z", 100)
	b := newRequestBody(&slowSource{data: data, step: 7}, 10)
	b.onComplete(func([]byte) { called = true })
	got, err := io.ReadAll(b.reader())
	if err != nil || string(got) != data {
		t.Fatalf("read %d bytes, %v; want the whole body streamed", len(got), err)
	}
	if b.replayable() || called {
		t.Errorf("replayable %v, complete called %v; want neither past the limit", b.replayable(), called)
	}
	if _, err := b.getBody(); err == nil {
		t.Error("getBody past the limit: want an error")
	}
}

package loadgen

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestParseGolden parses outputs captured from real wrk 4.1.0 and h2load
// (nghttp2 1.52) runs against nginx and compares the result with
// testdata/<name>.golden.
func TestParseGolden(t *testing.T) {
	tests := []struct {
		file  string
		parse func(string) (Result, error)
	}{
		{"wrk-ok.txt", ParseWrk},
		{"wrk-close.txt", ParseWrk},
		{"wrk-404.txt", ParseWrk},
		{"wrk-refused.txt", ParseWrk},
		{"h2load-h2c.txt", ParseH2load},
		{"h2load-refused.txt", ParseH2load},
		{"h2load-404.txt", ParseH2load},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := tt.parse(string(in))
			got := fmt.Sprintf("requests=%d rps=%.2f p50=%v p99=%v errors=%d\n", r.Requests, r.RPS, r.P50, r.P99, r.Errors)
			if err != nil {
				got = "error: " + err.Error() + "\n"
			}
			compareGolden(t, filepath.Join("testdata", strings.TrimSuffix(tt.file, ".txt")+".golden"), got)
		})
	}
}

func TestParseH2loadLog(t *testing.T) {
	in, err := os.ReadFile("testdata/h2load-log.tsv")
	if err != nil {
		t.Fatal(err)
	}
	p50, p99, err := ParseH2loadLog(string(in))
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "testdata/h2load-log.golden", fmt.Sprintf("p50=%v p99=%v\n", p50, p99))

	for _, bad := range []string{"", "1\t200\n", "1\t200\tx\n", "1\t200\t-5\n"} {
		if _, _, err := ParseH2loadLog(bad); err == nil {
			t.Errorf("ParseH2loadLog(%q): no error", bad)
		}
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := Percentile(ds, tt.p); got != tt.want {
			t.Errorf("Percentile(1..100ms, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("one sample: %v", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"wrk-ok.txt", "wrk-404.txt", "h2load-h2c.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseWrk(s)
		_, _ = ParseH2load(s)
		_, _, _ = ParseH2loadLog(s)
	})
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s:\n got %s want %s", path, got, want)
	}
}

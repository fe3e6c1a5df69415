package procstat

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	master := readFile(t, "testdata/nginx-master.stat")
	worker := readFile(t, "testdata/nginx-worker.stat")
	tests := []struct {
		name, in string
		want     Stat
		wantErr  string
	}{
		// Captured from nginx 1.22: a master and its worker.
		{name: "nginx master", in: master, want: Stat{PID: 8226, PPID: 1, Comm: "nginx", UTime: 0, STime: 0}},
		{name: "nginx worker", in: worker, want: Stat{PID: 8604, PPID: 8226, Comm: "nginx", UTime: 100, STime: 240}},
		{name: "comm with spaces and parentheses", in: strings.Replace(worker, "(nginx)", "(a) b (c)", 1),
			want: Stat{PID: 8604, PPID: 8226, Comm: "a) b (c", UTime: 100, STime: 240}},
		{name: "empty", in: "", wantErr: "no (comm)"},
		{name: "truncated", in: "1 (x) S 0 1 1", wantErr: "fields after comm"},
		{name: "bad number", in: strings.Replace(worker, " 100 240 ", " x 240 ", 1), wantErr: "stat field 14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.CUTime, got.CSTime = 0, 0
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseStatusHWM(t *testing.T) {
	got, err := ParseStatusHWM(readFile(t, "testdata/nginx-master.status"))
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(wantMasterHWMkB(t)) * 1024; got != want {
		t.Errorf("VmHWM = %d, want %d", got, want)
	}
	if got, err := ParseStatusHWM("Name:\tkthreadd\n"); got != 0 || err != nil {
		t.Errorf("kernel thread: %d, %v", got, err)
	}
	if _, err := ParseStatusHWM("VmHWM:\t12 MB\n"); err == nil {
		t.Error("unit MB accepted")
	}
}

// wantMasterHWMkB is the VmHWM line of the captured status, read
// independently of the parser.
func wantMasterHWMkB(t *testing.T) int {
	for _, l := range strings.Split(readFile(t, "testdata/nginx-master.status"), "\n") {
		var kb int
		if _, err := fmt.Sscanf(l, "VmHWM: %d kB", &kb); err == nil {
			return kb
		}
	}
	t.Fatal("no VmHWM in testdata")
	return 0
}

// TestTreeAndMeasure builds a /proc look-alike from the captured nginx
// files: master 10 with workers 11 and 12, 12 with a helper 13, and an
// unrelated process 20. The tree's usage is the sum over 10..13.
func TestTreeAndMeasure(t *testing.T) {
	dir := t.TempDir()
	worker := readFile(t, "testdata/nginx-worker.stat")
	status := readFile(t, "testdata/nginx-master.status")
	hwm := uint64(wantMasterHWMkB(t)) * 1024
	procs := map[int]int{10: 1, 11: 10, 12: 10, 13: 12, 20: 1}
	for pid, ppid := range procs {
		stat := strings.Replace(worker, "8604 (nginx) S 8226", fmt.Sprintf("%d (nginx) S %d", pid, ppid), 1)
		p := filepath.Join(dir, strconv.Itoa(pid))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(p, "stat"), stat)
		writeFile(t, filepath.Join(p, "status"), status)
	}
	if err := os.MkdirAll(filepath.Join(dir, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	pids, err := Tree(dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pids)
	if want := []int{10, 11, 12, 13}; !slices.Equal(pids, want) {
		t.Errorf("Tree = %v, want %v", pids, want)
	}
	u, err := Measure(dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Each captured worker line has utime 100 + stime 240 and no
	// children's time.
	want := Usage{CPUTicks: 4 * 340, PeakRSS: 4 * hwm, Processes: 4}
	if u != want {
		t.Errorf("Measure = %+v, want %+v", u, want)
	}
	if got := u.CPUSeconds(); got != 13.6 {
		t.Errorf("CPUSeconds = %v, want 13.6", got)
	}
	if _, err := Measure(dir, 99); err == nil {
		t.Error("Measure of a missing process: no error")
	}
}

// TestMeasureSelf reads the real /proc entry of the test process and
// resets its peak RSS, which the benchmark does for each proxy.
func TestMeasureSelf(t *testing.T) {
	// The harness runs on Linux only; /proc is what it measures with.
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Fatalf("no /proc on this system: %v", err)
	}
	u, err := Measure("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.Processes < 1 || u.PeakRSS == 0 {
		t.Errorf("Measure(self) = %+v, want at least one process with a peak RSS", u)
	}
	if err := ResetPeak("/proc", os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseStat(f *testing.F) {
	for _, p := range []string{"testdata/nginx-master.stat", "testdata/nginx-worker.stat"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseStat(s)
		_, _ = ParseStatusHWM(s)
	})
}

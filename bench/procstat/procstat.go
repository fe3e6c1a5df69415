// Package procstat reads the CPU time and peak memory of a process tree
// from /proc, so the load benchmark can charge a proxy for every process
// and thread it runs (nginx and HAProxy fork workers; Go runtimes run many
// threads, which /proc/PID/stat already sums).
package procstat

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ClockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat. It
// is 100 on every Linux architecture the benchmark runs on.
const ClockTicks = 100

// Stat is the part of /proc/PID/stat the benchmark uses.
type Stat struct {
	PID, PPID int
	Comm      string
	// UTime and STime are the CPU time the process spent in user and
	// kernel mode; CUTime and CSTime that of its waited-for children,
	// in clock ticks.
	UTime, STime, CUTime, CSTime uint64
}

// CPUTicks is the process's own user and system time.
func (s Stat) CPUTicks() uint64 { return s.UTime + s.STime }

// ParseStat reads the content of /proc/PID/stat. The command name is in
// parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func ParseStat(line string) (Stat, error) {
	var s Stat
	open := strings.IndexByte(line, '(')
	close := strings.LastIndexByte(line, ')')
	if open < 0 || close < open {
		return s, fmt.Errorf("stat: no (comm) in %q", truncate(line))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return s, fmt.Errorf("stat: pid: %w", err)
	}
	s.PID, s.Comm = pid, line[open+1:close]
	// Fields after comm, numbered from 3 as in proc(5): state(3) ppid(4)
	// ... utime(14) stime(15) cutime(16) cstime(17).
	f := strings.Fields(line[close+1:])
	if len(f) < 15 {
		return s, fmt.Errorf("stat: %d fields after comm, want at least 15", len(f))
	}
	field := func(n int) (uint64, error) {
		v, err := strconv.ParseInt(f[n-3], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat field %d: %w", n, err)
		}
		return uint64(max(v, 0)), nil
	}
	var ppid uint64
	for _, p := range []struct {
		n   int
		dst *uint64
	}{{4, &ppid}, {14, &s.UTime}, {15, &s.STime}, {16, &s.CUTime}, {17, &s.CSTime}} {
		if *p.dst, err = field(p.n); err != nil {
			return s, err
		}
	}
	s.PPID = int(ppid)
	return s, nil
}

// ParseStatusHWM returns VmHWM, the peak resident set size, in bytes from
// the content of /proc/PID/status. A kernel thread has none: 0.
func ParseStatusHWM(status string) (uint64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status: VmHWM: want \"<n> kB\", got %q", rest)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status: VmHWM: %w", err)
		}
		return kb * 1024, nil
	}
	return 0, nil
}

// Usage is the CPU time and summed peak RSS of a process tree.
type Usage struct {
	// CPUTicks is the user and system time of every live process of the
	// tree plus what its members collected from children that exited.
	CPUTicks uint64
	// PeakRSS is the sum of VmHWM over the live processes, in bytes.
	PeakRSS uint64
	// Processes is how many processes the tree had.
	Processes int
}

// CPUSeconds converts CPUTicks to seconds.
func (u Usage) CPUSeconds() float64 { return float64(u.CPUTicks) / ClockTicks }

// Tree returns the PIDs of root and all its descendants, read from
// procDir (normally "/proc").
func Tree(procDir string, root int) ([]int, error) {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procDir, e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		s, err := ParseStat(string(b))
		if err != nil {
			continue
		}
		children[s.PPID] = append(children[s.PPID], pid)
	}
	if _, err := os.Stat(filepath.Join(procDir, strconv.Itoa(root))); err != nil {
		return nil, fmt.Errorf("process %d: %w", root, err)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// Measure sums the usage of the process tree under root.
func Measure(procDir string, root int) (Usage, error) {
	pids, err := Tree(procDir, root)
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for _, pid := range pids {
		dir := filepath.Join(procDir, strconv.Itoa(pid))
		b, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		s, err := ParseStat(string(b))
		if err != nil {
			return u, fmt.Errorf("%s/stat: %w", dir, err)
		}
		u.CPUTicks += s.CPUTicks() + s.CUTime + s.CSTime
		b, err = os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue
		}
		hwm, err := ParseStatusHWM(string(b))
		if err != nil {
			return u, fmt.Errorf("%s/status: %w", dir, err)
		}
		u.PeakRSS += hwm
		u.Processes++
	}
	return u, nil
}

// ResetPeak resets VmHWM of every process of the tree to its current RSS
// (writing 5 to /proc/PID/clear_refs), so the next Measure reports the
// peak of the interval in between. It needs to own the processes or be
// root.
func ResetPeak(procDir string, root int) error {
	pids, err := Tree(procDir, root)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		path := filepath.Join(procDir, strconv.Itoa(pid), "clear_refs")
		if err := os.WriteFile(path, []byte("5"), 0); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("reset peak RSS: %w", err)
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

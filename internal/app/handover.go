//go:build unix

package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/listener"
)

// Listener hand-over between an old and a new gateway process, over a
// unix socket, in the manner of HAProxy's "-x" socket transfer:
//
//	new → old   "HANDOVER 1\n"
//	old → new   {"names":[...]}\n, with the listening descriptors attached
//	            (SCM_RIGHTS), one per name: "data:<addr>", "admin:<addr>",
//	            "status:<addr>"
//	new → old   "READY\n" once the new process serves its configuration
//	old → new   "BYE\n" after closing its hand-over socket
//
// Both processes then accept from the same kernel sockets, so no
// connection waits in a queue that disappears: the old process stops
// accepting and drains what it has, the new one serves everything new.
// With SO_REUSEPORT alone, closing the old process's sockets resets the
// connections still in their accept queues (Linux, unless
// net.ipv4.tcp_migrate_req is set).
const (
	handoverHello = "HANDOVER 1"
	handoverReady = "READY"
	handoverBye   = "BYE"
	// maxHandoverFiles is the kernel's limit of descriptors in one
	// SCM_RIGHTS message (SCM_MAX_FD).
	maxHandoverFiles = 253
)

type handoverOffer struct {
	Names []string `json:"names"`
}

// predecessor is an old gateway process whose sockets this one took.
type predecessor struct {
	conn *net.UnixConn
	r    *bufio.Reader
}

// takeOver asks the process serving path for its sockets. It returns nil
// and no error when nothing serves path (a stale socket file is removed).
func takeOver(path string) (*predecessor, map[string]net.Listener, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil, nil
	case errors.Is(err, syscall.ECONNREFUSED):
		// A process that died without removing its socket.
		_ = os.Remove(path)
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("hand-over socket %s: %w", path, err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, handoverHello+"\n"); err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("hand-over: %w", err)
	}
	offer, files, err := readOffer(c)
	_ = c.SetDeadline(time.Time{})
	if err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("hand-over from %s: %w", path, err)
	}
	lns := make(map[string]net.Listener, len(files))
	for i, f := range files {
		ln, err := net.FileListener(f)
		_ = f.Close()
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			_ = c.Close()
			return nil, nil, fmt.Errorf("hand-over: socket %s: %w", offer.Names[i], err)
		}
		lns[offer.Names[i]] = ln
	}
	return &predecessor{conn: c, r: bufio.NewReader(c)}, lns, nil
}

// readOffer reads the offer line and the descriptors sent with it. The
// descriptors arrive with the first bytes of the line; the rest of the
// line may take more reads.
func readOffer(c *net.UnixConn) (handoverOffer, []*os.File, error) {
	var offer handoverOffer
	var line []byte
	var files []*os.File
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(4*maxHandoverFiles))
	for !strings.Contains(string(line), "\n") {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			fs, perr := parseRights(oob[:oobn])
			files = append(files, fs...)
			if perr != nil {
				err = perr
			}
		}
		line = append(line, buf[:n]...)
		if err != nil {
			closeFiles(files)
			return offer, nil, err
		}
		if n == 0 {
			closeFiles(files)
			return offer, nil, io.ErrUnexpectedEOF
		}
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(line))), &offer); err != nil {
		closeFiles(files)
		return offer, nil, fmt.Errorf("bad offer: %w", err)
	}
	if len(offer.Names) != len(files) {
		closeFiles(files)
		return offer, nil, fmt.Errorf("offer names %d sockets but carries %d", len(offer.Names), len(files))
	}
	return offer, files, nil
}

func parseRights(oob []byte) ([]*os.File, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var out []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			out = append(out, os.NewFile(uintptr(fd), "handed-over"))
		}
	}
	return out, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}

// release tells the predecessor this process serves, and waits until it
// has let go of the hand-over socket path.
func (p *predecessor) release() error {
	defer p.conn.Close()
	_ = p.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(p.conn, handoverReady+"\n"); err != nil {
		return err
	}
	line, err := p.r.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != handoverBye {
		return fmt.Errorf("unexpected answer %q", line)
	}
	return nil
}

// startHandover takes the sockets of a predecessor serving the topology's
// hand-over path, if any. Call before binding anything; finishHandover
// completes it once the gateway is built.
func (g *Gateway) startHandover(context.Context) (map[string]net.Listener, error) {
	path := g.opts.Topology.HandoverSocket
	if path == "" {
		return nil, nil
	}
	pred, lns, err := takeOver(path)
	if err != nil {
		return nil, err
	}
	if pred != nil {
		g.logger.Info("took over the listening sockets of the previous process", "sockets", len(lns))
		g.lc.predecessor = pred
	}
	return lns, nil
}

// finishHandover serves the hand-over path: at once when there was no
// predecessor; else once this gateway is ready, the predecessor told so
// and gone from the path.
func (g *Gateway) finishHandover(ctx context.Context) error {
	path := g.opts.Topology.HandoverSocket
	pred := g.lc.predecessor
	if path == "" {
		return nil
	}
	if pred == nil {
		return g.listenHandover(path)
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := g.WaitReady(ctx); err != nil {
			_ = pred.conn.Close() // the predecessor keeps serving
			return
		}
		if err := pred.release(); err != nil {
			g.logger.Error("the previous process did not confirm the hand-over", "error", err)
		}
		if err := g.listenHandover(path); err != nil {
			g.logger.Error("cannot serve the next hand-over", "path", path, "error", err)
		}
	}()
	return nil
}

// listenHandover serves successors on path until shutdown or a hand-over.
func (g *Gateway) listenHandover(path string) error {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("hand-over socket %s: %w", path, err)
	}
	// Whoever can connect gets the listening sockets and makes this
	// process leave: only the same user may.
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return fmt.Errorf("hand-over socket %s: %w", path, err)
	}
	g.lc.handoverMu.Lock()
	if g.stopping.Load() {
		g.lc.handoverMu.Unlock()
		_ = ln.Close()
		return nil
	}
	g.lc.handover = ln
	g.lc.handoverMu.Unlock()
	go func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			if g.handOver(c) {
				return
			}
		}
	}()
	return nil
}

// stopHandover stops serving successors; it unlinks the socket path.
func (g *Gateway) stopHandover() {
	g.lc.handoverMu.Lock()
	defer g.lc.handoverMu.Unlock()
	if g.lc.handover != nil {
		_ = g.lc.handover.Close()
		g.lc.handover = nil
	}
}

// handOver gives a successor every listening socket and, once it says it
// serves, lets go of the hand-over path and signals HandedOver. A
// successor that fails first leaves this process serving as before.
func (g *Gateway) handOver(c *net.UnixConn) (done bool) {
	defer c.Close()
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := r.ReadString('\n'); err != nil || strings.TrimSpace(line) != handoverHello {
		g.logger.Warn("hand-over socket: unexpected request", "error", err)
		return false
	}
	if g.stopping.Load() {
		return false
	}
	names, files, err := g.handoverFiles()
	if err != nil {
		g.logger.Error("cannot hand the sockets over", "error", err)
		return false
	}
	data, _ := json.Marshal(handoverOffer{Names: names})
	err = sendFiles(c, append(data, '\n'), files)
	closeFiles(files)
	if err != nil {
		g.logger.Error("cannot hand the sockets over", "error", err)
		return false
	}
	g.logger.Info("handed the listening sockets to a new process; serving until it is ready", "sockets", len(names))
	// The successor may take long to compile its configuration.
	_ = c.SetReadDeadline(time.Time{})
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != handoverReady {
		g.logger.Warn("the new process went away before serving; this one keeps serving", "error", err)
		return false
	}
	g.stopHandover()
	_, _ = io.WriteString(c, handoverBye+"\n")
	g.logger.Info("the new process serves; draining")
	g.lc.handedOverOnce.Do(func() { close(g.lc.handedOver) })
	return true
}

// sendFiles writes data with the descriptors of files attached. It reads
// the descriptors through SyscallConn: os.File.Fd would switch them to
// blocking mode, and with them the listening sockets they duplicate.
func sendFiles(c *net.UnixConn, data []byte, files []*os.File) error {
	fds := make([]int, 0, len(files))
	for _, f := range files {
		rc, err := f.SyscallConn()
		if err != nil {
			return err
		}
		if err := rc.Control(func(fd uintptr) { fds = append(fds, int(fd)) }); err != nil {
			return err
		}
	}
	_, _, err := c.WriteMsgUnix(data, syscall.UnixRights(fds...), nil)
	return err
}

// handoverFiles lists every listening socket with its name.
func (g *Gateway) handoverFiles() ([]string, []*os.File, error) {
	data, err := g.listeners.Files()
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var files []*os.File
	for a, f := range data {
		names, files = append(names, "data:"+a), append(files, f)
	}
	for _, s := range []struct {
		kind, addr string
		ln         net.Listener
	}{{"admin", g.opts.AdminAddr, g.adminLn}, {"status", g.opts.StatusAddr, g.statusLn}} {
		if s.ln == nil {
			continue
		}
		f, err := listener.ListenerFile(s.ln)
		if err != nil {
			closeFiles(files)
			return nil, nil, err
		}
		names, files = append(names, s.kind+":"+s.addr), append(files, f)
	}
	if len(files) > maxHandoverFiles {
		closeFiles(files)
		return nil, nil, fmt.Errorf("%d sockets exceed the %d one message can carry", len(files), maxHandoverFiles)
	}
	return names, files, nil
}

//go:build !unix

package app

import (
	"context"
	"errors"
	"net"
)

// startHandover: descriptor hand-over needs unix sockets.
func (g *Gateway) startHandover(context.Context) (map[string]net.Listener, error) {
	if g.opts.Topology.HandoverSocket != "" {
		return nil, errors.New("listener hand-over needs a unix platform")
	}
	return nil, nil
}

func (g *Gateway) finishHandover(context.Context) error { return nil }

func (g *Gateway) stopHandover() {}

// predecessor is unused without hand-over.
type predecessor struct{}

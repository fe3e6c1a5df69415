package translate

import (
	"fmt"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// mirrorAll is Istio's default mirror share when no percentage is given.
const mirrorAll = 100.0

// compiledMirror is one mirror destination with its share. owner is the
// VirtualService it is written in, which diagnostics about the
// destination name (a delegate route may inherit its root's mirrors).
type compiledMirror struct {
	owner   *resource.VirtualService
	dest    compiledDest
	percent float64
}

// compileMirrors reads the single `mirror` (with mirrorPercentage, or the
// deprecated mirrorPercent) and the `mirrors` list of the route at field
// into p. A mirror without a percentage gets 100%, an explicit 0 turns it
// off (Istio's MirrorPercent and MirrorPercentByPolicy).
func (b *builder) compileMirrors(vs *resource.VirtualService, field string, in *networkingv1.HTTPRoute, p *routePolicy) bool {
	ok := true
	if m := in.Mirror; m != nil {
		if d, good := b.mirrorDest(vs, field+".mirror", m); good {
			p.mirror = &compiledMirror{owner: vs, dest: d}
		} else {
			ok = false
		}
	}
	if in.MirrorPercentage != nil {
		v, good := b.checkPercent(vs, field+".mirrorPercentage", CodeMirror, in.MirrorPercentage)
		p.mirrorPercentage, ok = &v, ok && good
	}
	if mp := in.MirrorPercent; mp != nil { // deprecated, still honoured
		v := float64(mp.GetValue())
		if v > 100 {
			b.report(&vs.Meta, diag.Error, CodeMirror, field+".mirrorPercent",
				fmt.Sprintf("mirrorPercent %v is over 100; the route is dropped", v), "use mirrorPercentage")
			ok = false
		}
		p.mirrorPercent = &v
	}
	for k, m := range in.Mirrors {
		mfield := resource.JoinIndex(field+".mirrors", k)
		if m == nil || m.Destination == nil {
			b.report(&vs.Meta, diag.Error, CodeMirror, mfield+".destination",
				"the mirror has no destination; the route is dropped", "")
			ok = false
			continue
		}
		d, good := b.mirrorDest(vs, mfield+".destination", m.Destination)
		percent := mirrorAll
		if m.Percentage != nil {
			v, pgood := b.checkPercent(vs, mfield+".percentage", CodeMirror, m.Percentage)
			percent, good = v, good && pgood
		}
		if !good {
			ok = false
			continue
		}
		if percent > 0 {
			p.mirrors = append(p.mirrors, compiledMirror{owner: vs, dest: d, percent: percent})
		}
	}
	return ok
}

// mirrorDest reads a mirror destination; field is the path of the
// Destination itself. Short hosts resolve against the VirtualService's
// namespace, as for route destinations.
func (b *builder) mirrorDest(vs *resource.VirtualService, field string, d *networkingv1.Destination) (compiledDest, bool) {
	if d.GetHost() == "" {
		b.report(&vs.Meta, diag.Error, CodeMirror, field+".host", "the mirror has no host; the route is dropped", "")
		return compiledDest{}, false
	}
	return compiledDest{
		field:  field,
		host:   resolveShortName(d.Host, vs.Namespace, b.id.DomainSuffix),
		subset: d.Subset,
		port:   d.GetPort().GetNumber(),
		mirror: true,
	}, true
}

// routeMirrors resolves a route's mirrors to clusters on a listener:
// `mirror` first, then `mirrors` in order, as Istio lists Envoy's
// request_mirror_policies. A mirror cluster is built like a route
// destination's, so it exists in the snapshot when its service does.
func (b *builder) routeMirrors(p *routePolicy, port uint32) []snapshot.Mirror {
	var out []snapshot.Mirror
	if p.mirror != nil {
		percent := mirrorAll
		switch {
		case p.mirrorPercentage != nil:
			percent = *p.mirrorPercentage
		case p.mirrorPercent != nil:
			percent = *p.mirrorPercent
		}
		if percent > 0 {
			out = append(out, snapshot.Mirror{
				Cluster: b.resolveDestination(p.mirror.owner, &p.mirror.dest, port),
				Percent: percent,
			})
		}
	}
	for i := range p.mirrors {
		m := &p.mirrors[i]
		out = append(out, snapshot.Mirror{Cluster: b.resolveDestination(m.owner, &m.dest, port), Percent: m.percent})
	}
	return out
}

package explain

import (
	"fmt"
	"io"
	"strings"
)

// Write renders the explanation for a terminal. reqLine describes the
// request as the user gave it ("GET http://host/path").
func Write(w io.Writer, reqLine string, r *Result) error {
	p := &printer{w: w}
	p.line("request   %s (port %d)", reqLine, r.Port)
	if r.Listener == nil {
		p.line("result    %s", r.Reason)
		return p.err
	}
	l := r.Listener
	p.line("listener  %s (%s, gateway port %d, bound on %d; servers %s)", l.Name, l.Protocol, l.Port, l.BindPort, strings.Join(l.Servers, ", "))
	if e := r.Routing; e != nil {
		if e.VirtualHost == nil {
			p.line("host      %q: no virtual host", e.Host)
		} else {
			p.line("host      %q -> virtual host %s (%s domain %s)", e.Host, e.VirtualHost.Name, e.DomainKind, e.Domain)
			if len(e.Routes) > 0 {
				p.line("routes")
			}
			for _, rr := range e.Routes {
				verdict := "no "
				if rr.Matched {
					verdict = "YES"
				}
				p.line("  %s %s (VirtualService %s)", verdict, rr.Route.Name, rr.Route.VirtualService)
				if rr.CatchAll {
					p.line("        no match conditions: takes every request")
				}
				for i, m := range rr.Matches {
					name := fmt.Sprintf("match %d", i)
					if m.Name != "" {
						name += " " + m.Name
					}
					if m.Matched {
						p.line("        %s: matches", name)
					} else {
						p.line("        %s: %s", name, m.Failed)
					}
				}
			}
		}
	}
	if len(r.Split) > 0 {
		p.line("split")
		for _, d := range r.Split {
			what := d.Service
			if d.Subset != "" {
				what += " subset " + d.Subset
			}
			p.line("%s", strings.TrimRight(fmt.Sprintf("  %5.1f%%  %s  %s", d.Percent, d.Cluster, what), " "))
		}
		for _, d := range r.Split {
			p.destination(d)
		}
	}
	status := "forwarded to the chosen endpoint"
	if r.Status != 0 {
		status = fmt.Sprintf("%d", r.Status)
		if r.Flags != "" {
			status += " " + r.Flags
		}
	}
	p.line("result    %s: %s", status, r.Reason)
	return p.err
}

func (p *printer) destination(d Destination) {
	p.line("cluster   %s", d.Cluster)
	if d.Balance == nil {
		p.line("  %d %s: %s", d.Status, d.Flags, d.Reason)
		return
	}
	if d.Upstream != "" {
		p.line("  upstream %s", d.Upstream)
	}
	b := d.Balance
	source := "from the configuration"
	if b.Live {
		source = "live, from the running gateway"
	}
	p.line("  lb %s, %s balancing, panic threshold %d%% (%s)", b.LB, b.Mode, b.PanicThreshold, source)
	if loc := b.Locality; loc != nil {
		s := "  locality: " + loc.Mode + " from " + loc.Source
		if loc.Reason != "" {
			s += " (" + loc.Reason + ")"
		}
		p.line("%s", s)
	}
	for _, pr := range b.Priorities {
		s := fmt.Sprintf("  priority %d: load %d%%, %d/%d healthy", pr.Priority, pr.Load, pr.Healthy, pr.Hosts)
		if pr.DegradedLoad > 0 {
			s += fmt.Sprintf(", degraded load %d%%", pr.DegradedLoad)
		}
		if pr.Panic {
			s += ", PANIC"
		}
		p.line("%s", s)
		for _, l := range pr.Localities {
			name := l.Name
			if name == "" {
				name = "(no locality)"
			}
			s := "    " + name
			if l.Weight > 0 {
				s += fmt.Sprintf(" weight %d", l.Weight)
			}
			if l.Share > 0 {
				s += fmt.Sprintf(" share %.1f%%", l.Share)
			}
			p.line("%s", s)
			for _, e := range l.Endpoints {
				s := fmt.Sprintf("      %s %s", e.Address, e.Health)
				if e.Active > 0 {
					s += fmt.Sprintf(" (%d active)", e.Active)
				}
				p.line("%s", s)
			}
		}
	}
	if b.HashKey != "" {
		p.line("  hash key: %s", b.HashKey)
	}
	if b.Pick != "" {
		p.line("  endpoint: %s: %s", b.Pick, b.How)
	} else {
		p.line("  endpoint: %s", b.How)
	}
	if d.Reason != "" {
		p.line("  %d %s: %s", d.Status, d.Flags, d.Reason)
	}
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(format string, args ...any) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
}

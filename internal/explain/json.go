package explain

// View is the explanation as plain data, for JSON output.
type View struct {
	Port        uint32        `json:"port"`
	Listener    string        `json:"listener,omitempty"`
	Host        string        `json:"host,omitempty"`
	VirtualHost string        `json:"virtualHost,omitempty"`
	Domain      string        `json:"domain,omitempty"`
	DomainKind  string        `json:"domainKind,omitempty"`
	Routes      []RouteView   `json:"routes,omitempty"`
	Route       string        `json:"route,omitempty"`
	Split       []Destination `json:"split,omitempty"`
	Status      int           `json:"status,omitempty"`
	Flags       string        `json:"flags,omitempty"`
	Reason      string        `json:"reason"`
}

// RouteView is one route tried.
type RouteView struct {
	Name           string      `json:"name"`
	VirtualService string      `json:"virtualService"`
	Matched        bool        `json:"matched"`
	CatchAll       bool        `json:"catchAll,omitempty"`
	Matches        []MatchView `json:"matches,omitempty"`
}

// MatchView is one match of a route.
type MatchView struct {
	Name    string `json:"name,omitempty"`
	Matched bool   `json:"matched"`
	Failed  string `json:"failed,omitempty"`
}

// ViewOf turns a Result into plain data.
func ViewOf(r *Result) View {
	v := View{Port: r.Port, Listener: r.ListenerName, Split: r.Split, Status: r.Status, Flags: r.Flags, Reason: r.Reason}
	e := r.Routing
	if e == nil {
		return v
	}
	v.Host = e.Host
	if e.VirtualHost != nil {
		v.VirtualHost, v.Domain, v.DomainKind = e.VirtualHost.Name, e.Domain, e.DomainKind
	}
	if e.Route != nil {
		v.Route = e.Route.Name
	}
	for _, rr := range e.Routes {
		rv := RouteView{Name: rr.Route.Name, VirtualService: rr.Route.VirtualService, Matched: rr.Matched, CatchAll: rr.CatchAll}
		for _, m := range rr.Matches {
			rv.Matches = append(rv.Matches, MatchView(m))
		}
		v.Routes = append(v.Routes, rv)
	}
	return v
}

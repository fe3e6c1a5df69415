package translate

// Diagnostic codes about namespace visibility (exportTo), MG19xx.
const (
	// CodeHiddenVirtualService: a VirtualService bound to a Gateway this
	// gateway serves, but not exported to the gateway's namespace.
	CodeHiddenVirtualService = "MG1901"
	// CodeHiddenService: a destination host defined only by Services or
	// ServiceEntries not exported to the gateway's namespace.
	CodeHiddenService = "MG1902"
	// CodeHiddenDestinationRule: a DestinationRule on the lookup path of a
	// routed-to service, but not exported to the gateway's namespace.
	CodeHiddenDestinationRule = "MG1903"
)

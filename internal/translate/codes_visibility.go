package translate

// Diagnostic codes about namespace visibility (exportTo), in the range of
// the kind of object they are about (MG12xx VirtualService binding, MG14xx
// services, MG15xx DestinationRules).
const (
	// CodeHiddenVirtualService: a VirtualService bound to a Gateway this
	// gateway serves, but not exported to the gateway's namespace.
	CodeHiddenVirtualService = "MG1208"
	// CodeHiddenService: a destination host defined only by Services or
	// ServiceEntries not exported to the gateway's namespace.
	CodeHiddenService = "MG1420"
	// CodeHiddenDestinationRule: a DestinationRule on the lookup path of a
	// routed-to service, but not exported to the gateway's namespace.
	CodeHiddenDestinationRule = "MG1520"
)

package translate

// Diagnostic codes of locality-aware load balancing, outlier detection and
// spillover (MG16xx). Like the others they are stable.
const (
	// CodeTrafficDistribution: a traffic-distribution value Istio does not
	// know, on a Service's spec.trafficDistribution or in the
	// networking.istio.io/traffic-distribution annotation.
	CodeTrafficDistribution = "MG1601"
	// CodeFailoverWithoutOutlier: failover or failoverPriority on a cluster
	// without outlierDetection, which Istio silently ignores.
	CodeFailoverWithoutOutlier = "MG1602"
	// CodeMaxEjectionPercent: a maxEjectionPercent so low that outlier
	// detection can never eject a single host of the cluster.
	CodeMaxEjectionPercent = "MG1603"
	// CodeDistribute: a distribute setting Istio's validation rejects
	// (weights outside [1, 100] or not summing to 100 per from, misplaced
	// wildcards); the localityLbSetting is ignored.
	CodeDistribute = "MG1604"
	// CodeDistributeOverrides: distribute set together with failover or
	// failoverPriority; distribute wins and the others are ignored.
	CodeDistributeOverrides = "MG1605"
	// CodeFailoverPriorityDuplicate: a label listed twice in
	// failoverPriority.
	CodeFailoverPriorityDuplicate = "MG1606"
	// CodeSpillover: an invalid meshgate.io/spillover-max-active-requests
	// annotation; spillover stays off.
	CodeSpillover = "MG1607"
	// CodeOutlierValue: an outlierDetection value out of Istio's range; the
	// default or the nearest valid value is used.
	CodeOutlierValue = "MG1608"
	// CodeZoneAware: zoneAwareLbSetting, which meshgate does not implement;
	// it is ignored.
	CodeZoneAware = "MG1609"
	// CodeDistributeNoEndpoints: the distribute entry for this gateway's
	// locality sends traffic only to localities that have no endpoints.
	CodeDistributeNoEndpoints = "MG1610"
)

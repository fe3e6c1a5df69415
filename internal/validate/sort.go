package validate

import "sort"

// sortedKeys returns the keys of m in order, so findings about map
// entries come out deterministically.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

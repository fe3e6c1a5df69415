package resource

import (
	"strings"
)

// suggest returns a "did you mean" hint naming the candidate closest to
// got, or "" when nothing is close enough to be a plausible typo.
func suggest(got string, candidates []string) string {
	best, bestDist := "", -1
	g := normalizeName(got)
	for _, c := range candidates {
		dist := editDistance(g, normalizeName(c))
		if bestDist < 0 || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if bestDist < 0 || bestDist > maxTypoDistance(len(g)) {
		return ""
	}
	return `did you mean "` + best + `"?`
}

// normalizeName folds case and separators so that "Weight", "max_retries"
// and "maxRetries" compare equal.
func normalizeName(s string) string {
	return separators.Replace(strings.ToLower(s))
}

var separators = strings.NewReplacer("_", "", "-", "")

// maxTypoDistance grows with the word: one slip in a short name, up to
// three in a long one. Anything further is more likely a different word.
func maxTypoDistance(n int) int {
	switch {
	case n <= 4:
		return 1
	case n <= 10:
		return 2
	}
	return 3
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent letters each
// cost one, so "wieght" is one step from "weight".
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Only names are compared; a very long key is not a typo of one.
		return len(ra) + len(rb)
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

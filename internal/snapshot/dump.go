package snapshot

import "encoding/json"

// Dump renders the snapshot as indented JSON. The output is deterministic
// for a given snapshot, which golden tests and /config_dump rely on.
func Dump(s *Snapshot) ([]byte, error) {
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

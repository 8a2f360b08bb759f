package manifest

// Decoding is bounded before it starts. yaml.v3 builds the whole node tree
// of a document before runner sees any of it, and every node costs some
// hundred bytes there and again in decoding: a 10 MiB flow list of five
// million one-byte scalars cost 2.3 GB and 20 s. So Load first counts, in
// one pass over the bytes and without parsing, an upper bound of the nodes
// the file can hold, and refuses a file whose bound is past what its size
// allows for real manifests. Aliases, which can expand a small tree, are
// bounded separately while decoding (decoder.enter).

// nodeBudget is how many YAML nodes a file of size bytes may hold: one per
// eight bytes plus a floor for small files, and never more than
// maxNodesPerFile. Real manifests hold one node per 10 to 20 bytes and
// their bound (nodeBound) is one per 5 to 14; the 250 pods a file may hold
// fit. Each node costs about 400 bytes to parse and decode, so a file costs
// at most about 50 times its size plus 7 MB, and never more than about
// 100 MB, in allocations.
func nodeBudget(size int) int { return min(size/8+minNodeBudget, maxNodesPerFile) }

const (
	// minNodeBudget lets a small file be as dense as it likes.
	minNodeBudget = 16 << 10
	// maxNodesPerFile is the most nodes any file may hold, whatever its
	// size.
	maxNodesPerFile = 256 << 10
)

// MaxPodsPerFile is the most pods one file may hold, in documents or list
// items: more than one node can run (the kubelet's default --max-pods is
// 110), and each costs memory to decode.
const MaxPodsPerFile = 250

// nodeBound is an upper bound of the YAML nodes one document's data parses
// to, counted without parsing. Every node but a document's root starts after an
// indicator: a flow collection starts with '[' or '{' and its entries
// follow ',' ; a mapping's value follows ':' ; a block sequence's entry
// follows '-' and a complex key '?', both followed by white space. Each
// indicator is charged the most nodes it can begin (a '{' a mapping, a key
// and its empty value; ':' a key and its value), wherever it stands, also
// inside quotes and comments, so the bound never falls short. Called by Load
// on the caller's goroutine; O(len(data)), no allocation.
func nodeBound(data []byte) int {
	n := 2 // the document node and its root
	for i, b := range data {
		switch b {
		case '{':
			n += 3
		case '[', ',', ':':
			n += 2
		case '-', '?':
			if i+1 == len(data) || isYAMLBlank(data[i+1]) {
				n += 2
			}
		}
	}
	return n
}

// isYAMLBlank reports whether b can begin white space or a line break for
// the YAML parser. 0xC2 and 0xE2 begin NEL, LS and PS, which yaml.v3 takes
// as line breaks; they begin other characters too, which only makes the
// bound larger.
func isYAMLBlank(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\r', 0xC2, 0xE2:
		return true
	}
	return false
}

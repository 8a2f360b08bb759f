package manifest

import "bytes"

// document is one YAML document of a file: where it starts and its bytes.
type document struct {
	line int // 1-based line of the document's first byte in the file
	data []byte
}

// splitDocuments cuts data at YAML document markers ("---" or "..." at the
// start of a line). A marker can only stand in column 0 outside a scalar, so
// splitting on lines is exact for the block-style YAML and JSON manifests are
// written in. Each document keeps its own bytes: they are what a pod's UID
// hashes, so editing one document leaves the other pods of a file alone.
// Called by Load.
func splitDocuments(data []byte) []document {
	var docs []document
	start, startLine, line := 0, 1, 1
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		text := bytes.TrimRight(data[off:next], "\r\n")
		if isMarker(text, "---") || isMarker(text, "...") {
			docs = append(docs, document{line: startLine, data: data[start:off]})
			// What follows "--- " on the marker line belongs to the next
			// document; keep the marker line in it so lines stay right. A
			// bare marker is left out, so a pod's bytes do not depend on
			// whether it is a file's first document or a later one.
			start, startLine = off, line
			if isMarker(text, "...") || len(bytes.TrimSpace(text[3:])) == 0 {
				start, startLine = next, line+1
			}
		}
		off = next
		line++
	}
	docs = append(docs, document{line: startLine, data: data[start:]})
	out := docs[:0]
	for _, d := range docs {
		if !blankYAML(d.data) {
			out = append(out, d)
		}
	}
	return out
}

// isMarker reports whether a line is the document marker m, alone or
// followed by a space or tab and more text.
func isMarker(line []byte, m string) bool {
	if !bytes.HasPrefix(line, []byte(m)) {
		return false
	}
	rest := line[len(m):]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t'
}

// blankYAML reports whether a document holds only blank lines, comments,
// directives and markers.
func blankYAML(data []byte) bool {
	for _, l := range bytes.Split(data, []byte("\n")) {
		t := bytes.TrimSpace(l)
		if len(t) == 0 || t[0] == '#' || t[0] == '%' {
			continue
		}
		if isMarker(t, "---") && len(bytes.TrimSpace(t[3:])) == 0 {
			continue
		}
		if isMarker(t, "...") {
			continue
		}
		return false
	}
	return true
}

package manifest

import "bytes"

// document is one YAML document of a file: where it starts and its bytes.
type document struct {
	line int // 1-based line of the document's first byte in the file
	data []byte
	// body is where, in data, the bytes a pod's UID hashes start: after
	// the directives (%YAML, %TAG) and their "---", which the parser needs
	// and the hash leaves out, as it did before runner kept them.
	body int
}

// hashed is what a pod's UID hashes of the document.
func (d document) hashed() []byte { return d.data[d.body:] }

// splitDocuments cuts data at YAML document markers ("---" or "..." at the
// start of a line). A marker can only stand in column 0 outside a scalar, so
// splitting on lines is exact for the block-style YAML and JSON manifests are
// written in. Lines end where the YAML parser ends them (LF, CRLF, a lone
// CR, NEL, LS or PS), so no marker hides from the split and line numbers
// agree with the parser's. Each document keeps its own bytes: they are what
// a pod's UID hashes, so editing one document leaves the other pods of a
// file alone. Called by Load.
func splitDocuments(data []byte) []document {
	var docs []document
	start, startLine, line, body := 0, 1, 1, 0
	for off := 0; off < len(data); {
		end, width := lineBreak(data, off)
		next := end + width
		text := data[off:end]
		if isMarker(text, "---") && hasDirectives(data[start:off]) {
			// "---" after directives (%YAML, %TAG) starts the document
			// they belong to: keep them together for the parser.
			body = off - start
			if len(bytes.Trim(text[3:], " \t")) == 0 {
				body = next - start
			}
			off = next
			line++
			continue
		}
		if isMarker(text, "---") || isMarker(text, "...") {
			docs = append(docs, document{line: startLine, data: data[start:off], body: body})
			// What follows "--- " on the marker line belongs to the next
			// document; keep the marker line in it so lines stay right. A
			// bare marker is left out, so a pod's bytes do not depend on
			// whether it is a file's first document or a later one.
			start, startLine, body = off, line, 0
			if isMarker(text, "...") || len(bytes.Trim(text[3:], " \t")) == 0 {
				start, startLine = next, line+1
			}
		}
		off = next
		line++
	}
	docs = append(docs, document{line: startLine, data: data[start:], body: body})
	out := docs[:0]
	for _, d := range docs {
		if !blankYAML(d.data) {
			out = append(out, d)
		}
	}
	return out
}

// lineBreak finds the end of the line that starts at off: the index of its
// line break and the break's width in bytes (0 at the end of data). The
// breaks are YAML's: LF, CRLF, CR, and the UTF-8 NEL, LS and PS.
func lineBreak(data []byte, off int) (end, width int) {
	for i := off; i < len(data); i++ {
		switch data[i] {
		case '\n':
			return i, 1
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				return i, 2
			}
			return i, 1
		case 0xC2: // NEL is C2 85
			if i+1 < len(data) && data[i+1] == 0x85 {
				return i, 2
			}
		case 0xE2: // LS is E2 80 A8, PS is E2 80 A9
			if i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9) {
				return i, 3
			}
		}
	}
	return len(data), 0
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

// blankYAML reports whether a document holds only blank lines, comments
// and markers (what YAML reads as no document at all). A directive is not
// blank: without a document after it, it is an error for the parser to
// report.
func blankYAML(data []byte) bool {
	for off := 0; off < len(data); {
		end, width := lineBreak(data, off)
		line := data[off:end]
		off = end + width
		t := bytes.Trim(line, " \t")
		switch {
		case len(t) == 0, t[0] == '#':
		case isMarker(line, "---") && bareOrComment(line):
		case isMarker(line, "..."):
		default:
			return false
		}
	}
	return true
}

// hasDirectives reports whether a document so far holds directive lines
// (%YAML, %TAG, or any line starting with '%') and otherwise only blank
// lines and comments: the next "---" ends its directives.
func hasDirectives(data []byte) bool {
	found := false
	for off := 0; off < len(data); {
		end, width := lineBreak(data, off)
		line := data[off:end]
		off = end + width
		t := bytes.Trim(line, " \t")
		switch {
		case len(line) > 0 && line[0] == '%':
			found = true
		case len(t) == 0, t[0] == '#':
		default:
			return false
		}
	}
	return found
}

// bareOrComment reports whether a "---" marker line holds nothing after the
// marker but white space and a comment.
func bareOrComment(line []byte) bool {
	rest := bytes.Trim(line[3:], " \t")
	return len(rest) == 0 || rest[0] == '#'
}

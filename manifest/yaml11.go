package manifest

import (
	"regexp"
	"strconv"
	"strings"
)

// The kubelet reads YAML 1.1 (through go.yaml.in/yaml/v2); runner reads
// YAML 1.2 (gopkg.in/yaml.v3). An unquoted scalar that is a string in one
// and a boolean or a number in the other means different things to them:
// `value: yes` is the string "yes" to runner and true to the kubelet, which
// then refuses it in a string field; `hostNetwork: yes` is true to the
// kubelet and a string to runner. Runner refuses both and says to quote the
// string or to write true or false.

// yaml11Bool reports whether an unquoted scalar is a boolean in YAML 1.1
// but not in YAML 1.2.
func yaml11Bool(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF":
		return true
	}
	return false
}

// yaml11Float is YAML 1.1's form of a float without a leading '.'.
var yaml11Float = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// yaml11NotString reports whether an unquoted scalar that YAML 1.2 reads as
// a string is a boolean, a null or a number in YAML 1.1 (as the kubelet's
// reader resolves it: underscores in numbers, 0b and 0x prefixes, a leading
// 0 for octal).
func yaml11NotString(s string) bool {
	if s == "" || yaml11Bool(s) {
		return s != ""
	}
	switch s {
	case "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return true
	}
	switch c := s[0]; {
	case c == '.':
		_, err := strconv.ParseFloat(s, 64)
		return err == nil
	case c == '+', c == '-', c >= '0' && c <= '9':
		plain := strings.ReplaceAll(s, "_", "")
		if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return true
		}
		if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return true
		}
		if yaml11Float.MatchString(plain) {
			if _, err := strconv.ParseFloat(plain, 64); err == nil {
				return true
			}
		}
		if b, ok := strings.CutPrefix(plain, "-0b"); ok {
			_, err := strconv.ParseInt(b, 2, 64)
			return err == nil
		}
		if b, ok := strings.CutPrefix(plain, "0b"); ok {
			_, err := strconv.ParseUint(b, 2, 64)
			return err == nil
		}
	}
	return false
}

// canonicalInt reports whether s is a decimal integer written as both YAML
// versions and JSON write it back (no sign, no leading zero, no '_'), so
// that reading it as a number or as a string gives the same key.
func canonicalInt(s string) bool {
	i, err := strconv.ParseInt(s, 10, 64)
	return err == nil && i >= 0 && strconv.FormatInt(i, 10) == s
}

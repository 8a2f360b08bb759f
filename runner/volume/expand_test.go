package volume

import (
	"strings"
	"testing"
)

func TestExpandSubPathExpr(t *testing.T) {
	env := map[string]string{"POD": "web-1", "NS": "default", "EMPTY": "", "UP": "..", "ABS": "/etc"}
	for _, tc := range []struct {
		expr, want, err string
	}{
		{expr: "logs/$(POD)", want: "logs/web-1"},
		{expr: "$(NS)/$(POD)", want: "default/web-1"},
		{expr: "a$$(POD)", want: "a$(POD)"},
		{expr: "cost$$", want: "cost$"},
		{expr: "a$b", want: "a$b"},
		{expr: "trailing$", want: "trailing$"},
		{expr: "open$(POD", want: "open$(POD"},
		{expr: "plain", want: "plain"},
		{expr: "$(MISSING)/x", err: "missing value for MISSING"},
		{expr: "$(EMPTY)", err: "missing value for EMPTY"},
		{expr: "$(B)$(A)$(B)", err: "missing value for A, B"},
		{expr: "$(UP)/x", err: "'..'"},
		{expr: "$(ABS)", err: "relative"},
	} {
		got, err := ExpandSubPathExpr(tc.expr, env)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ExpandSubPathExpr(%q) = %q, %v; want error with %q", tc.expr, got, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("ExpandSubPathExpr(%q) = %q, %v; want %q", tc.expr, got, err, tc.want)
		}
	}
}

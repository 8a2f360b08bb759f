package kubeletconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// FlushFrequency is logging.flushFrequency: an integer of nanoseconds or a
// duration string ("5s"), as the kubelet takes it.
type FlushFrequency struct{ time.Duration }

// UnmarshalJSON reads either form. The strict decoder calls it.
func (f *FlushFrequency) UnmarshalJSON(data []byte) error {
	if bytes.HasPrefix(data, []byte(`"`)) {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("must be a duration such as 5s: %w", err)
		}
		f.Duration = d
		return nil
	}
	var n int64
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("must be nanoseconds or a duration such as 5s")
	}
	f.Duration = time.Duration(n)
	return nil
}

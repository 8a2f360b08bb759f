package probe

// Probe defaults, the apiserver's, for fields left at zero.
const (
	defaultPeriodSeconds    = 10
	defaultTimeoutSeconds   = 1
	defaultSuccessThreshold = 1
	defaultFailureThreshold = 3
)

// tally turns a probe's attempts into its Status with the kubelet's rule:
// the status becomes Success after successThreshold successes in a row
// (a Warning is one), Failure after failureThreshold failures in a row; an
// Unknown attempt is not counted and breaks no run. A plain value owned by
// one worker.
type tally struct {
	successThreshold int
	failureThreshold int
	status           Status
	passing          bool // what the current run is made of
	run              int  // its length; 0: nothing counted yet
}

// newTally starts at kind's initial status, with the thresholds of a
// probe (zero: the defaults).
func newTally(kind Kind, successThreshold, failureThreshold int32) tally {
	if successThreshold <= 0 {
		successThreshold = defaultSuccessThreshold
	}
	if failureThreshold <= 0 {
		failureThreshold = defaultFailureThreshold
	}
	return tally{
		successThreshold: int(successThreshold),
		failureThreshold: int(failureThreshold),
		status:           InitialStatus(kind),
	}
}

// observe counts one attempt and reports whether the status changed.
func (t *tally) observe(o Outcome) (changed bool) {
	var passing bool
	switch o {
	case Success, Warning:
		passing = true
	case Failure:
		passing = false
	default:
		return false
	}
	if t.run > 0 && passing == t.passing {
		t.run++
	} else {
		t.passing, t.run = passing, 1
	}
	threshold, next := t.failureThreshold, StatusFailure
	if passing {
		threshold, next = t.successThreshold, StatusSuccess
	}
	if t.run < threshold || t.status == next {
		return false
	}
	t.status = next
	return true
}

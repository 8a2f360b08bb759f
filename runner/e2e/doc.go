// Package e2e holds runner's end-to-end tests: the real binary, started as a
// process against a temporary manifest directory and root directory, on the
// real Docker engine. Each test has its own instance id, so it only ever sees
// and removes the containers it made.
package e2e

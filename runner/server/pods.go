package server

import (
	"net/http"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/runner-dev/runner/runner"
)

// pods serves /pods: every pod with its status, as a v1 PodList that
// client-go decodes.
func (s *Server) pods(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Pods == nil {
		http.Error(w, "pods are not available", http.StatusServiceUnavailable)
		return
	}
	list := v1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
	for _, p := range s.cfg.Pods.List() {
		list.Items = append(list.Items, *p) // a shallow copy: encoded, not changed
	}
	if list.Items == nil {
		list.Items = []v1.Pod{}
	}
	writeJSON(w, list)
}

// EventList is /events' answer.
type EventList struct {
	Items []runner.Event `json:"items"`
}

// events serves /events: the last events, oldest first.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Events == nil {
		http.Error(w, "events are not available", http.StatusServiceUnavailable)
		return
	}
	evs := s.cfg.Events()
	if evs == nil {
		evs = []runner.Event{}
	}
	writeJSON(w, EventList{Items: evs})
}

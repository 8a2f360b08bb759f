package runner

import "context"

// ImagesLoaded tells the loop that images were added to the engine from
// outside a pull (a tarball of --image-dir was loaded): each container
// waiting for its image (ErrImagePull, ImagePullBackOff, ErrImageNeverPull)
// is tried again at once rather than when its backoff ends; its backoff
// keeps growing should the image still be missing. It returns false when
// ctx ends before the loop took the news. Safe from any goroutine.
func (r *Runner) ImagesLoaded(ctx context.Context) bool {
	return r.submit(ctx, imagesLoaded{})
}

// imagesLoaded is the input of ImagesLoaded.
type imagesLoaded struct{}

func (imagesLoaded) apply(l *loop) {
	for uid, st := range l.pods {
		if l.desired[uid] == nil {
			continue
		}
		for name, w := range st.waiting {
			switch w.reason {
			case reasonErrImagePull, reasonImagePullBackOff, reasonErrImageNeverPull:
				delete(st.notBefore, name)
				l.dirty[uid], st.urgent = true, true
			}
		}
	}
}

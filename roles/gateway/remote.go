package gateway

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/execbox/app/pkg/job"
)

// remoteDeps builds HTTP clients of the queue and storage roles for the
// dependencies not given.
func (r *Role) remoteDeps() error {
	return errors.New("gateway: queue and storage clients are not available yet; pass Deps")
}

// renderCallback renders a final submission for its callback: the native
// submission as a POST, or Judge0's shape (all fields) as a PUT, as Judge0
// sends it.
func (r *Role) renderCallback(s job.Submission, f callbackFormat) (string, []byte, error) {
	if f.api == apiJudge0 {
		v, err := r.judge0Fields(s, judge0Opts{base64: f.base64, fields: []string{"*"}})
		if err != nil {
			return "", nil, err
		}
		b, err := json.Marshal(v)
		return http.MethodPut, b, err
	}
	b, err := json.Marshal(toSubmission(s))
	return http.MethodPost, b, err
}

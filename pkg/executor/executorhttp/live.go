package executorhttp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
)

// Live runs over the executor role's API:
//
//	POST /executor/v1/run with "Accept: application/x-ndjson" answers one
//	     LiveFrame per line: events as the program writes, then the result
//	     (or the error that kept the job from running). Busy is still 429.
//	POST /executor/v1/input/{id}  one live.Input for the running interactive
//	     job (204; 404 when no such job runs here).

// NDJSON is the media type of a live run's answer.
const NDJSON = "application/x-ndjson"

// LiveFrame is one line of a live run's answer.
type LiveFrame struct {
	Event  *live.Event `json:"event,omitempty"`
	Result *job.Result `json:"result,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// MaxFrameBytes bounds one line of a live answer (a result with its outputs).
const MaxFrameBytes = 64 << 20

// InputPath is the route of a running job's input.
func InputPath(id string) string { return "/executor/v1/input/" + url.PathEscape(id) }

var _ executor.LiveExecutor = (*Client)(nil)

// ExecuteLive implements executor.LiveExecutor.
func (c *Client) ExecuteLive(ctx context.Context, j job.Job, lio live.IO) (job.Result, error) {
	b, err := json.Marshal(j)
	if err != nil {
		return job.Result{}, fmt.Errorf("execute %s: encode: %w", j.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.c.Base+"/executor/v1/run", bytes.NewReader(b))
	if err != nil {
		return job.Result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", NDJSON)
	if c.c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.c.Token)
	}
	if rid := httpx.RequestID(ctx); rid != "" {
		req.Header.Set(httpx.RequestIDHeader, rid)
	}
	resp, err := c.c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return job.Result{}, fmt.Errorf("execute %s: %w", j.ID, ctx.Err())
		}
		return job.Result{}, fmt.Errorf("execute %s: %w", j.ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		perr := httpx.ReadProblem(resp)
		if busy, ok := busyError(perr); ok {
			return job.Result{}, busy
		}
		return job.Result{}, fmt.Errorf("execute %s: %w", j.ID, perr)
	}
	if lio.Input != nil {
		stop := make(chan struct{})
		defer close(stop)
		go c.forward(ctx, j.ID, lio.Input, stop)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), MaxFrameBytes)
	for sc.Scan() {
		var f LiveFrame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return job.Result{}, fmt.Errorf("execute %s: bad frame: %w", j.ID, err)
		}
		switch {
		case f.Event != nil:
			if lio.Output != nil {
				lio.Output(*f.Event)
			}
		case f.Result != nil:
			return *f.Result, nil
		case f.Error != "":
			return job.Result{}, fmt.Errorf("execute %s: %s", j.ID, f.Error)
		}
	}
	if ctx.Err() != nil {
		return job.Result{}, fmt.Errorf("execute %s: %w", j.ID, ctx.Err())
	}
	return job.Result{}, fmt.Errorf("execute %s: the live answer ended without a result: %v", j.ID, sc.Err())
}

// forward posts inputs in order until in closes or the run ends.
func (c *Client) forward(ctx context.Context, id string, in <-chan live.Input, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case m, ok := <-in:
			if !ok {
				m = live.Input{Type: live.InputStdinClose}
			}
			err := c.c.Do(ctx, http.MethodPost, InputPath(id), m, nil)
			var p *httpx.Problem
			if !ok || (err != nil && (ctx.Err() != nil || errors.As(err, &p) && p.Status == http.StatusNotFound)) {
				return
			}
		}
	}
}

package queuehttp

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/execbox/app/pkg/live"
)

// Live streams over the queue role's API (the role serves its queue's
// live.Hub):
//
//	POST /queue/v1/live/{id}/output   []live.Event: append (workers)
//	GET  /queue/v1/live/{id}/output?cursor=C&wait_ms=N   LiveEvents
//	POST /queue/v1/live/{id}/input    live.Input: append (gateways)
//	GET  /queue/v1/live/{id}/input?cursor=C&wait_ms=N    LiveInputs

// LiveEvents answers a read of a live output stream.
type LiveEvents struct {
	Events []live.Event `json:"events"`
	Cursor string       `json:"cursor"`
}

// LiveInputs answers a read of a live input stream.
type LiveInputs struct {
	Inputs []live.Input `json:"inputs"`
	Cursor string       `json:"cursor"`
}

// LivePath is the route of a submission's live stream kind ("output",
// "input").
func LivePath(id, kind string) string { return "/queue/v1/live/" + url.PathEscape(id) + "/" + kind }

// LiveQuery is the query of a read.
func LiveQuery(cursor string, wait time.Duration) string {
	return "?cursor=" + url.QueryEscape(cursor) + "&wait_ms=" + strconv.FormatInt(wait.Milliseconds(), 10)
}

var _ live.Hub = (*Client)(nil)

// Publish implements live.Hub.
func (c *Client) Publish(ctx context.Context, id string, evs ...live.Event) error {
	return c.do(ctx, http.MethodPost, LivePath(id, "output"), evs, nil)
}

// SendInput implements live.Hub.
func (c *Client) SendInput(ctx context.Context, id string, in live.Input) error {
	return c.do(ctx, http.MethodPost, LivePath(id, "input"), in, nil)
}

// Output implements live.Hub.
func (c *Client) Output(ctx context.Context, id, cursor string, wait time.Duration) ([]live.Event, string, error) {
	var r LiveEvents
	if err := c.do(ctx, http.MethodGet, LivePath(id, "output")+LiveQuery(cursor, wait), nil, &r); err != nil {
		return nil, cursor, err
	}
	return r.Events, r.Cursor, nil
}

// Input implements live.Hub.
func (c *Client) Input(ctx context.Context, id, cursor string, wait time.Duration) ([]live.Input, string, error) {
	var r LiveInputs
	if err := c.do(ctx, http.MethodGet, LivePath(id, "input")+LiveQuery(cursor, wait), nil, &r); err != nil {
		return nil, cursor, err
	}
	return r.Inputs, r.Cursor, nil
}

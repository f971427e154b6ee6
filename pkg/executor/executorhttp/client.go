package executorhttp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
)

// Client is executor.Executor over the executor role's internal HTTP API.
type Client struct {
	c *httpx.Client
}

var _ executor.Executor = (*Client)(nil)

// NewClient returns a client for the executor at baseURL
// ("http://executor:8088"); hc nil means a pooled default client. A run
// lasts as long as its job: bound it with the context, not hc.Timeout.
func NewClient(baseURL string, hc *http.Client) *Client {
	c := httpx.NewClient(baseURL, hc)
	c.Dependency = "the executor"
	return &Client{c: c}
}

// WithToken sets the internal bearer token sent with every request.
func (c *Client) WithToken(token string) *Client {
	c.c.Token = token
	return c
}

// Execute implements executor.Executor: 429 becomes *executor.BusyError.
func (c *Client) Execute(ctx context.Context, j job.Job) (job.Result, error) {
	var res job.Result
	err := c.c.Do(ctx, http.MethodPost, "/executor/v1/run", j, &res)
	if busy, ok := busyError(err); ok {
		return job.Result{}, busy
	}
	if err != nil {
		if ctx.Err() != nil {
			return job.Result{}, fmt.Errorf("execute %s: %w", j.ID, ctx.Err())
		}
		return job.Result{}, fmt.Errorf("execute %s: %w", j.ID, err)
	}
	return res, nil
}

// Cancel implements executor.Executor.
func (c *Client) Cancel(ctx context.Context, id string) error {
	return c.c.Do(ctx, http.MethodPost, "/executor/v1/cancel/"+url.PathEscape(id), nil, nil)
}

// Capacity implements executor.Executor.
func (c *Client) Capacity(ctx context.Context) (executor.Capacity, error) {
	var cp executor.Capacity
	err := c.c.Do(ctx, http.MethodGet, "/executor/v1/capacity", nil, &cp)
	return cp, err
}

// Languages lists the executor's languages and whether their images are
// present.
func (c *Client) Languages(ctx context.Context) ([]executor.LanguageStatus, error) {
	var ls []executor.LanguageStatus
	err := c.c.Do(ctx, http.MethodGet, "/executor/v1/languages", nil, &ls)
	return ls, err
}

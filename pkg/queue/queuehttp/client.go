package queuehttp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
)

// Client is queue.Queue over the queue role's internal HTTP API. Sentinel
// errors come back as themselves (errors.Is works across HTTP).
type Client struct {
	c *httpx.Client
}

var _ queue.Queue = (*Client)(nil)

// NewClient returns a client for the queue at baseURL
// ("http://queue:8086"); hc nil means a pooled default client. Long polls
// and watches last as long as asked: bound them with the context, not
// hc.Timeout.
func NewClient(baseURL string, hc *http.Client) *Client {
	c := httpx.NewClient(baseURL, hc)
	c.Dependency = "the queue"
	return &Client{c: c}
}

// WithToken sets the internal bearer token sent with every request.
func (c *Client) WithToken(token string) *Client {
	c.c.Token = token
	return c
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return Sentinel(c.c.Do(ctx, method, path, in, out))
}

func jobPath(id string) string { return "/queue/v1/jobs/" + url.PathEscape(id) }

// Enqueue implements queue.Queue.
func (c *Client) Enqueue(ctx context.Context, req job.Request) (job.Submission, error) {
	var s job.Submission
	err := c.do(ctx, http.MethodPost, "/queue/v1/jobs", req, &s)
	return s, err
}

// Get implements queue.Queue.
func (c *Client) Get(ctx context.Context, id string) (job.Submission, error) {
	var s job.Submission
	err := c.do(ctx, http.MethodGet, jobPath(id), nil, &s)
	return s, err
}

// Lease implements queue.Queue.
func (c *Client) Lease(ctx context.Context, worker string, wait time.Duration) (*queue.Lease, error) {
	var l queue.Lease
	code, err := c.c.DoStatus(ctx, http.MethodPost, "/queue/v1/leases",
		LeaseRequest{Worker: worker, WaitMs: wait.Milliseconds()}, &l)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, Sentinel(err)
	}
	if code == http.StatusNoContent {
		return nil, nil
	}
	return &l, nil
}

// Extend implements queue.Queue.
func (c *Client) Extend(ctx context.Context, l *queue.Lease) error {
	var r ExtendResponse
	if err := c.do(ctx, http.MethodPost, "/queue/v1/leases/extend", LeaseRef{ID: l.Job.ID, Token: l.Token}, &r); err != nil {
		return err
	}
	l.ExpiresAt = r.ExpiresAt
	return nil
}

// Complete implements queue.Queue.
func (c *Client) Complete(ctx context.Context, l *queue.Lease, res job.Result) error {
	return c.do(ctx, http.MethodPost, "/queue/v1/leases/complete", CompleteRequest{ID: l.Job.ID, Token: l.Token, Result: res}, nil)
}

// Release implements queue.Queue.
func (c *Client) Release(ctx context.Context, l *queue.Lease) error {
	return c.do(ctx, http.MethodPost, "/queue/v1/leases/release", LeaseRef{ID: l.Job.ID, Token: l.Token}, nil)
}

// Retry implements queue.Queue.
func (c *Client) Retry(ctx context.Context, l *queue.Lease, a job.Attempt, after time.Duration) error {
	return c.do(ctx, http.MethodPost, "/queue/v1/leases/retry",
		RetryRequest{ID: l.Job.ID, Token: l.Token, Attempt: a, AfterMs: after.Milliseconds()}, nil)
}

// Fail implements queue.Queue.
func (c *Client) Fail(ctx context.Context, l *queue.Lease, a job.Attempt, res job.Result) error {
	return c.do(ctx, http.MethodPost, "/queue/v1/leases/fail", FailRequest{ID: l.Job.ID, Token: l.Token, Attempt: a, Result: res}, nil)
}

// ReadCallbacks implements queue.CallbackFeed.
func (c *Client) ReadCallbacks(ctx context.Context, consumer string, max int, block time.Duration, resume bool) ([]queue.FeedItem, error) {
	var items []queue.FeedItem
	err := c.do(ctx, http.MethodPost, "/queue/v1/callbacks/read",
		FeedReadRequest{Consumer: consumer, Max: max, BlockMs: block.Milliseconds(), Resume: resume}, &items)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return items, err
}

// AckCallbacks implements queue.CallbackFeed.
func (c *Client) AckCallbacks(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return c.do(ctx, http.MethodPost, "/queue/v1/callbacks/ack", FeedAckRequest{IDs: ids}, nil)
}

// RecordCallback implements queue.CallbackFeed.
func (c *Client) RecordCallback(ctx context.Context, id string, st job.CallbackState) error {
	return c.do(ctx, http.MethodPut, jobPath(id)+"/callback", st, nil)
}

// Cancel implements queue.Queue. On ErrFinal it returns the submission's
// current state too.
func (c *Client) Cancel(ctx context.Context, id string) (job.Submission, error) {
	var s job.Submission
	err := c.do(ctx, http.MethodPost, jobPath(id)+"/cancel", nil, &s)
	if errors.Is(err, queue.ErrFinal) {
		cur, gerr := c.Get(ctx, id)
		if gerr == nil {
			return cur, err
		}
	}
	return s, err
}

// Watch implements queue.Queue over the JSON-lines stream.
func (c *Client) Watch(ctx context.Context, id string) (<-chan job.Submission, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.c.Base+jobPath(id)+"/watch", nil)
	if err != nil {
		return nil, err
	}
	if c.c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.c.Token)
	}
	if rid := httpx.RequestID(ctx); rid != "" {
		req.Header.Set(httpx.RequestIDHeader, rid)
	}
	resp, err := c.c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, Sentinel(httpx.ReadProblem(resp))
	}
	out := make(chan job.Submission, 1)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), MaxBody)
		for sc.Scan() {
			var s job.Submission
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				return
			}
			select {
			case out <- s:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// DeadLetters implements queue.Queue.
func (c *Client) DeadLetters(ctx context.Context) ([]job.Submission, error) {
	var subs []job.Submission
	err := c.do(ctx, http.MethodGet, "/queue/v1/dead-letters", nil, &subs)
	return subs, err
}

// Requeue implements queue.Queue.
func (c *Client) Requeue(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/queue/v1/dead-letters/"+url.PathEscape(id)+"/requeue", nil, nil)
}

// Stats implements queue.Queue.
func (c *Client) Stats(ctx context.Context) (queue.Stats, error) {
	var st queue.Stats
	err := c.do(ctx, http.MethodGet, "/queue/v1/stats", nil, &st)
	return st, err
}

package storehttp

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/store"
)

// Client is store.Store over the storage role's internal HTTP API.
type Client struct {
	c *httpx.Client
}

var _ store.Store = (*Client)(nil)

// NewClient returns a client for the storage role at baseURL
// ("http://storage:8089"); hc nil means a pooled default client.
func NewClient(baseURL string, hc *http.Client) *Client {
	c := httpx.NewClient(baseURL, hc)
	c.Dependency = "storage"
	return &Client{c: c}
}

// WithToken sets the internal bearer token sent with every request.
func (c *Client) WithToken(token string) *Client {
	c.c.Token = token
	return c
}

// Put implements store.Store.
func (c *Client) Put(ctx context.Context, subs []job.Submission) error {
	if len(subs) == 0 {
		return nil
	}
	return Sentinel(c.c.Do(ctx, http.MethodPost, "/storage/v1/submissions", PutRequest{Submissions: subs}, nil))
}

// Get implements store.Store.
func (c *Client) Get(ctx context.Context, id string) (job.Submission, error) {
	var s job.Submission
	err := c.c.Do(ctx, http.MethodGet, "/storage/v1/submissions/"+url.PathEscape(id), nil, &s)
	return s, Sentinel(err)
}

// List implements store.Store.
func (c *Client) List(ctx context.Context, f store.Filter) (store.Page, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("status", string(f.Status))
	set("language", f.Language)
	set("api_key_id", f.APIKeyID)
	set("cursor", f.Cursor)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/storage/v1/submissions"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var p store.Page
	err := c.c.Do(ctx, http.MethodGet, path, nil, &p)
	return p, Sentinel(err)
}

// Stats implements store.Store. A zero since means everything.
func (c *Client) Stats(ctx context.Context, since time.Time) (store.Stats, error) {
	var st store.Stats
	err := c.c.Do(ctx, http.MethodGet, "/storage/v1/stats?since="+url.QueryEscape(since.Format(time.RFC3339Nano)), nil, &st)
	if err == nil {
		if st.ByStatus == nil {
			st.ByStatus = map[job.Status]int64{}
		}
		if st.ByLanguage == nil {
			st.ByLanguage = map[string]int64{}
		}
	}
	return st, Sentinel(err)
}

// DeleteBefore implements store.Store.
func (c *Client) DeleteBefore(ctx context.Context, t time.Time, batch int) (int, error) {
	var resp RetentionResponse
	err := c.c.Do(ctx, http.MethodPost, "/storage/v1/retention", RetentionRequest{Before: t, Batch: batch}, &resp)
	return resp.Deleted, Sentinel(err)
}

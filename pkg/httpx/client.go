package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/execbox/app/pkg/outage"
)

// Client calls another role's internal JSON API.
type Client struct {
	Base string
	HTTP *http.Client
	// Token, when set, is sent as a bearer token.
	Token string
	// Dependency, when set, names the API for people ("the queue"): a
	// request that cannot reach it fails with an outage.Error naming it.
	Dependency string
}

// NewClient returns a client for the API at base ("http://queue:8086").
func NewClient(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: hc}
}

// Do sends in (if not nil) as JSON and decodes a 2xx response into out (if
// not nil). A non-2xx response becomes a *Problem error.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	_, err := c.DoStatus(ctx, method, path, in, out)
	return err
}

// DoStatus is Do that also returns the response status code.
func (c *Client) DoStatus(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id := RequestID(ctx); id != "" {
		req.Header.Set(RequestIDHeader, id)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		err = fmt.Errorf("%s %s: %w", method, c.Base+path, err)
		if c.Dependency != "" && ctx.Err() == nil && outage.IsConnection(err) {
			err = outage.Wrap(c.Dependency, err)
		}
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, ReadProblem(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: decode response: %w", method, c.Base+path, err)
	}
	return resp.StatusCode, nil
}

// ReadProblem turns a non-2xx response into a *Problem.
func ReadProblem(resp *http.Response) *Problem {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	p := &Problem{}
	if err := json.Unmarshal(b, p); err != nil || p.Status == 0 {
		p = &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Detail: strings.TrimSpace(string(b))}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil {
			p.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return p
}

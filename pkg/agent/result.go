package agent

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/execbox/app/pkg/job"
)

// OutputMatches reports whether got matches want, ignoring trailing
// whitespace (spaces, tabs, carriage returns) on each line and trailing
// empty lines. Nothing else is normalised.
func OutputMatches(got, want []byte) bool {
	return normalise(string(got)) == normalise(string(want))
}

func normalise(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r\v\f")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// fit trims the largest outputs of res (flagging them truncated) until its
// JSON encoding fits in max bytes. max <= 0 means no bound.
func fit(res Result, max int) Result {
	if max <= 0 {
		return res
	}
	res.Runs = append([]Step(nil), res.Runs...)
	if res.Compile != nil {
		c := *res.Compile
		res.Compile = &c
	}
	for _, s := range steps(&res) {
		if s.Output != nil { // trimmed in place below: not the caller's
			o := *s.Output
			s.Output = &o
		}
	}
	for range 64 {
		b, err := json.Marshal(res)
		if err != nil || len(b) <= max {
			return res
		}
		var largest *job.Output
		for _, s := range steps(&res) {
			for _, o := range []*job.Output{&s.Stdout, &s.Stderr, s.Output} {
				if o == nil {
					continue
				}
				if largest == nil || len(o.Text) > len(largest.Text) {
					largest = o
				}
			}
		}
		if largest == nil || len(largest.Text) < 64 {
			return res
		}
		*largest = trimOutput(*largest, len(largest.Text)/2)
	}
	return res
}

func steps(res *Result) []*Step {
	var out []*Step
	if res.Compile != nil {
		out = append(out, res.Compile)
	}
	for i := range res.Runs {
		out = append(out, &res.Runs[i])
	}
	return out
}

// trimOutput keeps about n bytes of o's text, on a rune boundary.
func trimOutput(o job.Output, n int) job.Output {
	b, err := o.Bytes()
	if err != nil {
		return job.Output{Truncated: true}
	}
	if o.Encoding == job.EncodingBase64 {
		n = n * 3 / 4
	}
	if n < len(b) {
		b = b[:n]
		if o.Encoding != job.EncodingBase64 {
			for len(b) > 0 && !utf8.Valid(b) {
				b = b[:len(b)-1]
			}
		}
	}
	return job.NewOutput(b, true)
}

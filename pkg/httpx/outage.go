package httpx

import (
	"net/http"
	"time"
)

// CodeUnavailable is the problem code of a dependency outage.
const CodeUnavailable = "unavailable"

// UnavailableRetryAfter is the Retry-After of an outage answer.
const UnavailableRetryAfter = 2 * time.Second

// UnavailableProblem is the one answer to a dependency being down (Redis,
// PostgreSQL, the queue or storage): 503 with Retry-After and a detail that
// names the dependency, never its address or credentials.
func UnavailableProblem(dependency string) Problem {
	return Problem{Status: http.StatusServiceUnavailable, Title: "service unavailable", Code: CodeUnavailable,
		Detail: dependency + " is unavailable; retry later", RetryAfter: UnavailableRetryAfter}
}

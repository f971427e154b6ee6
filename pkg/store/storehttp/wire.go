// Package storehttp is the store contract (pkg/store) over HTTP: the wire
// types and error codes of the storage role's internal API under
// /storage/v1, shared by the server (roles/storage) and Client, which
// gateways use without depending on the SQL stores.
package storehttp

import (
	"strconv"
	"time"

	"github.com/execbox/app/pkg/flagenv"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/store"
)

// DefaultPort is the storage role's listen port.
const DefaultPort = 8089

// DefaultURL is the storage role's URL on this host.
func DefaultURL() string { return "http://127.0.0.1:" + strconv.Itoa(DefaultPort) }

// RegisterURLFlag binds --storage-url, where gateways find the storage role.
func RegisterURLFlag(fs *flagenv.Set, url *string) {
	fs.String(url, "storage-url", "EXECBOX_STORAGE_URL", DefaultURL(), "storage role URL")
}

// PutRequest stores submissions (POST /storage/v1/submissions).
type PutRequest struct {
	Submissions []job.Submission `json:"submissions"`
}

// RetentionRequest deletes results finished before Before, Batch at most.
type RetentionRequest struct {
	Before time.Time `json:"before"`
	Batch  int       `json:"batch"`
}

// RetentionResponse says how many results a retention request deleted.
type RetentionResponse struct {
	Deleted int `json:"deleted"`
}

// CreateKeyRequest makes an API key; secrets never cross this API, only
// their SHA-256 in hex.
type CreateKeyRequest struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// KeyList is the answer of GET /storage/v1/keys.
type KeyList struct {
	Keys []store.Key `json:"keys"`
}

package queue

import "time"

// Settings are the queue semantics every implementation (pkg/memq,
// pkg/redisq) honours. DefaultSettings is where their defaults are written:
// the implementations fill zero options from it and the queue role's flags
// show it.
type Settings struct {
	// Visibility is the lease duration; workers heartbeat well within it.
	Visibility time.Duration
	// MaxDeliveries is how many expired deliveries dead-letter a job.
	MaxDeliveries int
	// MaxLength caps the number of queued jobs. An implementation's zero
	// means unlimited; the queue role's default is this cap.
	MaxLength int64
	// ResultTTL is how long finished submissions stay readable in the queue
	// (storage keeps them for good).
	ResultTTL time.Duration
}

// DefaultSettings returns the default queue semantics.
func DefaultSettings() Settings {
	return Settings{
		Visibility:    30 * time.Second,
		MaxDeliveries: 3,
		MaxLength:     10_000,
		ResultTTL:     24 * time.Hour,
	}
}

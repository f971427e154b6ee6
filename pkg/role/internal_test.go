package role

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestInternalAPICheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		api     InternalAPI
		addr    string
		wantErr bool
		warn    bool
	}{
		{"open on all interfaces", InternalAPI{}, "0.0.0.0:8086", true, false},
		{"open on empty host", InternalAPI{}, ":8086", true, false},
		{"open on IPv6 any", InternalAPI{}, "[::]:8086", true, false},
		{"open on a host address", InternalAPI{}, "192.0.2.1:8086", true, false},
		{"open on a name", InternalAPI{}, "queue:8086", true, false},
		{"open on IPv4 loopback", InternalAPI{}, "127.0.0.1:8086", false, false},
		{"open on another loopback address", InternalAPI{}, "127.0.0.2:8086", false, false},
		{"open on IPv6 loopback", InternalAPI{}, "[::1]:8086", false, false},
		{"open on localhost", InternalAPI{}, "localhost:8086", false, false},
		{"token on all interfaces", InternalAPI{Token: "s3cret"}, "0.0.0.0:8086", false, false},
		{"explicit opt-out", InternalAPI{AllowOpen: true}, "0.0.0.0:8086", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			err := tc.api.Check(tc.addr, slog.New(slog.NewTextHandler(&logs, nil)))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Check(%q) = %v, want error %v", tc.addr, err, tc.wantErr)
			}
			if err != nil && (!errors.Is(err, ErrOpenInternalAPI) || !strings.Contains(err.Error(), "--insecure-no-token")) {
				t.Errorf("error %q should wrap ErrOpenInternalAPI and name the opt-out", err)
			}
			if got := strings.Contains(logs.String(), "INSECURE"); got != tc.warn {
				t.Errorf("warning logged = %v, want %v (logs: %s)", got, tc.warn, logs.String())
			}
		})
	}
}

package core

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func TestCallbackDialRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	// The submit-time check is bypassed here (as DNS rebinding would): the
	// dialer itself must refuse loopback.
	cb := newCallbacks(Config{CallbackTimeout: 10 * time.Second, MaxPendingCallbacks: 1},
		slog.New(slog.DiscardHandler), nil, nil)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	t.Cleanup(srv.Close)
	err := cb.post(context.Background(), http.MethodPost, srv.URL, "x", []byte("{}"))
	var perm *permanentError
	if !errors.Is(err, errRefused) || !errors.As(err, &perm) {
		t.Fatalf("post to loopback: %v", err)
	}
	if requests.Load() != 0 {
		t.Fatal("the refused callback reached the server")
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips, ok := f[host]; ok {
		return ips, nil
	}
	return nil, errors.New("no such host")
}

func TestGuard(t *testing.T) {
	t.Parallel()
	g := &ipGuard{resolver: fakeResolver{
		"public.example":  {netip.MustParseAddr("93.184.216.34")},
		"mixed.example":   {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.1")},
		"private.example": {netip.MustParseAddr("192.168.1.1")},
	}}
	for ip, ok := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1:248:1893:25c8:1946": true,
		"127.0.0.1": false, "127.8.9.10": false, "::1": false, "10.0.0.1": false, "172.16.0.1": false,
		"192.168.0.1": false, "169.254.169.254": false, "fe80::1": false, "fc00::1": false, "0.0.0.0": false,
		"::": false, "224.0.0.1": false, "ff02::1": false, "100.64.0.1": false, "255.255.255.255": false,
		"::ffff:127.0.0.1": false, "64:ff9b::a00:1": false,
		// IPv4-compatible, 6to4 and Teredo addresses embed an IPv4 address.
		"::127.0.0.1": false, "::a00:1": false, "::5db8:d822": false,
		"2002:a00:1::1": false, "2002:7f00:1::": false, "2001:0:4136:e378:8000:63bf:3fff:fdd2": false,
		"100::1": false,
	} {
		if err := g.checkIP(netip.MustParseAddr(ip)); (err == nil) != ok {
			t.Errorf("checkIP(%s) = %v, want allowed=%v", ip, err, ok)
		}
	}
	ctx := context.Background()
	for host, ok := range map[string]bool{
		"public.example": true, "mixed.example": false, "private.example": false, "nxdomain.example": false,
		"93.184.216.34": true, "127.0.0.1": false,
	} {
		if err := g.checkHost(ctx, host); (err == nil) != ok {
			t.Errorf("checkHost(%s) = %v, want allowed=%v", host, err, ok)
		}
	}
	open := &ipGuard{allowPrivate: true}
	if err := open.checkHost(ctx, "127.0.0.1"); err != nil {
		t.Errorf("allow-private refused loopback: %v", err)
	}
}

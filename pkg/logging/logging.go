// Package logging builds the process logger: tint's colored text when
// writing to a terminal, JSON lines otherwise, every record tagged with the
// role that wrote it.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"

	"github.com/execbox/app/pkg/flagenv"
)

// Options selects the log format and level.
type Options struct {
	// Format is "auto" (tint on a terminal, JSON otherwise), "text" or "json".
	Format string
	// Level is debug, info, warn or error.
	Level string
}

// DefaultOptions returns the defaults the global flags show.
func DefaultOptions() Options { return Options{Format: "auto", Level: "info"} }

// RegisterFlags binds --log-format and --log-level to o.
func (o *Options) RegisterFlags(fs *flagenv.Set) {
	d := DefaultOptions()
	fs.String(&o.Format, "log-format", "EXECBOX_LOG_FORMAT", d.Format, "log format: auto (colored text on a terminal, JSON otherwise), text or json")
	fs.String(&o.Level, "log-level", "EXECBOX_LOG_LEVEL", d.Level, "log level: debug, info, warn or error")
}

// ParseLevel parses a level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// Validate checks the options.
func (o Options) Validate() error {
	switch o.Format {
	case "", "auto", "text", "json":
	default:
		return fmt.Errorf("log format %q: want auto, text or json", o.Format)
	}
	if o.Level != "" {
		if _, err := ParseLevel(o.Level); err != nil {
			return err
		}
	}
	return nil
}

// New returns a logger writing to w whose records all carry role.
func New(w io.Writer, o Options, role string) (*slog.Logger, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	level := slog.LevelInfo
	if o.Level != "" {
		level, _ = ParseLevel(o.Level)
	}
	format := strings.ToLower(o.Format)
	if format == "" || format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	var h slog.Handler
	if format == "text" {
		h = tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly, NoColor: !isTerminal(w)})
	} else {
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	}
	return slog.New(h).With("role", role), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Package flagenv binds command-line flags to environment variables: the
// variable, when set, becomes the flag's default, so the order is
// flag > environment > built-in default. --help shows each variable.
package flagenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Set binds flags on one flag set and remembers which hold secrets.
type Set struct {
	fs      *pflag.FlagSet
	secrets map[string]bool
	errs    []error
}

// New wraps fs.
func New(fs *pflag.FlagSet) *Set { return &Set{fs: fs, secrets: map[string]bool{}} }

func (s *Set) env(env string) (string, bool) {
	if env == "" {
		return "", false
	}
	return os.LookupEnv(env)
}

func usage(u, env string) string {
	if env == "" {
		return u
	}
	return fmt.Sprintf("%s [env %s]", u, env)
}

// String binds a string flag.
func (s *Set) String(p *string, name, env, def, u string) {
	if v, ok := s.env(env); ok {
		def = v
	}
	s.fs.StringVar(p, name, def, usage(u, env))
}

// Secret binds a string flag whose value is masked by Print.
func (s *Set) Secret(p *string, name, env, def, u string) {
	s.String(p, name, env, def, u)
	s.secrets[name] = true
}

// Strings binds a comma-separated list flag.
func (s *Set) Strings(p *[]string, name, env string, def []string, u string) {
	if v, ok := s.env(env); ok {
		def = nil
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				def = append(def, part)
			}
		}
	}
	s.fs.StringSliceVar(p, name, def, usage(u, env))
}

// Int binds an int flag.
func (s *Set) Int(p *int, name, env string, def int, u string) {
	if v, ok := s.env(env); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not an integer", env, v))
		} else {
			def = n
		}
	}
	s.fs.IntVar(p, name, def, usage(u, env))
}

// Int64 binds an int64 flag.
func (s *Set) Int64(p *int64, name, env string, def int64, u string) {
	if v, ok := s.env(env); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not an integer", env, v))
		} else {
			def = n
		}
	}
	s.fs.Int64Var(p, name, def, usage(u, env))
}

// Bool binds a bool flag.
func (s *Set) Bool(p *bool, name, env string, def bool, u string) {
	if v, ok := s.env(env); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a boolean", env, v))
		} else {
			def = b
		}
	}
	s.fs.BoolVar(p, name, def, usage(u, env))
}

// Duration binds a duration flag ("30s", "5m").
func (s *Set) Duration(p *time.Duration, name, env string, def time.Duration, u string) {
	if v, ok := s.env(env); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a duration", env, v))
		} else {
			def = d
		}
	}
	s.fs.DurationVar(p, name, def, usage(u, env))
}

// Err reports environment values that could not be parsed.
func (s *Set) Err() error {
	if len(s.errs) == 0 {
		return nil
	}
	msgs := make([]string, len(s.errs))
	for i, e := range s.errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("bad environment: %s", strings.Join(msgs, "; "))
}

// Print writes the effective value of every flag, secrets masked.
func (s *Set) Print(w interface{ Write([]byte) (int, error) }) {
	s.fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || f.Name == "print-config" {
			return
		}
		v := f.Value.String()
		if s.secrets[f.Name] && v != "" {
			v = "********"
		}
		fmt.Fprintf(w, "%s=%s\n", f.Name, maskURL(v))
	})
}

// maskURL hides the password in a URL-shaped value (redis://:pw@host).
func maskURL(v string) string {
	at := strings.Index(v, "@")
	scheme := strings.Index(v, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return v
	}
	userinfo := v[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return v[:scheme+3] + userinfo[:i] + ":********" + v[at:]
	}
	return v
}

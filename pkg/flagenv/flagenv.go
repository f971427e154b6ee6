// Package flagenv binds command-line flags to environment variables: the
// variable, when set, becomes the flag's default, so the order is
// flag > environment > built-in default. --help shows each variable.
//
// Each role binds its own settings once (a RegisterFlags method beside its
// DefaultConfig); "app all" calls every role's, so a flag two roles share
// (--redis-url for the queue and storage) is bound twice under one name. The
// second binding must be the same flag (environment variable, default and
// help text); it then follows the first: both fields get the value.
package flagenv

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Set binds flags on one flag set and remembers which hold secrets.
type Set struct {
	fs      *pflag.FlagSet
	secrets map[string]bool
	bound   map[string]binding
	errs    []error
}

// binding is what a flag was first bound with, to check a second binding
// of the same name against it.
type binding struct {
	ptr        any
	env, usage string
	def        any
}

// New wraps fs.
func New(fs *pflag.FlagSet) *Set {
	return &Set{fs: fs, secrets: map[string]bool{}, bound: map[string]binding{}}
}

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

// follower is a flag value that also copies each parsed value to the
// fields of later bindings of the same flag.
type follower struct {
	pflag.Value
	sync []func()
}

func (f *follower) Set(v string) error {
	if err := f.Value.Set(v); err != nil {
		return err
	}
	for _, s := range f.sync {
		s()
	}
	return nil
}

// bind binds p under name unless name is bound already, in which case p
// follows the first binding (which must be the same flag). parse reads the
// environment value; what names its kind for the error.
func bind[T any](s *Set, p *T, name, env string, def T, u, what string, parse func(string) (T, error), register func(def T, usage string)) {
	if b, ok := s.bound[name]; ok {
		first, same := b.ptr.(*T)
		if !same || b.env != env || b.usage != u || !reflect.DeepEqual(b.def, def) {
			panic(fmt.Sprintf("flagenv: --%s bound twice with different definitions", name))
		}
		*p = *first
		f := s.fs.Lookup(name)
		fw, ok := f.Value.(*follower)
		if !ok {
			fw = &follower{Value: f.Value}
			f.Value = fw
		}
		fw.sync = append(fw.sync, func() { *p = *first })
		return
	}
	s.bound[name] = binding{ptr: p, env: env, usage: u, def: def}
	if v, ok := s.env(env); ok {
		x, err := parse(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not %s", env, v, what))
		} else {
			def = x
		}
	}
	register(def, usage(u, env))
}

// String binds a string flag.
func (s *Set) String(p *string, name, env, def, u string) {
	bind(s, p, name, env, def, u, "a string", func(v string) (string, error) { return v, nil },
		func(def string, u string) { s.fs.StringVar(p, name, def, u) })
}

// Secret binds a string flag whose value is masked by Print.
func (s *Set) Secret(p *string, name, env, def, u string) {
	s.String(p, name, env, def, u)
	s.secrets[name] = true
}

// Strings binds a comma-separated list flag.
func (s *Set) Strings(p *[]string, name, env string, def []string, u string) {
	bind(s, p, name, env, def, u, "a list", func(v string) ([]string, error) {
		var l []string
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				l = append(l, part)
			}
		}
		return l, nil
	}, func(def []string, u string) { s.fs.StringSliceVar(p, name, def, u) })
}

// Int binds an int flag.
func (s *Set) Int(p *int, name, env string, def int, u string) {
	bind(s, p, name, env, def, u, "an integer", strconv.Atoi,
		func(def int, u string) { s.fs.IntVar(p, name, def, u) })
}

// Int64 binds an int64 flag.
func (s *Set) Int64(p *int64, name, env string, def int64, u string) {
	bind(s, p, name, env, def, u, "an integer", parseInt64,
		func(def int64, u string) { s.fs.Int64Var(p, name, def, u) })
}

func parseInt64(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) }

// Shifted binds an int64 flag given in units of 1<<shift of what p holds:
// a size in MiB (shift 20) kept in bytes. def is in p's unit.
func (s *Set) Shifted(p *int64, shift uint, name, env string, def int64, u string) {
	bind(s, p, name, env, def, u, "an integer", func(v string) (int64, error) {
		n, err := parseInt64(v)
		return n << shift, err
	}, func(def int64, u string) {
		*p = def
		s.fs.Var(&shifted{p: p, shift: shift}, name, u)
	})
}

// shifted is the flag value of Shifted.
type shifted struct {
	p     *int64
	shift uint
}

func (v *shifted) String() string { return strconv.FormatInt(*v.p>>v.shift, 10) }
func (v *shifted) Type() string   { return "int" }
func (v *shifted) Set(s string) error {
	n, err := parseInt64(s)
	if err != nil {
		return err
	}
	*v.p = n << v.shift
	return nil
}

// Float64 binds a float64 flag.
func (s *Set) Float64(p *float64, name, env string, def float64, u string) {
	bind(s, p, name, env, def, u, "a number", func(v string) (float64, error) { return strconv.ParseFloat(v, 64) },
		func(def float64, u string) { s.fs.Float64Var(p, name, def, u) })
}

// Bool binds a bool flag.
func (s *Set) Bool(p *bool, name, env string, def bool, u string) {
	bind(s, p, name, env, def, u, "a boolean", strconv.ParseBool,
		func(def bool, u string) { s.fs.BoolVar(p, name, def, u) })
}

// Duration binds a duration flag ("30s", "5m").
func (s *Set) Duration(p *time.Duration, name, env string, def time.Duration, u string) {
	bind(s, p, name, env, def, u, "a duration", time.ParseDuration,
		func(def time.Duration, u string) { s.fs.DurationVar(p, name, def, u) })
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

package cmd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/roles/storage"
)

// keyPrefix starts every secret "app storage keys create" makes, so a
// leaked one is recognisable (secret scanners, logs).
const keyPrefix = "ebx_"

// newSecret returns a new random key secret: the prefix and 32 random bytes
// in unpadded base64url.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random key: %w", err)
	}
	return keyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func newStorageKeysCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Make, list and revoke the API keys kept in the database",
		Long: `Make, list and revoke the API keys kept in the database (DATABASE_URL, or the
embedded store under --data-dir). Only a key's SHA-256 is stored; its secret
is printed once, when it is made. Gateways look presented keys up in the
store and cache the answer for --api-key-cache-ttl (default 30s): a revoked
key stops working within that time. Once any key exists, every gateway
requires one.`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(newKeysCreateCmd(g), newKeysListCmd(g), newKeysRevokeCmd(g))
	return c
}

// withKeyStore opens the store cfg names, migrates it and runs fn on it.
func withKeyStore(g *globals, cfg storage.Config, fn func(context.Context, store.KeyStore) error) error {
	return withMigratedStorage(g, cfg, time.Minute, func(ctx context.Context, role *storage.Role, _ []int) error {
		ks, ok := role.Store().(store.KeyStore)
		if !ok {
			return errors.New("this store keeps no API keys")
		}
		return fn(ctx, ks)
	})
}

func newKeysCreateCmd(g *globals) *cobra.Command {
	var (
		cfg      storage.Config
		id, name string
	)
	c := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Make an API key and print its secret (once)",
		Long: `Make an API key and print its secret on stdout, once: only its SHA-256 is
stored. The key's id (--id, default the name) is what submissions, rate
limits and logs record; ids are never reused, even after revocation.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	cfg.RegisterDatabaseFlags(fs)
	fs.String(&name, "name", "EXECBOX_KEY_NAME", name, "name of the key (required)")
	fs.String(&id, "id", "EXECBOX_KEY_ID", id, "id of the key: letters, digits, '.', '_', '-' (default: the name)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		if name == "" {
			return errors.New("keys create: --name is required")
		}
		if id == "" {
			id = name
		}
		secret, err := newSecret()
		if err != nil {
			return err
		}
		nk := store.NewKey{ID: id, Name: name, Hash: sha256.Sum256([]byte(secret))}
		if err := nk.Validate(); err != nil {
			if id == name {
				return fmt.Errorf("keys create: %w (pass --id when the name is not a valid id)", err)
			}
			return fmt.Errorf("keys create: %w", err)
		}
		return withKeyStore(g, cfg, func(ctx context.Context, ks store.KeyStore) error {
			k, err := ks.CreateKey(ctx, nk)
			if err != nil {
				return fmt.Errorf("keys create: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "API key %q created; its secret (above) is shown only this once\n", k.ID)
			return nil
		})
	}
	return c
}

func newKeysListCmd(g *globals) *cobra.Command {
	var cfg storage.Config
	c := &cobra.Command{
		Use:   "list",
		Short: "List the API keys in the database (never their secrets)",
		Args:  cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	cfg.RegisterDatabaseFlags(fs)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		return withKeyStore(g, cfg, func(ctx context.Context, ks store.KeyStore) error {
			keys, err := ks.ListKeys(ctx)
			if err != nil {
				return fmt.Errorf("keys list: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED\tREVOKED")
			for _, k := range keys {
				revoked := "-"
				if !k.Active() {
					revoked = k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%q\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.Format(time.RFC3339), revoked)
			}
			return tw.Flush()
		})
	}
	return c
}

func newKeysRevokeCmd(g *globals) *cobra.Command {
	var cfg storage.Config
	c := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key",
		Long: `Revoke an API key. Gateways refuse it within their --api-key-cache-ttl
(default 30s). Revoking every key does not open the API again.`,
		Args: cobra.ExactArgs(1),
	}
	fs := flagenv.New(c.Flags())
	cfg.RegisterDatabaseFlags(fs)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		return withKeyStore(g, cfg, func(ctx context.Context, ks store.KeyStore) error {
			k, err := ks.RevokeKey(ctx, args[0])
			if err != nil {
				return fmt.Errorf("keys revoke: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "API key %q revoked at %s\n", k.ID, k.RevokedAt.Format(time.RFC3339))
			return nil
		})
	}
	return c
}

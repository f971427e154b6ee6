package catalog

import "github.com/execbox/app/pkg/flagenv"

// RegisterFlags binds --runtimes, the file LoadOrDefault reads, to path.
// The executor and gateway roles both bind it (app all once for both).
func RegisterFlags(fs *flagenv.Set, path *string) {
	fs.String(path, "runtimes", "EXECBOX_RUNTIMES", "", "runtimes file replacing or extending the embedded language catalog")
}

// Command app is execbox: one binary that runs as any of its roles.
package main

import (
	"os"

	"github.com/execbox/app/cmd"
)

func main() {
	os.Exit(cmd.Execute(os.Stdout, os.Stderr))
}

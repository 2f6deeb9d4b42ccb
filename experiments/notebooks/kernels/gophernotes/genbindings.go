//go:build ignore

// Command genbindings writes gomacro's import bindings ("import _b") of the packages given as
// arguments into the imports package of the gophernotes source tree it runs in, so that a kernel
// built from that tree has them compiled in. ../../kernels.sh copies it into the tree, which
// it places at GOPATH/src/github.com/gopherdata/gophernotes, and runs it there:
//
//	go run genbindings/main.go GOPATH PACKAGE...
package main

import (
	"fmt"
	"go/build"
	"os"
	"path/filepath"

	"github.com/cosmos72/gomacro/base/genimport"
	"github.com/cosmos72/gomacro/base/output"
	"github.com/cosmos72/gomacro/base/paths"

	// Its init points gomacro at this package's directory, under GOPATH/src, for the bindings.
	_ "github.com/gopherdata/gophernotes/imports"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: genbindings GOPATH PACKAGE...")
		os.Exit(2)
	}
	if err := generate(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "genbindings:", err)
		os.Exit(1)
	}
}

func generate(gopath string, pkgs []string) error {
	gopath, err := filepath.Abs(gopath)
	if err != nil {
		return err
	}
	build.Default.GOPATH = gopath
	// Before loading a package gomacro runs "go get PACKAGE", which asks the module proxy for the
	// versions of every prefix of the path and fails where the proxy refuses (this project's
	// packages come from a replace directive, and every requirement is in go.mod already): give
	// it a go command that skips "get" and runs the real one otherwise.
	tmp, err := os.MkdirTemp("", "genbindings")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Join(tmp, "bin"), 0o755); err != nil {
		return err
	}
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = get ] && exit 0\nexec %q \"$@\"\n",
		filepath.Join(build.Default.GOROOT, "bin", "go"))
	if err := os.WriteFile(filepath.Join(tmp, "bin", "go"), []byte(script), 0o755); err != nil {
		return err
	}
	paths.GoRootDir = tmp
	imp := genimport.DefaultImporter(&output.Output{Stdout: os.Stdout, Stderr: os.Stderr})
	for _, pkg := range pkgs {
		if _, err := imp.ImportPackagesOrError(map[string]genimport.PackageName{pkg: "_b"}, true); err != nil {
			return fmt.Errorf("%s: %v", pkg, err)
		}
	}
	fmt.Printf("genbindings: bindings of %d packages in %s\n", len(pkgs), paths.GetImportsSrcDir())
	return nil
}

package notebooks_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// kernels are the notebook directories, each named after the kernelspec its notebooks run on.
var kernels = []string{"gonb", "gophernotes"}

const (
	module      = "github.com/resnet-go/resnet"
	maxPNG      = 150 << 10 // bytes of one figure
	maxDirBytes = 2 << 20   // all the committed notebooks
)

type notebook struct {
	Cells []struct {
		CellType       string          `json:"cell_type"`
		Source         json.RawMessage `json:"source"`
		ExecutionCount *int            `json:"execution_count"`
		Outputs        []struct {
			OutputType string                     `json:"output_type"`
			Name       string                     `json:"name"`
			Text       json.RawMessage            `json:"text"`
			Data       map[string]json.RawMessage `json:"data"`
			Evalue     string                     `json:"evalue"`
		} `json:"outputs"`
	} `json:"cells"`
	Metadata struct {
		Kernelspec struct {
			Name string `json:"name"`
		} `json:"kernelspec"`
	} `json:"metadata"`
}

// text joins a notebook string field, which is a string or a list of lines.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var lines []string
	_ = json.Unmarshal(raw, &lines)
	return strings.Join(lines, "")
}

func readNotebook(t *testing.T, path string) notebook {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb notebook
	if err := json.Unmarshal(b, &nb); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return nb
}

func committed(t *testing.T, kernel string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(kernel, "*.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no notebooks in %s/", kernel)
	}
	return paths
}

// outputKinds is what a code cell produced, as a sorted set: "stream:stdout", "display_data:image/png", ….
// Standard error is left out: what the go command logs there (downloads on a fresh machine)
// depends on the caches.
func outputKinds(nb notebook, i int) []string {
	set := map[string]bool{}
	for _, o := range nb.Cells[i].Outputs {
		switch o.OutputType {
		case "stream":
			if o.Name != "stderr" {
				set["stream:"+o.Name] = true
			}
		case "error":
			set["error"] = true
		default:
			for mime := range o.Data {
				set[o.OutputType+":"+mime] = true
			}
		}
	}
	var kinds []string
	for k := range set {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// TestNotebooksCommittedExecuted: every committed notebook was executed (every code cell has an
// execution count, none ended in an error), shows what it computed (outputs, figures as PNG), runs
// on the kernel its directory names, and stays small.
func TestNotebooksCommittedExecuted(t *testing.T) {
	var total int64
	for _, k := range kernels {
		for _, path := range committed(t, k) {
			nb := readNotebook(t, path)
			if got := nb.Metadata.Kernelspec.Name; got != k {
				t.Errorf("%s: kernelspec %q, want %q", path, got, k)
			}
			code, withOutput, pngs := 0, 0, 0
			for i, c := range nb.Cells {
				if c.CellType != "code" {
					continue
				}
				code++
				if c.ExecutionCount == nil {
					t.Errorf("%s: code cell %d was not executed (run make notebooks NOTEBOOKS_UPDATE=1)", path, i)
				}
				if len(c.Outputs) > 0 {
					withOutput++
				}
				for _, o := range c.Outputs {
					if o.OutputType == "error" {
						t.Errorf("%s: code cell %d ended in an error: %s", path, i, o.Evalue)
					}
					if o.OutputType == "stream" && strings.TrimSpace(text(o.Text)) == "" {
						t.Errorf("%s: code cell %d has an empty %s output", path, i, o.Name)
					}
					if png, ok := o.Data["image/png"]; ok {
						pngs++
						if n := len(text(png)) * 3 / 4; n > maxPNG {
							t.Errorf("%s: code cell %d has a %d KB figure, want at most %d KB", path, i, n>>10, maxPNG>>10)
						}
					}
				}
			}
			if code == 0 || withOutput == 0 {
				t.Errorf("%s: %d code cells, %d with outputs", path, code, withOutput)
			}
			// Every notebook but the first (layer tables and numbers) draws figures.
			if !strings.HasPrefix(filepath.Base(path), "01-") && pngs == 0 {
				t.Errorf("%s: no PNG figure among the outputs", path)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			total += fi.Size()
		}
	}
	if total > maxDirBytes {
		t.Errorf("committed notebooks take %d KB, want at most %d KB", total>>10, maxDirBytes>>10)
	}
}

// TestNotebooksMatchExecuted compares the committed notebooks with the ones make notebooks
// executed (NOTEBOOKS_EXECUTED, one directory per kernel): the same cells, and the same kinds of
// output in every code cell, so the committed outputs are those of the cells as committed.
func TestNotebooksMatchExecuted(t *testing.T) {
	dir := os.Getenv("NOTEBOOKS_EXECUTED")
	if dir == "" {
		t.Skip("NOTEBOOKS_EXECUTED not set (make notebooks sets it)")
	}
	ks := strings.Fields(os.Getenv("NOTEBOOKS_KERNELS"))
	if len(ks) == 0 {
		ks = kernels
	}
	for _, k := range ks {
		for _, path := range committed(t, k) {
			want := readNotebook(t, path)
			ran := filepath.Join(dir, k, filepath.Base(path))
			got := readNotebook(t, ran)
			if len(got.Cells) != len(want.Cells) {
				t.Errorf("%s: %d cells, the executed %s has %d", path, len(want.Cells), ran, len(got.Cells))
				continue
			}
			for i := range want.Cells {
				w, g := want.Cells[i], got.Cells[i]
				if w.CellType != g.CellType || text(w.Source) != text(g.Source) {
					t.Errorf("%s: cell %d differs from the executed one in %s (run make notebooks NOTEBOOKS_UPDATE=1)", path, i, ran)
					continue
				}
				if w.CellType != "code" {
					continue
				}
				if wk, gk := outputKinds(want, i), outputKinds(got, i); !slices.Equal(wk, gk) {
					t.Errorf("%s: code cell %d has outputs %v, the executed one %v (run make notebooks NOTEBOOKS_UPDATE=1)", path, i, wk, gk)
				}
			}
		}
	}
}

var projectImport = regexp.MustCompile(`"(` + regexp.QuoteMeta(module) + `(?:/[A-Za-z0-9_./-]+)?)"`)

// notebookImports are the project's packages that the committed notebooks import.
func notebookImports(t *testing.T) []string {
	t.Helper()
	set := map[string]bool{}
	for _, k := range kernels {
		for _, path := range committed(t, k) {
			nb := readNotebook(t, path)
			for _, c := range nb.Cells {
				if c.CellType != "code" {
					continue
				}
				for _, m := range projectImport.FindAllStringSubmatch(text(c.Source), -1) {
					set[m[1]] = true
				}
			}
		}
	}
	var pkgs []string
	for p := range set {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	return pkgs
}

// genericExports lists the exported generic functions, types and methods of generic types in
// the Go files of one parsed package (gomacro, the interpreter of gophernotes, cannot import
// them: it skips them with a warning).
func genericExports(fset *token.FileSet, files []*ast.File) []string {
	var found []string
	at := func(pos token.Pos, what string) {
		found = append(found, fmt.Sprintf("%s (%s)", what, fset.Position(pos)))
	}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Type.TypeParams != nil && len(d.Type.TypeParams.List) > 0 {
					at(d.Pos(), "func "+d.Name.Name)
				}
				if d.Recv != nil && len(d.Recv.List) == 1 {
					rt := d.Recv.List[0].Type
					if s, ok := rt.(*ast.StarExpr); ok {
						rt = s.X
					}
					switch rt.(type) {
					case *ast.IndexExpr, *ast.IndexListExpr:
						at(d.Pos(), "method "+d.Name.Name+" of a generic type")
					}
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if ok && ts.Name.IsExported() && ts.TypeParams != nil && len(ts.TypeParams.List) > 0 {
						at(ts.Pos(), "type "+ts.Name.Name)
					}
				}
			}
		}
	}
	return found
}

func parseDir(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return files
}

// TestNotebookAPIsHaveNoGenerics fails when a package of this project that a notebook imports
// exports a generic function or type, which the gophernotes kernel could not use.
func TestNotebookAPIsHaveNoGenerics(t *testing.T) {
	pkgs := notebookImports(t)
	if len(pkgs) < 3 {
		t.Fatalf("notebooks import %v: expected the project's packages", pkgs)
	}
	root := filepath.Join("..", "..")
	for _, pkg := range pkgs {
		dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")))
		fset := token.NewFileSet()
		for _, g := range genericExports(fset, parseDir(t, fset, dir)) {
			t.Errorf("%s exports a generic %s: gophernotes notebooks cannot import it", pkg, g)
		}
	}
}

// The check finds what it looks for.
func TestGenericExportsDetected(t *testing.T) {
	src := `package p
func Map[T any](x []T) []T { return x }
func ok(x int) int { return x }
type Set[K comparable] map[K]bool
type Pair[A, B any] struct{ a A; b B }
func (s Set[K]) Has(k K) bool { return s[k] }
func (p *Pair[A, B]) First() A { return p.a }
type plain int
func (plain) String() string { return "" }
func internal[T any]() {}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := genericExports(fset, []*ast.File{f})
	if len(got) != 5 {
		t.Errorf("found %d generic exports, want 5 (Map, Set, Pair, Has, First): %v", len(got), got)
	}
}

package eddy_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Every Example function of the module must be one go doc shows. go/doc attaches an example to a
// package, a function, a type or a method declared with a receiver; one named after an interface's
// method (ExampleConn_Peek), a struct field or a variable is dropped from the documentation, although
// go test runs it and go vet accepts the name. Such examples take a lower-case suffix instead
// (ExampleConn_peek), which attaches them to the type.
func TestExamplesAreShownByGoDoc(t *testing.T) {
	dirs := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (name == "testdata" || name == "bench" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir // bench is a module of its own
			}
			return nil
		}
		if strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for dir := range dirs {
		list = append(list, dir)
	}
	sort.Strings(list)
	checked := 0
	for _, dir := range list {
		all, shown := examplesOf(t, dir)
		checked += len(all)
		for _, name := range all {
			if !shown[name] {
				t.Errorf("%s: Example%s is not shown by go doc: name it after a function, a type or a method with a receiver (an interface's method takes a lower-case suffix: ExampleConn_peek)", dir, name)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("found %d examples in %d directories, want the module's (at least 50)", checked, len(list))
	}
}

// examplesOf returns the names of the Example functions in dir's test files (without "Example") and
// the set of those go/doc attaches to the package or one of its declarations.
func examplesOf(t *testing.T, dir string) (all []string, shown map[string]bool) {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string][]*ast.File{} // package clause (x and x_test merge in doc.NewFromFiles)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(f.Name.Name, "_test")
		pkgs[name] = append(pkgs[name], f)
		if !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Example") {
				all = append(all, strings.TrimPrefix(fd.Name.Name, "Example"))
			}
		}
	}
	shown = map[string]bool{}
	add := func(exs []*doc.Example) {
		for _, ex := range exs {
			shown[ex.Name] = true
		}
	}
	for _, files := range pkgs {
		p, err := doc.NewFromFiles(fset, files, "example.com/"+dir, doc.AllDecls)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		add(p.Examples)
		for _, f := range p.Funcs {
			add(f.Examples)
		}
		for _, ty := range p.Types {
			add(ty.Examples)
			for _, f := range ty.Funcs {
				add(f.Examples)
			}
			for _, m := range ty.Methods {
				add(m.Examples)
			}
		}
	}
	return all, shown
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// kind is what a case measures, and so which servers and which load generator it takes.
type kind string

const (
	kindEcho kind = "echo" // ping-pong round trips, eddy load in echo mode
	kindIdle kind = "idle" // memory per idle connection, eddy load --hold
	kindHTTP kind = "http" // HTTP plaintext requests, eddy load in http mode (or wrk)
)

// benchCase is one measured situation: a kind, a number of connections and a message size.
type benchCase struct {
	ID    string // as named in --cases and in the results
	Kind  kind
	Conns int
	Size  int // message size in bytes (echo and idle)
}

// allCases lists the cases in the order each round runs them.
var allCases = []benchCase{
	{ID: "echo-c100-64B", Kind: kindEcho, Conns: 100, Size: 64},
	{ID: "echo-c100-4KiB", Kind: kindEcho, Conns: 100, Size: 4096},
	{ID: "echo-c1000-64B", Kind: kindEcho, Conns: 1000, Size: 64},
	{ID: "echo-c1000-4KiB", Kind: kindEcho, Conns: 1000, Size: 4096},
	{ID: "idle-c10000", Kind: kindIdle, Conns: 10000, Size: 64},
	{ID: "http-c100", Kind: kindHTTP, Conns: 100},
	{ID: "http-c1000", Kind: kindHTTP, Conns: 1000},
}

// title describes c for people.
func (c benchCase) title() string {
	switch c.Kind {
	case kindEcho:
		return fmt.Sprintf("Echo, %s connections, %s messages", count(float64(c.Conns)), sizeName(c.Size))
	case kindIdle:
		return fmt.Sprintf("Idle memory, %s connections", count(float64(c.Conns)))
	default:
		return fmt.Sprintf("HTTP plaintext, %s connections", count(float64(c.Conns)))
	}
}

// sizeName prints a message size: 64 B, 4 KiB.
func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

// selectCases returns the cases named in the comma list spec: case IDs, or kinds (echo, idle, http) for
// every case of that kind, or "all".
func selectCases(spec string) ([]benchCase, error) {
	var out []benchCase
	for _, name := range splitList(spec) {
		found := false
		for _, c := range allCases {
			if name == "all" || name == c.ID || name == string(c.Kind) {
				found = true
				if !slices.ContainsFunc(out, func(o benchCase) bool { return o.ID == c.ID }) {
					out = append(out, c)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("--cases: unknown case %q (want all, echo, idle, http or one of %s)", name, caseIDs())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--cases: no case selected")
	}
	return out, nil
}

// caseIDs lists the case IDs for error messages.
func caseIDs() string {
	ids := make([]string, len(allCases))
	for i, c := range allCases {
		ids[i] = c.ID
	}
	return strings.Join(ids, ", ")
}

// server is one server under test: a binary and its arguments. args holds the literal "{addr}", which
// is replaced by the listen address of each run.
type server struct {
	Name string
	Kind kind // echo servers serve the echo and idle cases; HTTP servers the http cases
	pkg  string
	bin  string
	args []string
}

// echoServers are the echo servers of bench/cmd, in table order. The eddy ones share one binary.
var echoServers = []server{
	{Name: "eddy-epoll", pkg: "./cmd/eddy", args: []string{"-engine", "epoll"}},
	{Name: "eddy-uring", pkg: "./cmd/eddy", args: []string{"-engine", "uring"}},
	{Name: "eddy-std", pkg: "./cmd/eddy", args: []string{"-engine", "std"}},
	{Name: "gnet", pkg: "./cmd/gnet"},
	{Name: "nbio", pkg: "./cmd/nbio"},
	{Name: "evio", pkg: "./cmd/evio"},
	{Name: "netpoll", pkg: "./cmd/netpoll"},
	{Name: "net", pkg: "./cmd/net"},
}

// The reference servers, to which the others are compared (docs/benchmarks.md, "Ratios").
const (
	echoReference = "eddy-epoll"        // echo and idle
	httpReference = "eddy-http1-native" // HTTP
)

// reference is the server every other one of kind k is compared with: echoReference (httpReference)
// when it is among servers, or else the first server whose name starts with "eddy", so that the
// ratios do not depend on the order of --servers; "" when there is none.
func reference(servers []server, k kind) string {
	want := echoReference
	if k == kindHTTP {
		want = httpReference
	}
	first := ""
	for _, s := range servers {
		switch {
		case s.Kind != k:
		case s.Name == want:
			return want
		case first == "" && strings.HasPrefix(s.Name, "eddy"):
			first = s.Name
		}
	}
	return first
}

// httpServers are the HTTP plaintext servers, all run by bench/http's plaintext command (owned by the
// HTTP work, not by the runner) with -server naming the kind; eddy's native http1 handler first, as the
// reference.
var httpServers = []server{
	{Name: "eddy-http1-native", pkg: "./http/plaintext", args: []string{"-server", "http1-native", "-engine", "epoll"}},
	{Name: "eddy-http1-nethttp", pkg: "./http/plaintext", args: []string{"-server", "http1-nethttp", "-engine", "epoll"}},
	{Name: "fasthttp", pkg: "./http/plaintext", args: []string{"-server", "fasthttp"}},
	{Name: "nethttp", pkg: "./http/plaintext", args: []string{"-server", "nethttp"}},
	{Name: "nbhttp", pkg: "./http/plaintext", args: []string{"-server", "nbhttp"}},
}

// discoverHTTPServers returns the HTTP plaintext servers when bench/http/plaintext exists, or none and
// why not.
func discoverHTTPServers(benchDir string) ([]server, string) {
	if !isMainPackage(filepath.Join(benchDir, "http", "plaintext")) {
		return nil, "bench/http/plaintext (the HTTP servers' command) does not exist yet"
	}
	out := make([]server, len(httpServers))
	copy(out, httpServers)
	for i := range out {
		out[i].Kind = kindHTTP
	}
	return out, ""
}

// isMainPackage reports whether dir holds a non-test Go file of package main.
func isMainPackage(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "package ") {
				if strings.TrimSpace(line) == "package main" {
					return true
				}
				break
			}
		}
	}
	return false
}

// selectServers keeps the servers named in the comma list spec ("all" keeps every one), in the order of
// all whatever the order of spec: the tables, the rounds and the choice of reference are the same for
// any spelling of the same set.
func selectServers(all []server, spec string) ([]server, error) {
	names := splitList(spec)
	if slices.Contains(names, "all") {
		return all, nil
	}
	for _, n := range names {
		if !slices.ContainsFunc(all, func(s server) bool { return s.Name == n }) {
			known := make([]string, len(all))
			for j, s := range all {
				known[j] = s.Name
			}
			return nil, fmt.Errorf("--servers: unknown server %q (known: %s)", n, strings.Join(known, ", "))
		}
	}
	var out []server
	for _, s := range all {
		if slices.Contains(names, s.Name) {
			out = append(out, s)
		}
	}
	return out, nil
}

// splitList splits a comma list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// build compiles the servers' packages (each once) and the eddy CLI into binDir, and fills in each
// server's bin. The servers are built in benchDir, where the eddy module is reached through go.mod's
// replace; the eddy CLI in the eddy module itself (benchDir's parent), with that module's dependencies
// (its HDR histogram is no dependency of the bench module).
func build(ctx context.Context, benchDir, binDir string, servers []server) (eddyCLI string, err error) {
	pkgBin := map[string]string{}
	var pkgs []string
	for _, s := range servers {
		if _, ok := pkgBin[s.pkg]; !ok {
			pkgBin[s.pkg] = filepath.Join(binDir, "servers", strings.ReplaceAll(strings.TrimPrefix(s.pkg, "./"), "/", "-"))
			pkgs = append(pkgs, s.pkg)
		}
	}
	for _, p := range pkgs {
		if err := goBuild(ctx, benchDir, pkgBin[p], p); err != nil {
			return "", err
		}
	}
	for i := range servers {
		servers[i].bin = pkgBin[servers[i].pkg]
	}
	eddyCLI = filepath.Join(binDir, "eddy")
	if err := goBuild(ctx, filepath.Dir(benchDir), eddyCLI, "./cmd/eddy"); err != nil {
		return "", err
	}
	return eddyCLI, nil
}

// goBuild runs go build -o out pkg in dir.
func goBuild(ctx context.Context, dir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// benchModuleDir returns the directory of the bench module, which the runner must be started in (or
// below): go run ./runner from bench/.
func benchModuleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	b, err := os.ReadFile(mod)
	if err != nil || !strings.Contains(string(b), "module github.com/eddyio/eddy/bench") {
		return "", fmt.Errorf("run the runner from the bench module (cd bench && go run ./runner); go.mod here is %q", mod)
	}
	return filepath.Dir(mod), nil
}

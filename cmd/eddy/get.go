package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/http1"
)

// getSummary is the line "eddy help" shows for "eddy get".
const getSummary = "download a URL over HTTP with parallel ranged requests, writing the file through package aio"

// getUsage is the synopsis of "eddy get".
const getUsage = "eddy get [--out FILE] [--force] [--conns N] [--chunk SIZE] [--backend auto|uring|pool] [--client auto|eddy|net] [--timeout D] [--cacert FILE] [--json] URL"

// getNotes is what "eddy get" does.
const getNotes = "It asks for the first byte (Range: bytes=0-0) to learn the size and whether the server honours\n" +
	"ranges, then fetches the file in chunks of --chunk bytes over --conns connections, each writing\n" +
	"what it receives at its offset with asynchronous writes (package aio). A server that ignores\n" +
	"ranges, or does not tell the size, is read in one plain GET. The file is written next to FILE as\n" +
	"FILE.<random>.part, synced and renamed to FILE once every byte has arrived; on any error it is\n" +
	"removed, and eddy get fails (exit 1) naming the URL, the range and the status or error; a FILE\n" +
	"that --force would replace is left as it was. The first answer must be 200, 206 or 416: any other\n" +
	"status fails, 204 included. Redirects are followed, at most 9 in a row, to http(s) URLs only. No\n" +
	"Accept-Encoding is sent and no coding decoded: a body compressed anyway is saved as sent. FILE is\n" +
	"by default the URL's last path element, percent-decoded (a%20b is saved as \"a b\"), without the\n" +
	"query, of the URL given rather than where a redirect led; index.html when the path ends in /."

// getCommand is "eddy get": a parallel ranged HTTP downloader whose writes go through package aio.
var getCommand = command{
	name:    "get",
	summary: getSummary,
	usage:   getUsage,
	notes:   getNotes,
	args:    true,
	flags: func() (*flag.FlagSet, func(context.Context, io.Writer, io.Writer) error) {
		cfg := getConfig{chunk: 4 << 20}
		fs := flag.NewFlagSet("get", flag.ContinueOnError)
		fs.StringVar(&cfg.out, "out", "", "write to `file` (default: the last element of the URL's path, or index.html); not - (standard output)")
		fs.BoolVar(&cfg.force, "force", false, "overwrite the output file if it exists (never a directory, a device, a FIFO or a socket)")
		fs.IntVar(&cfg.conns, "conns", 4, fmt.Sprintf("number of connections fetching chunks at once, 1..%d", getMaxConns))
		fs.Var(&cfg.chunk, "chunk", "bytes per ranged request: a `size` in bytes, or with a unit: KiB, MiB, GiB (K, M, G too), KB, MB, GB")
		fs.StringVar(&cfg.backend, "backend", "auto", "aio `backend` the file is written on: auto, uring or pool")
		fs.StringVar(&cfg.client, "client", "auto", "HTTP `client`: eddy (http1.Transport, on an event loop; https through etls), net (net/http's Transport), or auto (eddy)")
		fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "give up on a request that receives nothing for this `duration`: no connection, no response headers, or a body that stalls (0: never)")
		fs.StringVar(&cfg.caCert, "cacert", "", "for https, trust the certificates in this PEM `file` as well as the system's")
		fs.BoolVar(&cfg.json, "json", false, "print the report as JSON on stdout instead of a line on stderr")
		return fs, func(ctx context.Context, stdout, stderr io.Writer) error {
			urls, help, err := getArgs(fs)
			if err != nil {
				return err
			}
			if help {
				printCommandUsage(stdout, command{usage: getUsage, summary: getSummary, notes: getNotes}, fs)
				return nil
			}
			if len(urls) == 0 {
				return usagef("get", "no URL given")
			}
			if len(urls) > 1 {
				return usagef("get", "unexpected argument %q", urls[1])
			}
			cfg.url = urls[0]
			return runGet(ctx, cfg, stdout, stderr)
		}
	},
}

// getArgs returns the arguments left after the flags, parsing the flags that follow an argument too
// ("eddy get URL --out f"): package flag stops at the first argument. After "--" everything is an
// argument. help reports a -h or --help among those later flags.
func getArgs(fs *flag.FlagSet) (args []string, help bool, err error) {
	rest := fs.Args()
	for len(rest) > 0 {
		args = append(args, rest[0])
		tail := rest[1:]
		if err := fs.Parse(tail); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, true, nil
			}
			return nil, false, usagef("get", "%v", err)
		}
		rest = fs.Args()
		if used := len(tail) - len(rest); used > 0 && tail[used-1] == "--" {
			return append(args, rest...), false, nil
		}
	}
	return args, false, nil
}

// getMaxConns bounds --conns.
const getMaxConns = 256

// getBufSize bounds each buffer a connection receives into and hands to an aio write; getWriteDepth
// is how many of them, and so how many writes, a connection keeps in flight at once.
const (
	getBufSize    = 256 << 10
	getWriteDepth = 4
)

// getConfig is the configuration of a download.
type getConfig struct {
	url     string
	out     string // "": from the URL
	force   bool
	conns   int
	chunk   byteSize
	backend string
	client  string        // auto, eddy or net
	timeout time.Duration // 0: none
	caCert  string        // PEM file of extra roots for https
	json    bool
}

// byteSize is a flag.Value for a count of bytes written as 4194304, 4MiB, 4M, 512KiB or 1GB.
type byteSize int64

// String returns the size in bytes.
func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

// Set parses s with parseByteSize.
func (b *byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

// byteUnits are the units parseByteSize knows, lower case: binary ones, with their one-letter forms,
// and decimal ones.
var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
}

// parseByteSize parses a positive count of bytes: digits, then optionally a unit of byteUnits (any
// case, a space before it allowed). It refuses 0, negative counts and counts of 1 TiB or more.
func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	unit, ok := byteUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	if i == 0 || !ok {
		return 0, fmt.Errorf("%q is not a size: want bytes, or a number with KiB, MiB, GiB, KB, MB or GB", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	const limit = 1 << 40
	if err != nil || n > limit/unit || n*unit >= limit {
		return 0, fmt.Errorf("size %q: want less than 1TiB", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("size %q: want at least 1 byte", s)
	}
	return n * unit, nil
}

// getReport is what "eddy get" reports about a download that succeeded.
type getReport struct {
	URL       string  `json:"url"`
	File      string  `json:"file"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	MBPerSec  float64 `json:"mb_per_sec"` // 10^6 bytes a second
	Conns     int     `json:"conns"`      // connections that fetched the body
	Chunks    int64   `json:"chunks"`     // ranged requests; 0 for a plain GET
	ChunkSize int64   `json:"chunk_size"`
	Ranges    bool    `json:"ranges"` // false: the server ignored ranges or did not tell the size
	Backend   string  `json:"backend"`
	Client    string  `json:"client"` // eddy or net: the transport of the first request's URL
}

// runGet checks cfg, downloads cfg.url to the output file and reports on stderr, or on stdout with
// --json.
func runGet(ctx context.Context, cfg getConfig, stdout, stderr io.Writer) error {
	u, err := url.Parse(cfg.url)
	switch {
	case err != nil && strings.Contains(cfg.url, "://"):
		return usagef("get", "bad URL %q: %v", redactURL(cfg.url), errors.Unwrap(err))
	case err != nil || u.Scheme != "http" && u.Scheme != "https":
		// Without a scheme, "127.0.0.1:8080/f" is an error of url.Parse's about colons in paths.
		return usagef("get", "bad URL %q: want an http:// or https:// URL", redactURL(cfg.url))
	case u.Host == "":
		return usagef("get", "bad URL %q: no host", redactURL(cfg.url))
	case u.Port() != "" && !portOK(u.Port()):
		return usagef("get", "bad URL %q: invalid port %s", redactURL(cfg.url), u.Port())
	case cfg.conns < 1 || cfg.conns > getMaxConns:
		return usagef("get", "--conns %d: want 1..%d", cfg.conns, getMaxConns)
	case cfg.chunk < 1:
		return usagef("get", "--chunk %d: want at least 1 byte", cfg.chunk)
	case cfg.timeout < 0:
		return usagef("get", "--timeout %v: want 0 or more", cfg.timeout)
	}
	backend := aio.Backend(cfg.backend)
	switch backend {
	case aio.Auto, aio.Uring, aio.Pool:
	default:
		return usagef("get", "--backend %q: want auto, uring or pool", cfg.backend)
	}
	switch cfg.client {
	case "auto", "eddy", "net":
	default:
		return usagef("get", "--client %q: want auto, eddy or net", cfg.client)
	}
	if cfg.out == "-" {
		// "-" is standard output to curl -o and wget -O; eddy get writes chunks at their offsets
		// and renames the file into place, which a pipe or a terminal cannot take. It wrote a file
		// called "-".
		return usagef("get", "--out -: eddy get writes a file, not standard output (--out ./- names a file called -)")
	}
	u.Fragment, u.RawFragment = "", ""
	out := cfg.out
	if out == "" {
		out = defaultGetName(u)
	}
	if err := checkOutput(out, cfg.force); err != nil {
		return err
	}

	rt, closeClient, err := getTransport(cfg)
	if err != nil {
		return err
	}
	defer closeClient()
	aios, err := aio.New(aio.WithBackend(backend))
	if err != nil {
		return err
	}
	defer aios.Close()
	g := &getter{
		client:  &http.Client{Transport: rt},
		url:     u.String(),
		shown:   u.Redacted(),
		timeout: cfg.timeout,
		chunk:   int64(cfg.chunk),
		aio:     aios,
	}
	start := time.Now()
	rep, err := g.download(ctx, out, cfg)
	if err != nil {
		if ctx.Err() != nil {
			// ctx ends on SIGINT, SIGTERM or SIGHUP (main) and nothing else: say so, rather than the "context
			// canceled" of whichever request or write the signal stopped. The temporary file is gone,
			// and out is as it was.
			return fmt.Errorf("interrupted: %s not downloaded, %s not written", g.shown, out)
		}
		return err
	}
	rep.Client = "eddy"
	if cfg.client == "net" {
		rep.Client = "net"
	}
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.MBPerSec = float64(rep.Bytes) / rep.Seconds / 1e6
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	how := fmt.Sprintf("%d chunks of %s", rep.Chunks, formatBytes(rep.ChunkSize))
	if rep.Chunks == 1 {
		how = "1 chunk"
	}
	if !rep.Ranges {
		how = "one plain GET (no ranges)"
	}
	conns := "connections"
	if rep.Conns == 1 {
		conns = "connection"
	}
	fmt.Fprintf(stderr, "eddy get: %s: %d bytes in %.3f s (%.1f MB/s), %d %s, %s, backend %s, client %s\n",
		out, rep.Bytes, rep.Seconds, rep.MBPerSec, rep.Conns, conns, how, rep.Backend, rep.Client)
	return nil
}

// getTransport returns the RoundTripper of cfg.client and what closes it: eddy's http1.Transport
// (for auto too), or net/http's.
func getTransport(cfg getConfig) (http.RoundTripper, func(), error) {
	var tlsCfg *tls.Config
	if cfg.caCert != "" {
		pem, err := os.ReadFile(cfg.caCert)
		if err != nil {
			return nil, nil, fmt.Errorf("--cacert: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("--cacert %s: no PEM certificate in it", cfg.caCert)
		}
		tlsCfg = &tls.Config{RootCAs: roots}
	}
	if cfg.client == "net" {
		nt := http.DefaultTransport.(*http.Transport).Clone()
		nt.DisableCompression = true // the bytes of the file, as the ranges count them
		nt.MaxIdleConnsPerHost = cfg.conns
		nt.TLSClientConfig = tlsCfg
		return nt, nt.CloseIdleConnections, nil
	}
	et := &http1.Transport{MaxIdleConnsPerHost: cfg.conns, TLSClientConfig: tlsCfg, EngineOptions: []eddy.Option{eddy.WithReadBufferSize(256 << 10)}}
	return et, func() { et.Close() }, nil
}

// formatBytes writes n with the largest binary unit that divides it.
func formatBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// defaultGetName returns the name a download of u is saved under: the last element of its path, or
// index.html when the path is empty or ends in a slash, or when that element names no file in the
// current directory. The path is decoded: on Windows an escaped backslash (%5C) separates elements
// too, and of "/..%5C..%5Cx" only "x" is kept; a drive ("/C:x") goes the same way, and a reserved
// name (NUL, CON) gives index.html (filepath.IsLocal).
func defaultGetName(u *url.URL) string {
	p := u.Path
	if p == "" || strings.HasSuffix(p, "/") {
		return "index.html"
	}
	name := filepath.Base(path.Base(p))
	// No system takes a NUL in a file name (http://h/%00 made the save fail with "invalid argument").
	if name == "." || name == ".." || !filepath.IsLocal(name) || filepath.Base(name) != name || strings.IndexByte(name, 0) >= 0 {
		return "index.html"
	}
	return name
}

// checkOutput fails when out exists and may not be replaced: without force, or at all when it is a
// directory or another file that is not a regular one (a device such as /dev/null, a FIFO, a socket),
// or a link to one; and when it does not exist and its directory does not either.
func checkOutput(out string, force bool) error {
	fi, err := os.Lstat(out) // a dangling symbolic link exists too: the rename would replace it
	if err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if st, err := os.Stat(out); err == nil && !st.Mode().IsRegular() {
			// A link to a directory or a device is refused as its target is: "--out /dev/stdout
			// --force" replaced the link /dev/stdout with a regular file.
			fi = st
		}
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		// The temporary file goes beside out: say here, naming out's directory, what would stop it.
		dir := filepath.Dir(out)
		if fi, err := os.Stat(dir); err != nil {
			return fmt.Errorf("cannot write %s: %w", out, err)
		} else if !fi.IsDir() {
			return fmt.Errorf("cannot write %s: %s is not a directory", out, dir)
		}
		return nil
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory", out)
	case fi.Mode()&os.ModeSymlink == 0 && !fi.Mode().IsRegular():
		// The rename would put a regular file in its place: "--out /dev/null --force", run as root,
		// replaced the system's /dev/null.
		return fmt.Errorf("%s is not a regular file (%s): eddy get replaces a file, it does not write into a device or a pipe", out, fileKind(fi.Mode()))
	case !force:
		return fmt.Errorf("%s exists (use --force to overwrite it)", out)
	}
	return nil
}

// fileKind names the type of a file that is neither regular nor a directory, for messages.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	}
	return "mode " + m.Type().String()
}

// getter runs one download.
type getter struct {
	client  *http.Client
	url     string // the URL asked for, then where the first response came from (after redirects)
	shown   string // url with any password replaced by "xxxxx", for messages and the report, as net/http's errors
	timeout time.Duration
	chunk   int64
	aio     *aio.IO

	// for the ranged requests, once the first response told the size
	size    int64
	ifRange string  // the validator of the version being fetched (If-Range), or ""
	version version // what the first response said of the version: each chunk's answer must agree
	next    atomic.Int64
	file    *aio.File
	written atomic.Int64

	mu  sync.Mutex
	err error // the first error, which stops the others
}

// download learns the size and range support, fetches the URL into a temporary file beside out, syncs
// it and renames it to out; it removes the temporary file on failure.
func (g *getter) download(ctx context.Context, out string, cfg getConfig) (rep getReport, err error) {
	rep = getReport{URL: g.shown, File: out, ChunkSize: g.chunk, Backend: string(g.aio.Backend())}
	probe, err := g.get(ctx, "bytes=0-0")
	if err != nil {
		return rep, err
	}
	defer func() { probe.close() }() // the last response probe holds
	resp := probe.resp
	g.url, g.shown = resp.Request.URL.String(), resp.Request.URL.Redacted()
	size, ranged := int64(-1), false
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if first, last, total, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && first == 0 && last == 0 && total > 0 {
			size, ranged = total, true
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// What a server that honours ranges answers for an empty file: "bytes */0".
		if first, _, total, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && first < 0 && total == 0 {
			size, ranged = 0, true
		}
	case http.StatusOK:
		// The server ignores ranges: this response is the whole file.
	default:
		return rep, probe.fail("%s", resp.Status)
	}
	if resp.StatusCode != http.StatusOK && !ranged {
		// A range answer that does not tell the size: fetch the whole file in one plain GET.
		probe.close()
		whole, err := g.get(ctx, "")
		if err != nil {
			return rep, err
		}
		probe, resp = whole, whole.resp
		if resp.StatusCode != http.StatusOK {
			return rep, probe.fail("%s", resp.Status)
		}
	}
	if ranged {
		// Read the byte asked for, so that the connection may serve a chunk next.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64))
		probe.close()
		g.version = versionOf(resp.Header)
		if etag := resp.Header.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
			g.ifRange = etag
		} else if lm := resp.Header.Get("Last-Modified"); lm != "" {
			g.ifRange = lm
		}
	}

	tmp, err := g.createTemp(out)
	if err != nil {
		return rep, err
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(name)
		}
	}()
	g.file = tmp
	if fi, err := os.Lstat(out); err == nil && fi.Mode().IsRegular() {
		// --force replaces a file: the new one keeps its permissions, as curl -o and wget -O, which
		// write into it, keep them. It got the default mode instead, and a private file (0600) that
		// was downloaded again became readable by all (0644 under the usual umask).
		if err = os.Chmod(name, fi.Mode().Perm()); err != nil {
			return rep, err
		}
	}
	if ranged {
		rep.Ranges, rep.Chunks = true, chunkCount(size, g.chunk)
		rep.Conns = int(min(int64(cfg.conns), max(rep.Chunks, 1)))
		rep.Bytes, err = g.fetchChunks(ctx, size, rep.Conns)
	} else {
		rep.Conns, rep.ChunkSize = 1, 0
		rep.Bytes, err = g.fetchWhole(ctx, probe)
	}
	if err != nil {
		return rep, err
	}
	if _, err = tmp.Sync(ctx).Await(context.Background()); err != nil {
		return rep, err
	}
	if err = tmp.Close(); err != nil {
		return rep, err
	}
	// Checked again: the file may have appeared during the download.
	if err = checkOutput(out, cfg.force); err != nil {
		return rep, err
	}
	if err = os.Rename(name, out); err != nil {
		return rep, err
	}
	return rep, nil
}

// createTemp creates an empty file to download into, beside out and named after it: out's name cut
// short where the suffix would take the whole past NAME_MAX (255 bytes), which out's own name may
// reach.
func (g *getter) createTemp(out string) (*aio.File, error) {
	dir, base := filepath.Split(out)
	const suffixMax = len(".zzzzzz.part")
	for len(base) > 255-suffixMax {
		_, n := utf8.DecodeLastRuneInString(base)
		base = base[:len(base)-n]
	}
	for range 100 {
		name := fmt.Sprintf("%s%s.%s.part", dir, base, strconv.FormatUint(rand.Uint64()%(36*36*36*36*36*36), 36))
		f, err := g.aio.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			// Name the file asked for, not the temporary one: "cannot write /ro/f: permission denied".
			return nil, fmt.Errorf("cannot write %s: %w", out, pe.Err)
		}
		return f, err
	}
	return nil, fmt.Errorf("could not create a temporary file beside %s", filepath.Clean(out))
}

// chunkCount returns how many chunks of chunk bytes size takes, the last one shorter. Not
// (size+chunk-1)/chunk: a server's size near 1<<63 made that negative, no chunk was asked for, and get
// failed with "wrote 0 bytes of 9223372036854775807" instead of the server's answer to the first.
func chunkCount(size, chunk int64) int64 {
	n := size / chunk
	if size%chunk != 0 {
		n++
	}
	return n
}

// fetchChunks fetches the size bytes in chunks of g.chunk over conns connections, each taking the next
// chunk not taken yet, and returns the count of bytes written.
func (g *getter) fetchChunks(ctx context.Context, size int64, conns int) (int64, error) {
	g.size = size
	nchunks := chunkCount(size, g.chunk)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			w := newAsyncWriter(ctx, g.file, int(min(getBufSize, g.chunk)))
			var err error
			for err == nil {
				i := g.next.Add(1) - 1
				if i >= nchunks {
					break
				}
				first := i * g.chunk
				err = g.fetchRange(ctx, w, first, min(first+g.chunk, size)-1)
			}
			if werr := w.wait(); err == nil && werr != nil {
				err = fmt.Errorf("GET %s: %w", g.shown, werr)
			}
			g.written.Add(w.written)
			if err != nil {
				g.mu.Lock()
				if g.err == nil {
					g.err = err
				}
				g.mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	if g.err != nil {
		return g.written.Load(), g.err
	}
	if n := g.written.Load(); n != size {
		return n, fmt.Errorf("GET %s: wrote %d bytes of %d", g.shown, n, size)
	}
	return size, nil
}

// fetchRange fetches the bytes first..last (inclusive) and writes them at their offset through w.
func (g *getter) fetchRange(ctx context.Context, w *asyncWriter, first, last int64) error {
	r, err := g.get(ctx, fmt.Sprintf("bytes=%d-%d", first, last))
	if err != nil {
		return err
	}
	defer r.close()
	resp := r.resp
	if resp.StatusCode != http.StatusPartialContent {
		if resp.StatusCode == http.StatusOK {
			return r.fail("%s to a range request, want 206 Partial Content (the server stopped honouring ranges, or the file changed)", resp.Status)
		}
		return r.fail("%s, want 206 Partial Content", resp.Status)
	}
	cr := resp.Header.Get("Content-Range")
	if f, l, total, ok := parseContentRange(cr); !ok || f != first || l != last || total != g.size {
		return r.fail("Content-Range %q, want \"bytes %d-%d/%d\"", cr, first, last, g.size)
	}
	// A server that ignores If-Range answers a file changed since the first response with a 206 too:
	// its validators tell, as its Content-Encoding tells bytes of another coding (the same length, for
	// all Content-Range and Content-Length say). Without this check such a chunk went into the file,
	// which then mixed two versions, or held the bytes of a gzip body among the file's, and get said it
	// had succeeded.
	if err := g.version.check(versionOf(resp.Header)); err != nil {
		return r.fail("%v", err)
	}
	want := last - first + 1
	if resp.ContentLength >= 0 && resp.ContentLength != want {
		return r.fail("Content-Length %d, want %d", resp.ContentLength, want)
	}
	_, err = r.copyTo(w, first, want)
	return err
}

// version is what a response says of the version of the file it carries: its validators (RFC 9110
// §8.8) and its content coding, "" where it says nothing.
type version struct {
	etag, lastModified, coding string
}

// versionOf returns the version h describes. Content-Encoding is its codings, lower case, identity
// left out.
func versionOf(h http.Header) version {
	var codings []string
	for _, v := range h.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(textproto.TrimString(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	return version{
		etag:         textproto.TrimString(h.Get("ETag")),
		lastModified: textproto.TrimString(h.Get("Last-Modified")),
		coding:       strings.Join(codings, ", "),
	}
}

// check returns an error when v, the version of a chunk's response, is not want, the first
// response's: an ETag that does not match it (weakly: W/ aside, as the same file may be tagged
// W/ by one server and not another), or, when the two do not both have one, a Last-Modified of
// another time; or another Content-Encoding. A validator that either response leaves out is not
// compared, and matching ETags are enough (servers behind one name may date the same file apart).
func (want version) check(v version) error {
	bothTagged := want.etag != "" && v.etag != ""
	if bothTagged && strings.TrimPrefix(v.etag, "W/") != strings.TrimPrefix(want.etag, "W/") {
		return fmt.Errorf("ETag %q, want %q (the file changed on the server)", v.etag, want.etag)
	}
	if !bothTagged && want.lastModified != "" && v.lastModified != "" && v.lastModified != want.lastModified {
		t1, err1 := http.ParseTime(want.lastModified)
		t2, err2 := http.ParseTime(v.lastModified)
		if err1 != nil || err2 != nil || !t1.Equal(t2) {
			return fmt.Errorf("Last-Modified %q, want %q (the file changed on the server)", v.lastModified, want.lastModified)
		}
	}
	if v.coding != want.coding {
		return fmt.Errorf("Content-Encoding %q, want %q", v.coding, want.coding)
	}
	return nil
}

// fetchWhole writes the body of the plain GET r from offset 0 on, and returns its length.
func (g *getter) fetchWhole(ctx context.Context, r *getResponse) (int64, error) {
	r.rng = "" // the server answered with the whole file, whatever was asked
	w := newAsyncWriter(ctx, g.file, getBufSize)
	_, err := r.copyTo(w, 0, r.resp.ContentLength)
	r.close()
	if werr := w.wait(); err == nil && werr != nil {
		err = fmt.Errorf("GET %s: %w", g.shown, werr)
	}
	return w.written, err
}

// errStalled is why a request that received nothing for --timeout is stopped.
var errStalled = errors.New("stalled")

// getResponse is a response in progress: its body keeps the --timeout watchdog alive while it reads.
type getResponse struct {
	g      *getter
	rng    string // the Range asked for, or ""
	resp   *http.Response
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer // nil without --timeout
	closed bool
}

// get sends a GET for g.url, with the Range rng unless it is "", and returns the response; its error
// names the URL and the range.
func (g *getter) get(ctx context.Context, rng string) (*getResponse, error) {
	r := &getResponse{g: g, rng: rng}
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	if g.timeout > 0 {
		r.timer = time.AfterFunc(g.timeout, func() { r.cancel(errStalled) })
	}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, g.url, nil)
	if err != nil {
		r.close()
		return nil, r.fail("%v", err)
	}
	req.Header.Set("User-Agent", "eddy-get")
	if rng != "" {
		req.Header.Set("Range", rng)
		if g.ifRange != "" {
			req.Header.Set("If-Range", g.ifRange)
		}
	}
	resp, err := g.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		err = r.cause(err)
		r.close()
		return nil, r.fail("%v", err)
	}
	r.resp = resp
	r.touch()
	return r, nil
}

// touch restarts the --timeout watchdog.
func (r *getResponse) touch() {
	if r.timer != nil {
		r.timer.Reset(r.g.timeout)
	}
}

// cause replaces the error of a request that the watchdog stopped by one that says so.
func (r *getResponse) cause(err error) error {
	if errors.Is(context.Cause(r.ctx), errStalled) {
		return fmt.Errorf("nothing received for %v (--timeout)", r.g.timeout)
	}
	return err
}

// close releases the response and its watchdog; it may be called more than once.
func (r *getResponse) close() {
	if r.closed {
		return
	}
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.resp != nil {
		r.resp.Body.Close()
	}
	r.cancel(nil)
}

// fail returns an error that names the URL and the range asked for.
func (r *getResponse) fail(format string, args ...any) error {
	where := "GET " + r.g.shown
	if r.rng != "" {
		where += " (" + r.rng + ")"
	}
	return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
}

// copyTo writes the body through w at offset off on, and returns the count of bytes read. With want
// 0 or more the body must be exactly want bytes long; with want -1 it runs to its end.
func (r *getResponse) copyTo(w *asyncWriter, off, want int64) (int64, error) {
	body := r.resp.Body
	var n int64
	for want < 0 || n < want {
		buf, err := w.buffer()
		if err != nil {
			return n, r.fail("after %d bytes: %v", n, err)
		}
		if want >= 0 {
			buf = buf[:min(int64(len(buf)), want-n)]
		}
		k, rerr := r.fill(body, buf)
		if k > 0 {
			w.write(buf[:k], off+n)
			n += int64(k)
		}
		switch {
		case rerr == io.EOF && want >= 0 && n < want:
			return n, r.fail("body ended after %d of %d bytes", n, want)
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, r.fail("after %d bytes: %v", n, r.cause(rerr))
		}
	}
	// Every byte asked for has come: the body must end there.
	var one [1]byte
	switch k, err := r.fill(body, one[:]); {
	case k > 0:
		return n, r.fail("body longer than %d bytes", want)
	case err != io.EOF:
		return n, r.fail("after %d bytes: %v", n, r.cause(err))
	}
	return n, nil
}

// fill reads from body until p is full or the read fails, keeping the watchdog alive while bytes come.
func (r *getResponse) fill(body io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := body.Read(p[n:])
		if k > 0 {
			n += k
			r.touch()
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// parseContentRange parses a Content-Range header: "bytes first-last/total", with total -1 for "*",
// or "bytes */total", with first and last -1.
func parseContentRange(s string) (first, last, total int64, ok bool) {
	// Optional white space (RFC 9110 §5.6.3) around the value and after the unit is taken; no other
	// (strings.TrimSpace took Unicode spaces as well).
	spec, found := strings.CutPrefix(textproto.TrimString(s), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(textproto.TrimString(spec), "/")
	if !found {
		return 0, 0, 0, false
	}
	num := func(s string) (int64, bool) {
		if s == "" || s[0] == '+' || s[0] == '-' {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	total = -1
	if tot != "*" {
		if total, ok = num(tot); !ok {
			return 0, 0, 0, false
		}
	}
	if rng == "*" {
		return -1, -1, total, total >= 0
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var okA, okB bool
	first, okA = num(a)
	last, okB = num(b)
	if !okA || !okB || last < first || (total >= 0 && last >= total) {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// asyncWriter writes what one connection receives through aio: a ring of getWriteDepth buffers, each
// handed to a WriteAt and not filled again before that write has completed.
type asyncWriter struct {
	ctx     context.Context
	f       *aio.File
	bufs    [][]byte
	pending []future.Future[int] // the write of each buffer in flight
	busy    []bool               // whether pending holds a write not awaited yet
	lens    []int
	offs    []int64
	next    int   // the buffer filled next
	written int64 // bytes that writes completed
}

// newAsyncWriter returns a writer to f whose buffers are of size bytes.
func newAsyncWriter(ctx context.Context, f *aio.File, size int) *asyncWriter {
	w := &asyncWriter{
		ctx:     ctx,
		f:       f,
		bufs:    make([][]byte, getWriteDepth),
		pending: make([]future.Future[int], getWriteDepth),
		busy:    make([]bool, getWriteDepth),
		lens:    make([]int, getWriteDepth),
		offs:    make([]int64, getWriteDepth),
	}
	for i := range w.bufs {
		w.bufs[i] = make([]byte, size)
	}
	return w
}

// buffer returns the buffer to fill next, once the write it was last given to has completed.
func (w *asyncWriter) buffer() ([]byte, error) {
	if err := w.await(w.next); err != nil {
		return nil, err
	}
	return w.bufs[w.next], nil
}

// write starts writing p, the start of the buffer that buffer returned, at off.
func (w *asyncWriter) write(p []byte, off int64) {
	i := w.next
	w.pending[i] = w.f.WriteAt(w.ctx, p, off)
	w.busy[i], w.lens[i], w.offs[i] = true, len(p), off
	w.next = (i + 1) % len(w.bufs)
}

// await waits for the write of buffer i, if one is in flight, and returns its error.
func (w *asyncWriter) await(i int) error {
	if !w.busy[i] {
		return nil
	}
	w.busy[i] = false
	// Not w.ctx: the buffer is the write's until its future completes, which a cancelled write does
	// promptly.
	n, err := w.pending[i].Await(context.Background())
	w.pending[i] = future.Future[int]{}
	w.written += int64(n)
	if err == nil && n != w.lens[i] {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("writing %d bytes at offset %d: %w", w.lens[i], w.offs[i], err)
	}
	return nil
}

// wait waits for every write in flight and returns the first error.
func (w *asyncWriter) wait() error {
	var first error
	for k := range w.bufs {
		if err := w.await((w.next + k) % len(w.bufs)); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// portOK reports whether a URL's port (digits, as url.Parse takes them) is one a connection can use,
// as load's parseURL checks it: url.Parse takes any number.
func portOK(p string) bool {
	_, err := net.LookupPort("tcp", p)
	return err == nil
}

// redactURL returns s with the password of its userinfo replaced by "xxxxx" (url.URL.Redacted), or,
// when s does not parse, with everything between the scheme and an '@' replaced: a usage error must
// not print it either.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.LastIndexByte(s[i+3:], '@'); j >= 0 {
			return s[:i+3] + "xxxxx" + s[i+3+j:]
		}
	}
	return s
}

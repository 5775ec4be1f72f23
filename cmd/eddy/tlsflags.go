package main

import (
	"flag"

	"github.com/eddyio/eddy/http1"
)

// tlsFiles are the --tls-cert and --tls-key flags of the commands that serve HTTP: both or neither.
type tlsFiles struct {
	cert, key string
}

// addFlags defines the two flags on fs.
func (t *tlsFiles) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&t.cert, "tls-cert", "", "serve HTTPS with the certificate (and its chain) in this PEM `file`; needs --tls-key")
	fs.StringVar(&t.key, "tls-key", "", "the private key of --tls-cert, a PEM `file`")
}

// on reports whether HTTPS was asked for.
func (t tlsFiles) on() bool { return t.cert != "" }

// check refuses one flag without the other.
func (t tlsFiles) check(cmd string) error {
	if (t.cert == "") != (t.key == "") {
		return usagef(cmd, "--tls-cert and --tls-key go together")
	}
	return nil
}

// start starts srv, with TLS when asked for.
func (t tlsFiles) start(srv *http1.Server) error {
	if t.on() {
		return srv.StartTLS(t.cert, t.key)
	}
	return srv.Start()
}

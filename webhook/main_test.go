package webhook

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
)

// TestMain sends controller-runtime's and the handler's logs to stderr with -v, else nowhere.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Verbose() {
		crlog.SetLogger(funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{Verbosity: 1}))
	} else {
		crlog.SetLogger(logr.Discard())
	}
	os.Exit(m.Run())
}

package main

import (
	"bytes"
	"strings"
	"testing"
)

// run executes the root command with args and returns stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestVersion(t *testing.T) {
	version, commit = "v1.2.3", "abc1234"
	t.Cleanup(func() { version, commit = "dev", "unknown" })
	out, err := run(t, "version")
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	if !strings.HasPrefix(out, "headroom v1.2.3 (commit abc1234, go") {
		t.Errorf("version printed %q", out)
	}
}

func TestUnknownSubcommandFails(t *testing.T) {
	if _, err := run(t, "no-such-command"); err == nil {
		t.Fatal("an unknown subcommand must fail")
	}
}

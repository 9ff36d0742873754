package browser

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/headroom-dev/headroom/internal/testenv"
)

// Width and Height are the default window size: the 1280px desktop width the HTML pages are
// designed for.
const (
	Width  = 1280
	Height = 900
)

// Option changes how Start launches the browser.
type Option func(*config)

type config struct {
	width, height int
	timeout       time.Duration
}

// WindowSize sets the window (viewport) size in CSS pixels.
func WindowSize(width, height int) Option {
	return func(c *config) { c.width, c.height = width, height }
}

// Timeout bounds everything done with the returned context (default two minutes), so a hung
// page fails the test instead of hanging it.
func Timeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// Start launches headless Chromium with a fresh profile in a temporary directory and returns a
// chromedp context bound to one tab. The browser is stopped, and the test waits for it to exit,
// in t.Cleanup. A missing chromium binary fails the test (see testenv.Require).
func Start(t testing.TB, opts ...Option) context.Context {
	t.Helper()
	cfg := config{width: Width, height: Height, timeout: 2 * time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	bin := testenv.Require(t, "chromium")

	// The flags the project's setup documents for Debian's chromium in a container without
	// network: no sandbox (we run as root), no GPU, nothing that phones home at start.
	alloc := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(cfg.width, cfg.height),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), alloc...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, cfg.timeout)
	t.Cleanup(func() {
		cancelTimeout()
		// Cancel closes the browser gracefully and waits for the process to exit; cancelling
		// the allocator then waits for its children and removes nothing we did not create.
		if err := chromedp.Cancel(ctx); err != nil && ctx.Err() == nil {
			t.Logf("close chromium: %v", err)
		}
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now, so a broken binary fails here with its own message.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", bin, err)
	}
	return ctx
}

// Open navigates the tab to a local file (an absolute or relative path) or to a URL and waits
// until the page has loaded.
func Open(ctx context.Context, t testing.TB, pathOrURL string) {
	t.Helper()
	target := pathOrURL
	if u, err := url.Parse(pathOrURL); err != nil || u.Scheme == "" {
		abs, err := filepath.Abs(pathOrURL)
		if err != nil {
			t.Fatalf("open %s: %v", pathOrURL, err)
		}
		target = (&url.URL{Scheme: "file", Path: abs}).String()
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(target)); err != nil {
		t.Fatalf("navigate to %s: %v", target, err)
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its JSON value into a T.
func Eval[T any](ctx context.Context, t testing.TB, expression string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	if err != nil {
		t.Fatalf("evaluate %q: %v", expression, err)
	}
	return v
}

// Screenshot saves a PNG of the whole page as name.png in the test's artifact directory and
// returns its path. The directory outlives the test when `go test -artifacts` is given
// (under -outputdir, default the package directory's _artifacts), otherwise it is a temporary one.
func Screenshot(ctx context.Context, t testing.TB, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// Errorf is a convenience for checks: it reports a failure with the page's URL for context.
func Errorf(ctx context.Context, t testing.TB, format string, args ...any) {
	t.Helper()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	t.Errorf("%s: %s", loc, fmt.Sprintf(format, args...))
}

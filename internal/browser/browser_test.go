package browser_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/headroom-dev/headroom/internal/browser"
)

func TestStartOpenEvalScreenshot(t *testing.T) {
	page := filepath.Join(t.TempDir(), "page.html")
	html := `<!doctype html><title>t</title><table id="x"><tr><td>a</td></tr><tr><td>b</td></tr></table>` +
		`<svg width="100" height="50"><line class="limit" x1="0" y1="10" x2="100" y2="10" stroke="red"/></svg>`
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := browser.Start(t)
	browser.Open(ctx, t, page)
	if got := browser.Eval[int](ctx, t, `document.querySelectorAll("#x tr").length`); got != 2 {
		t.Errorf("rows = %d, want 2", got)
	}
	if got := browser.Eval[string](ctx, t, `document.title`); got != "t" {
		t.Errorf("title = %q, want %q", got, "t")
	}
	path := browser.Screenshot(ctx, t, "page")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Errorf("screenshot is not a PNG (%d bytes)", len(b))
	}
}

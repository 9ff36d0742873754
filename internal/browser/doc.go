// Package browser starts a real headless Chromium for tests that check HTML the product writes
// (the report, the backtest report): it launches Debian's chromium through chromedp with a fresh
// profile, hands back a chromedp context for one tab, and stops the browser when the test ends.
// Test support only: the product must not import it.
package browser

package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// artifactsDir is where tests leave what a person looks at afterwards (the
// dashboard's screenshot); git ignores it.
const artifactsDir = "testdata/artifacts"

// chromium returns the path of Debian's chromium, which scripts/test-deps.sh
// installs. Without it the test fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("chromium is not installed: run scripts/test-deps.sh (make test-deps), which make test runs")
	return ""
}

// browser starts a headless Chromium for the test, with a fresh profile,
// and returns a context to drive it; the browser stops when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1200),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser, with no deadline of its own
	// (that would bound the browser's life); a failure to start fails the
	// test, never skips it, once chromium is installed.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// act runs browser actions with a deadline, failing the test with what.
func act(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs a browser action that returns a value, failing the test with what.
func get[T any](t *testing.T, ctx context.Context, what string, action chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// TestDashboardInBrowser opens the dashboard in a real browser, with
// management credentials configured (the browser signs in with Basic):
// with three clients connected and subscribed, the page lists them; a
// publish from the page reaches them; a frame sent from the page reaches
// one; a close from the page closes it. Values chosen by clients (a user
// agent, a channel name) that look like HTML are shown as text and never
// run. It saves a screenshot in testdata/artifacts.
func TestDashboardInBrowser(t *testing.T) {
	ctx := browser(t)
	s := start(t, signedOptions)

	const hostile = `<img src=x onerror="window.__xss=1">`
	var clients []*client
	var clientIDs []string
	for i := range 3 {
		agent := fmt.Sprintf("worker-%d", i)
		if i == 2 {
			agent = hostile
		}
		c := s.dialURL(t, s.url, http.Header{"X-Api-Key": {testKey}, "User-Agent": {agent}})
		clients = append(clients, c)
		clientIDs = append(clientIDs, c.whoami())
		c.send(`{"action":"subscribe","channel":"news"}`)
		c.read()
	}
	clients[1].send(`{"action":"subscribe","channel":"<script>window.__xss=2</script>"}`)
	clients[1].read()

	// Traffic for the chart while the page is open.
	var traffic sync.WaitGroup
	stop := make(chan struct{})
	talker := s.dial(t)
	talker.whoami()
	traffic.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_ = talker.ws.WriteMessage(websocket.TextMessage, []byte(`{"action":"loopback","payload":1}`))
			_ = talker.ws.WriteMessage(websocket.TextMessage, []byte(`{"to":"nobody","payload":1}`))
			_ = talker.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, _ = talker.ws.ReadMessage()
			_, _, _ = talker.ws.ReadMessage()
		}
	})
	defer func() {
		close(stop)
		traffic.Wait()
	}()

	// A dialog would mean that client data ran as script.
	var dialogs []string
	var dialogsMu sync.Mutex
	var dialogsDone sync.WaitGroup
	dialogCtx, stopDialogs := context.WithCancel(ctx)
	events := chromedp.Events(dialogCtx, page.JavascriptDialogOpening)
	dialogsDone.Go(func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			dialogsMu.Lock()
			dialogs = append(dialogs, ev.Message)
			dialogsMu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	})
	defer func() {
		stopDialogs()
		dialogsDone.Wait()
	}()

	// Sign in as a person does, with the pair in the address: the browser
	// then sends it with HTTP Basic on every request of the page, its
	// fetches and its event stream.
	page := strings.Replace(s.admin, "http://", "http://"+url.UserPassword(adminKeyID, adminSecret).String()+"@", 1) + "/"
	act(t, ctx, "open the dashboard", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("connections")))

	// The page lists the three clients (and the talker), live.
	rowIDs := func() []string {
		return get(t, ctx, "read the rows", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#connections tbody tr')].map(r => r.dataset.id)`))
	}
	eventually(t, 10*time.Second, "the page to list the clients", func() bool { return len(rowIDs()) == 4 })
	for _, id := range clientIDs {
		if !slices.Contains(rowIDs(), id) {
			t.Fatalf("the page does not list %s: %v", id, rowIDs())
		}
	}
	if status := get(t, ctx, "read the status", chromedp.Text(chromedp.ID("status"))); status != "live" {
		t.Errorf("status %q, want live", status)
	}

	// What a client chose is shown as text and runs nothing.
	agents := get(t, ctx, "read the cells", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#connections tbody td')].map(td => td.textContent)`))
	xss := get(t, ctx, "look for injected script", chromedp.Evaluate[any](`window.__xss === undefined ? null : window.__xss`))
	images := get(t, ctx, "look for injected markup", chromedp.Evaluate[int](`document.querySelectorAll('main img, main script').length`))
	if !slices.Contains(agents, hostile) || xss != nil || images != 0 {
		t.Errorf("hostile user agent: shown as text %v, window.__xss %v, injected elements %d", slices.Contains(agents, hostile), xss, images)
	}
	eventually(t, 10*time.Second, "the channels table", func() bool {
		names := get(t, ctx, "read the channels", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#channels tbody tr')].map(r => r.dataset.channel)`))
		return slices.Contains(names, "news") && slices.Contains(names, "<script>window.__xss=2</script>")
	})

	// Publish from the page: every subscriber receives it.
	act(t, ctx, "publish",
		chromedp.SetValue(chromedp.ID("publish-tenant"), "default"),
		chromedp.SetValue(chromedp.ID("publish-channel"), "news"),
		chromedp.SetValue(chromedp.ID("publish-payload"), `{"from":"the page"}`),
		chromedp.Click(chromedp.ID("publish-button")),
	)
	for i, c := range clients {
		if got := c.read(); got != `{"channel":"news","payload":{"from":"the page"}}` {
			t.Fatalf("client %d received %q", i, got)
		}
	}

	// Send a frame to client 0 from its details, then close it.
	// The rows are drawn anew with each update, so the click goes to the
	// row there is when it happens.
	selector, _ := json.Marshal(fmt.Sprintf(`#connections tbody tr[data-id=%q]`, clientIDs[0]))
	if !get(t, ctx, "open client 0", chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const row = document.querySelector(%s); if (row) row.click(); return !!row })()`, selector))) {
		t.Fatal("no row for client 0")
	}
	act(t, ctx, "see client 0", chromedp.WaitVisible(chromedp.ID("detail")))
	eventually(t, 10*time.Second, "the details of client 0", func() bool {
		fields := get(t, ctx, "read the details", chromedp.Text(chromedp.ID("detail-fields")))
		return strings.Contains(fields, "worker-0") && strings.Contains(fields, "news")
	})
	act(t, ctx, "send a frame",
		chromedp.SetValue(chromedp.ID("send-body"), "hello from the page"),
		chromedp.Click(chromedp.ID("send-button")),
	)
	if got := clients[0].read(); got != "hello from the page" {
		t.Fatalf("client 0 received %q", got)
	}
	act(t, ctx, "close client 0", chromedp.Click(chromedp.ID("close-button")), chromedp.Click(chromedp.ID("close-button")))
	if code := clients[0].closeStatus(10 * time.Second); code != websocket.CloseNormalClosure {
		t.Fatalf("client 0 closed with %d, want 1000", code)
	}
	eventually(t, 10*time.Second, "the page to drop the closed client", func() bool {
		return len(rowIDs()) == 3 && !slices.Contains(rowIDs(), clientIDs[0])
	})

	// The chart shows the traffic by route, and the errors by code.
	eventually(t, 10*time.Second, "the charts' legends", func() bool {
		routes := get(t, ctx, "read the legend", chromedp.Text(chromedp.ID("routes-legend")))
		errs := get(t, ctx, "read the legend", chromedp.Text(chromedp.ID("errors-legend")))
		return strings.Contains(routes, "loopback") && strings.Contains(errs, "gone")
	})
	time.Sleep(2 * time.Second) // a few more points on the chart

	shot := get(t, ctx, "take a screenshot", chromedp.FullScreenshot(100))
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path, _ := filepath.Abs(filepath.Join(artifactsDir, "dashboard.png"))
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	dialogsMu.Lock()
	defer dialogsMu.Unlock()
	if len(dialogs) > 0 {
		t.Errorf("the page opened dialogs: %q", dialogs)
	}
}

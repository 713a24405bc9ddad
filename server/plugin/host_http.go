package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// DefaultHTTPTimeout bounds one http_get, redirects and body included,
// when [Config.HTTPTimeout] is zero.
const DefaultHTTPTimeout = 5 * time.Second

// maxHTTPBody bounds an http_get response body. The bound is lowered to a
// quarter of the plugin memory cap when that is smaller, so the guest can
// hold the body and a copy of it.
const maxHTTPBody = 8 << 20

// maxHTTPRedirects bounds the redirects one http_get follows.
const maxHTTPRedirects = 5

// httpGetter is the http_get host function: a client of its own that
// ignores the node's proxy environment, checks every redirect against the
// calling loader's http_allow, and bounds each call's time and body. It is
// safe for concurrent use.
type httpGetter struct {
	client  *http.Client
	timeout time.Duration
	maxBody int64
}

func newHTTPGetter(cfg Config) *httpGetter {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // HTTP_PROXY and friends are the node's, not the plugin's
	tr.IdleConnTimeout = 30 * time.Second
	g := &httpGetter{
		client:  &http.Client{Transport: tr, CheckRedirect: checkRedirect},
		timeout: cfg.HTTPTimeout,
		maxBody: min(maxHTTPBody, int64(cfg.MemoryLimitMiB)<<20/4),
	}
	if g.timeout <= 0 {
		g.timeout = DefaultHTTPTimeout
	}
	if g.maxBody <= 0 {
		g.maxBody = maxHTTPBody
	}
	return g
}

// checkRedirect refuses a redirect the calling loader's http_allow does not
// cover, and more than maxHTTPRedirects of them.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxHTTPRedirects {
		return fmt.Errorf("stopped after %d redirects", maxHTTPRedirects)
	}
	if err := checkAllowed(req.URL.String(), stateOf(req.Context()).httpAllow); err != nil {
		return fmt.Errorf("redirect to %s refused: %w", req.URL.Redacted(), err)
	}
	return nil
}

func (g *httpGetter) hostHTTPGet(ctx context.Context, m api.Module, up, un uint32) int32 {
	s := stateOf(ctx)
	raw := string(read(m, up, un))
	status, body, err := g.get(ctx, raw, s.httpAllow)
	if err != nil {
		return s.setPending(nil, fmt.Errorf("http_get %s: %w", redacted(raw), err))
	}
	s.pending = body
	return int32(status)
}

// get fetches raw if allow covers it and returns the status and body.
func (g *httpGetter) get(ctx context.Context, raw string, allow []string) (int, []byte, error) {
	if err := checkAllowed(raw, allow); err != nil {
		return 0, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, raw, nil)
	if err != nil {
		return 0, nil, err
	}
	res, err := g.client.Do(req)
	if err != nil {
		return 0, nil, g.explain(ctx, err)
	}
	defer res.Body.Close()
	if res.ContentLength > g.maxBody {
		return 0, nil, g.tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, g.maxBody+1))
	if err != nil {
		return 0, nil, g.explain(ctx, fmt.Errorf("reading the body: %w", err))
	}
	if int64(len(body)) > g.maxBody {
		return 0, nil, g.tooLarge()
	}
	return res.StatusCode, body, nil
}

func (g *httpGetter) tooLarge() error {
	return fmt.Errorf("response body is over the %d-byte cap", g.maxBody)
}

// explain drops the *url.Error wrapper, whose message repeats the URL, and
// names the http_get timeout when it is what expired.
func (g *httpGetter) explain(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("no complete response within %v (the http_get timeout)", g.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

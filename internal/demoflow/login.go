package demoflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/login"
	"github.com/gwcurl/gwcurl/internal/redact"
)

const (
	mailboxPath = "/_mock/mailbox" // the mock gateway's mailbox, which Login reads
	maxBody     = 1 << 20          // the most read of a page or a mailbox answer
)

// Login completes the profile's browser login against the mock gateway
// at baseURL with no browser, for `gwcurl demo`: it runs the real [login.Login]
// (loopback listener, state, PKCE, token verification and storage) and
// plays the person's part over HTTP. For cognito the Browser opens the
// login page, fills in the demo user (demo@example.com / demo-password) and
// submits the form, whose redirect reaches the listener; for magic-link it
// reads the new message for the address from /_mock/mailbox and opens its
// link. o.Browser, o.NoBrowser, o.Stdin and o.Interactive are ignored.
func Login(ctx context.Context, o login.Options, baseURL string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	o.NoBrowser, o.Interactive, o.Stdin = false, false, nil
	fail := func(err error) { cancel(fmt.Errorf("demo browser: %w", err)) }
	switch o.Auth.Kind {
	case "cognito":
		o.Browser = FormBrowser(ctx, client, demo.UserEmail, demo.UserPassword, fail)
	case "magic-link":
		email := o.Email
		if email == "" {
			email = o.Auth.Email
		}
		if email == "" {
			email = demo.UserEmail
		}
		o.Email = email
		seen, err := mailboxCount(ctx, client, baseURL, email)
		if err != nil {
			return err
		}
		o.Browser = nil
		go func() {
			if err := OpenMailboxLink(ctx, client, baseURL, email, seen); err != nil && ctx.Err() == nil {
				fail(err)
			}
		}()
	default:
		return fmt.Errorf("auth kind %q has no browser login", o.Auth.Kind)
	}
	_, err := login.Login(ctx, o)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// FormBrowser returns a Browser that does what a person does on a login
// page with a username/password form (the mock Cognito's managed login):
// it GETs the URL, fills the form's username and password fields, submits
// it and follows the redirects, the last of which reaches gwcurl's loopback
// listener. It runs in the background, as a browser does, until ctx ends;
// a failure is passed to onError (nil: ignored). client must follow
// redirects.
func FormBrowser(ctx context.Context, client *http.Client, username, password string, onError func(error)) func(string) error {
	return func(u string) error {
		go func() {
			if err := submitLoginForm(ctx, client, u, username, password); err != nil && onError != nil {
				onError(err)
			}
		}()
		return nil
	}
}

func submitLoginForm(ctx context.Context, client *http.Client, pageURL, username, password string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pageURL, nil)
	if err != nil {
		return fmt.Errorf("open the login page: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("open the login page: %w", err)
	}
	doc, err := html.Parse(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the login page answered %s", resp.Status)
	}
	action, fields, err := loginForm(doc)
	if err != nil {
		return err
	}
	base, _ := url.Parse(pageURL)
	target, err := base.Parse(action)
	if err != nil {
		return fmt.Errorf("the login form's action %q: %v", action, err)
	}
	userField := ""
	for _, f := range fields {
		if f.name == "username" || (userField == "" && (f.typ == "email" || f.typ == "text")) {
			userField = f.name
		}
	}
	form := url.Values{}
	for _, f := range fields {
		switch {
		case f.typ == "password":
			form.Set(f.name, password)
		case f.name == userField:
			form.Set(f.name, username)
		default:
			form.Set(f.name, f.value)
		}
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("submit the login form: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return fmt.Errorf("submit the login form: %w", err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("after the login form: %s %s", resp.Status, pageText(b))
	}
	return nil
}

type formField struct{ name, typ, value string }

// loginForm finds the page's first form with a password field.
func loginForm(doc *html.Node) (action string, fields []formField, err error) {
	var found bool
	var walk func(n *html.Node, in bool)
	walk = func(n *html.Node, in bool) {
		if found && !in {
			return
		}
		if n.Type == html.ElementNode && n.Data == "form" && !found {
			fields = nil
			action = attr(n, "action")
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c, true)
			}
			for _, f := range fields {
				if f.typ == "password" {
					found = true
				}
			}
			return
		}
		if in && n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") != "" {
			typ := strings.ToLower(attr(n, "type"))
			if typ == "" {
				typ = "text"
			}
			if typ != "submit" && typ != "button" {
				fields = append(fields, formField{name: attr(n, "name"), typ: typ, value: attr(n, "value")})
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, false)
	if !found {
		return "", nil, errors.New("the login page has no form with a password field")
	}
	return action, fields, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// pageText is a short excerpt of an HTML page's error text, for messages.
func pageText(b []byte) string {
	doc, err := html.Parse(strings.NewReader(string(b)))
	if err != nil {
		return ""
	}
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "style" || n.Data == "script" || n.Data == "title") {
			return
		}
		if n.Type == html.TextNode {
			if t := strings.TrimSpace(n.Data); t != "" {
				sb.WriteString(t + " ")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return redact.Printable(strings.TrimSpace(sb.String()))
}

type mailMessage struct {
	To   string `json:"to"`
	Link string `json:"link"`
}

func mailbox(ctx context.Context, client *http.Client, baseURL, email string) ([]mailMessage, error) {
	u := strings.TrimSuffix(baseURL, "/") + mailboxPath + "?to=" + url.QueryEscape(email)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the mailbox: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the mailbox: %s", resp.Status)
	}
	var msgs []mailMessage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&msgs); err != nil {
		return nil, fmt.Errorf("read the mailbox: %w", err)
	}
	return msgs, nil
}

func mailboxCount(ctx context.Context, client *http.Client, baseURL, email string) (int, error) {
	m, err := mailbox(ctx, client, baseURL, email)
	return len(m), err
}

// OpenMailboxLink waits until the mock gateway's mailbox at baseURL holds
// more than seen messages for email, then opens the newest one's link as a
// browser would (following its redirect to the loopback listener).
func OpenMailboxLink(ctx context.Context, client *http.Client, baseURL, email string, seen int) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		msgs, err := mailbox(ctx, client, baseURL, email)
		if err != nil {
			return err
		}
		if len(msgs) > seen {
			link := msgs[len(msgs)-1].Link
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
			if err != nil {
				return fmt.Errorf("the mailed link %q: %v", link, err)
			}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("open the mailed link: %w", err)
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("opening the mailed link: %s %s", resp.Status, pageText(b))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// errGrantGone means the authorization server refused a code or refresh
// token (invalid_grant): the consent behind it no longer stands.
var errGrantGone = errors.New("the consent behind this token no longer stands")

// errUnauthorized means a resource server refused a token (401).
var errUnauthorized = errors.New("token refused (401)")

// errForbidden means a resource server refused a request the token does
// not cover (403).
var errForbidden = errors.New("not covered by the consent (403)")

// oauthTokens are what a token endpoint returned.
type oauthTokens struct {
	Access  string
	Refresh string
	Expires time.Time
}

// requestTokens posts form to a token endpoint (RFC 6749 §3.2).
func requestTokens(ctx context.Context, hc *http.Client, tokenURL string, form url.Values) (oauthTokens, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return oauthTokens{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return oauthTokens{}, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int64  `json:"expires_in"`
		Error        string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return oauthTokens{}, fmt.Errorf("token endpoint answered %s", resp.Status)
	}
	switch {
	case resp.StatusCode == http.StatusOK && body.AccessToken != "":
		return oauthTokens{Access: body.AccessToken, Refresh: body.RefreshToken, Expires: time.Now().Add(time.Duration(body.ExpiresIn) * time.Second)}, nil
	case body.Error == "invalid_grant":
		return oauthTokens{}, errGrantGone
	default:
		return oauthTokens{}, fmt.Errorf("token endpoint answered %s (%s)", resp.Status, body.Error)
	}
}

// pkce returns a PKCE verifier and its S256 challenge (RFC 7636).
func pkce() (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// tokenSource keeps an access token fresh with a rotating refresh token.
// It is safe for concurrent use.
type tokenSource struct {
	hc       *http.Client
	tokenURL string
	clientID string
	onRotate func(refresh string) // persists the new refresh token; may be nil

	mu  sync.Mutex
	tok oauthTokens
}

// token returns a valid access token, refreshing it when it expires within
// a minute (or when force is set, after a 401).
func (s *tokenSource) token(ctx context.Context, force bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !force && s.tok.Access != "" && time.Until(s.tok.Expires) > time.Minute {
		return s.tok.Access, nil
	}
	if s.tok.Refresh == "" {
		return "", errGrantGone
	}
	t, err := requestTokens(ctx, s.hc, s.tokenURL, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {s.tok.Refresh}, "client_id": {s.clientID},
	})
	if err != nil {
		if errors.Is(err, errGrantGone) {
			s.tok = oauthTokens{}
		}
		return "", err
	}
	s.tok = t
	if s.onRotate != nil {
		s.onRotate(t.Refresh)
	}
	return t.Access, nil
}

// getJSON GETs url with a bearer token and decodes a JSON answer into v.
func getJSON(ctx context.Context, hc *http.Client, url, token string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(v)
	case http.StatusUnauthorized:
		return errUnauthorized
	case http.StatusForbidden:
		return errForbidden
	default:
		return fmt.Errorf("GET answered %s", resp.Status)
	}
}

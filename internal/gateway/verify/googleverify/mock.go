package googleverify

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// Grant and token types (RFC 7523, RFC 8693).
const (
	grantJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	grantRefresh       = "refresh_token"
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeJWT       = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
)

const maxFormBody = 64 << 10

// Mocks returns the mock Google endpoints of a gateway (an
// auth.MockFactory):
//
//   - POST /_mock/google/token: the OAuth token endpoint. jwt-bearer grant:
//     the assertion must be signed RS256 by a registered service account
//     (the demo one, those of `mocks: {google: {service_accounts: ...}}`),
//     with aud = this endpoint's URL, a live exp and a lifetime of at most
//     one hour; with a target_audience claim it answers {"id_token"} (aud =
//     target_audience, email, email_verified, sub, azp), otherwise an
//     access token. refresh_token grant: a registered user's refresh token
//     and client answer an access token and an id_token whose aud is the
//     OAuth client id.
//   - GET /_mock/google/certs (JWKS, current and previous key) and
//     /_mock/google/certs/v1 (PEM certificates by kid).
//   - POST /_mock/google/iam/v1/projects/-/serviceAccounts/EMAIL:generateIdToken
//     (and :generateAccessToken): IAM Credentials, authenticated by a Bearer
//     access token this mock issued.
//   - POST /_mock/google/sts/v1/token: STS token exchange for workload
//     identity federation; the subject token must be a JWT signed by this
//     mock, with aud = the requested audience or "https:" + it.
//   - GET /computeMetadata/v1/instance/service-accounts/default/{identity,token,email}
//     and project/project-id: the GCE metadata server (Metadata-Flavor:
//     Google required), as the metadata account (the demo service account
//     unless configured).
func Mocks(env *auth.Env) ([]auth.Mock, error) {
	s, err := StateFor(env)
	if err != nil {
		return nil, err
	}
	m := &mock{s: s}
	api := http.NewServeMux()
	api.HandleFunc("POST "+TokenPath, m.token)
	api.HandleFunc("GET "+CertsPath, m.certs)
	api.HandleFunc("GET "+CertsPEMPath, m.certsPEM)
	api.HandleFunc("POST "+STSPath, m.sts)
	api.HandleFunc("POST "+IAMPath+"/v1/projects/{project}/serviceAccounts/{call}", m.iam)
	api.HandleFunc(mockPrefix, func(w http.ResponseWriter, r *http.Request) {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "no mock Google endpoint at "+r.URL.Path)
	})
	return []auth.Mock{
		{Prefix: mockPrefix, Handler: api},
		{Prefix: MetadataPrefix, Handler: http.HandlerFunc(m.metadata)},
	}, nil
}

type mock struct{ s *State }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// oauthError answers an OAuth 2.0 error (RFC 6749 §5.2), as Google's token
// endpoint does.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// googleError answers a Google API error.
func googleError(w http.ResponseWriter, status int, statusName, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg, "status": statusName}})
}

func readForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "cannot parse the form body: "+err.Error())
		return false
	}
	return true
}

func (m *mock) token(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case grantJWTBearer:
		m.jwtBearer(w, r)
	case grantRefresh:
		m.refresh(w, r)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "missing grant_type")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+gt+" is not supported by the mock")
	}
}

// jwtBearer is the service-account grant (RFC 7523 §2.1).
func (m *mock) jwtBearer(w http.ResponseWriter, r *http.Request) {
	s := m.s
	assertion := r.PostForm.Get("assertion")
	if assertion == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "missing assertion")
		return
	}
	j, err := splitJWT(assertion)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid JWT: "+err.Error())
		return
	}
	if alg := j.alg(); alg != "RS256" {
		oauthError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("invalid JWT: alg %q not allowed (want RS256)", alg))
		return
	}
	iss := j.str("iss")
	sa, ok := s.account(iss)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("invalid_grant: service account %q is not registered with the mock", iss))
		return
	}
	if !sa.verify(j) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	if aud := j.audiences(); len(aud) != 1 || aud[0] != s.TokenURL() {
		oauthError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("Invalid JWT: claim aud: want %s, got %s", s.TokenURL(), strings.Join(aud, ", ")))
		return
	}
	now := s.now()
	exp, okExp, errExp := j.numericDate("exp")
	iat, okIat, errIat := j.numericDate("iat")
	switch {
	case errExp != nil || errIat != nil || !okExp || !okIat:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: iat and exp must be NumericDates")
		return
	case !now.Before(exp.Add(defaultLeeway)):
		oauthError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim. (exp %s, now %s)", fmtTime(exp), fmtTime(now)))
		return
	case iat.After(now.Add(defaultLeeway)) || exp.Sub(iat) > maxAssertionTTL || !exp.After(iat):
		oauthError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim. (iat %s, exp %s, now %s)", fmtTime(iat), fmtTime(exp), fmtTime(now)))
		return
	}
	if target := j.str("target_audience"); target != "" {
		tok, err := s.Sign(map[string]any{
			"aud":            target,
			"azp":            sa.uniqueID,
			"sub":            sa.uniqueID,
			"email":          sa.email,
			"email_verified": true,
		})
		if err != nil {
			oauthError(w, http.StatusInternalServerError, "internal_failure", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id_token": tok})
		return
	}
	if j.str("scope") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	m.writeAccess(w, sa.email, map[string]any{})
}

// verify checks the assertion's signature with the key named by kid, or
// with each of the account's keys when kid is absent or unknown.
func (sa *serviceAccount) verify(j *rawJWT) bool {
	if k, ok := sa.keys[j.kid()]; ok {
		return j.verifyRS256(k) == nil
	}
	for _, k := range sa.keys {
		if j.verifyRS256(k) == nil {
			return true
		}
	}
	return false
}

func (m *mock) writeAccess(w http.ResponseWriter, principal string, extra map[string]any) {
	tok, exp, err := m.s.issueAccess(principal)
	if errors.Is(err, errStoreUnavailable) {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", err.Error())
		return
	}
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "internal_failure", err.Error())
		return
	}
	extra["access_token"] = tok
	extra["token_type"] = "Bearer"
	extra["expires_in"] = int(exp.Sub(m.s.now()) / time.Second)
	writeJSON(w, http.StatusOK, extra)
}

// refresh is the authorized_user grant: the answer carries an id_token
// whose audience is the OAuth client id; the caller cannot choose it.
func (m *mock) refresh(w http.ResponseWriter, r *http.Request) {
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	u, ok := m.s.user(r.PostForm.Get("refresh_token"))
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Bad Request: unknown or revoked refresh token")
		return
	}
	if clientID != u.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(u.clientSecret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized: the OAuth client id or secret is wrong for this refresh token")
		return
	}
	id, err := m.s.Sign(map[string]any{
		"aud":            u.clientID,
		"azp":            u.clientID,
		"sub":            u.sub,
		"email":          u.email,
		"email_verified": true,
	})
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "internal_failure", err.Error())
		return
	}
	m.writeAccess(w, u.email, map[string]any{
		"id_token": id,
		"scope":    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/cloud-platform",
	})
}

func (m *mock) certs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600, must-revalidate, no-transform")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(m.s.jwks())
}

func (m *mock) certsPEM(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600, must-revalidate, no-transform")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(m.s.pemCerts())
}

// sts is the Security Token Service's token exchange (RFC 8693) as used by
// workload identity federation. The mock's federation trusts one identity
// provider: itself, so a subject token is any JWT it signed (for example an
// ID token from its metadata server) whose aud is the pool provider.
func (m *mock) sts(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != grantTokenExchange {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be "+grantTokenExchange)
		return
	}
	if tt := f.Get("subject_token_type"); tt != tokenTypeJWT && tt != tokenTypeIDToken {
		oauthError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("subject_token_type %q is not supported by the mock (want %s or %s)", tt, tokenTypeJWT, tokenTypeIDToken))
		return
	}
	audience := f.Get("audience")
	if !strings.HasPrefix(audience, "//iam.googleapis.com/") || !strings.Contains(audience, "/providers/") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "audience must name a workload identity pool provider (//iam.googleapis.com/.../providers/...)")
		return
	}
	j, err := splitJWT(f.Get("subject_token"))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "subject_token: "+err.Error())
		return
	}
	pub, ok := m.s.publicKey(j.kid())
	if j.alg() != "RS256" || !ok || j.verifyRS256(pub) != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "subject_token: signature does not verify against the mock issuer's keys")
		return
	}
	audOK := false
	for _, a := range j.audiences() {
		if a == audience || a == "https:"+audience {
			audOK = true
		}
	}
	if !audOK {
		oauthError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("subject_token: claim aud: want %s or https:%s, got %s", audience, audience, strings.Join(j.audiences(), ", ")))
		return
	}
	if exp, ok, err := j.numericDate("exp"); err != nil || !ok || !m.s.now().Before(exp.Add(defaultLeeway)) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "subject_token: expired or without exp")
		return
	}
	sub := j.str("sub")
	if sub == "" {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "subject_token: claim sub: missing")
		return
	}
	pool := strings.TrimPrefix(audience, "//iam.googleapis.com/")
	pool = pool[:strings.Index(pool, "/providers/")]
	principal := "principal://iam.googleapis.com/" + pool + "/subject/" + sub
	m.writeAccess(w, principal, map[string]any{"issued_token_type": tokenTypeAccess})
}

// iam serves IAM Credentials' generateIdToken and generateAccessToken.
func (m *mock) iam(w http.ResponseWriter, r *http.Request) {
	email, method, _ := strings.Cut(r.PathValue("call"), ":")
	if method != "generateIdToken" && method != "generateAccessToken" {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "unknown IAM Credentials method "+method)
		return
	}
	caller, ok := m.callerFromBearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token (from this mock's token endpoint, metadata server or STS).")
		return
	}
	sa, ok := m.s.account(email)
	if !ok {
		googleError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Not found; Gaia id not found for email %s", email))
		return
	}
	if len(sa.tokenCreators) > 0 && !containsFold(sa.tokenCreators, caller) {
		googleError(w, http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist): %s lacks roles/iam.serviceAccountTokenCreator on %s", caller, sa.email))
		return
	}
	var body struct {
		Audience     string   `json:"audience"`
		IncludeEmail bool     `json:"includeEmail"`
		Delegates    []string `json:"delegates"`
		Scope        []string `json:"scope"`
		Lifetime     string   `json:"lifetime"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxFormBody)).Decode(&body); err != nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "request body is not JSON: "+err.Error())
		return
	}
	for _, d := range body.Delegates {
		// projects/-/serviceAccounts/EMAIL
		de := d[strings.LastIndex(d, "/")+1:]
		if _, ok := m.s.account(de); !ok {
			googleError(w, http.StatusNotFound, "NOT_FOUND", "delegate "+de+" is not a registered service account")
			return
		}
	}
	if method == "generateAccessToken" {
		if len(body.Scope) == 0 {
			googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "scope is required")
			return
		}
		tok, exp, err := m.s.issueAccess(sa.email)
		if errors.Is(err, errStoreUnavailable) {
			googleError(w, http.StatusServiceUnavailable, "UNAVAILABLE", err.Error())
			return
		}
		if err != nil {
			googleError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"accessToken": tok, "expireTime": exp.UTC().Format(time.RFC3339)})
		return
	}
	if body.Audience == "" {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid value for audience: must not be empty")
		return
	}
	claims := map[string]any{"aud": body.Audience, "azp": sa.uniqueID, "sub": sa.uniqueID}
	if body.IncludeEmail {
		claims["email"] = sa.email
		claims["email_verified"] = true
	}
	tok, err := m.s.Sign(claims)
	if err != nil {
		googleError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

func (m *mock) callerFromBearer(r *http.Request) (string, bool) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return m.s.lookupAccess(strings.TrimSpace(tok))
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// metadata is the GCE metadata server, for its default service account.
func (m *mock) metadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	w.Header().Set("Server", "Metadata Server for VM")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Metadata-Flavor") != "Google" {
		// The real server's answer; it protects against SSRF through
		// proxies that cannot add headers.
		http.Error(w, "Missing required header \"Metadata-Flavor\": \"Google\"", http.StatusForbidden)
		return
	}
	sa := m.s.metadataAccount()
	rest := strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/")
	if acct, item, ok := strings.Cut(strings.TrimPrefix(rest, "instance/service-accounts/"), "/"); ok && strings.HasPrefix(rest, "instance/service-accounts/") {
		if acct != "default" && !strings.EqualFold(acct, sa.email) {
			http.Error(w, "service account "+acct+" is not attached to this instance", http.StatusNotFound)
			return
		}
		switch item {
		case "email":
			io.WriteString(w, sa.email)
		case "scopes":
			io.WriteString(w, "https://www.googleapis.com/auth/cloud-platform\nhttps://www.googleapis.com/auth/userinfo.email\n")
		case "aliases":
			io.WriteString(w, "default\n")
		case "token":
			m.writeAccess(w, sa.email, map[string]any{})
		case "identity":
			m.metadataIdentity(w, r, sa)
		default:
			http.Error(w, "not found", http.StatusNotFound)
		}
		return
	}
	switch rest {
	case "project/project-id":
		io.WriteString(w, demo.GoogleProjectID)
	case "project/numeric-project-id":
		io.WriteString(w, "100000000000")
	case "instance/zone":
		io.WriteString(w, "projects/100000000000/zones/us-central1-a")
	case "instance/id":
		io.WriteString(w, "1000000000000000000")
	case "universe/universe-domain":
		io.WriteString(w, "googleapis.com")
	case "instance/service-accounts/", "instance/service-accounts":
		io.WriteString(w, "default/\n"+sa.email+"/\n")
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func (m *mock) metadataIdentity(w http.ResponseWriter, r *http.Request, sa *serviceAccount) {
	q := r.URL.Query()
	aud := q.Get("audience")
	if aud == "" {
		http.Error(w, "non-empty audience parameter required", http.StatusBadRequest)
		return
	}
	claims := map[string]any{"aud": aud, "azp": sa.uniqueID, "sub": sa.uniqueID}
	switch f := q.Get("format"); f {
	case "", "standard":
	case "full":
		claims["email"] = sa.email
		claims["email_verified"] = true
		ce := map[string]any{
			"project_id":     demo.GoogleProjectID,
			"project_number": 100000000000,
			"zone":           "us-central1-a",
			"instance_id":    "1000000000000000000",
			"instance_name":  "gwcurl-mock-vm",
			// Fixed, like a real instance's creation time.
			"instance_creation_timestamp": 1704067200,
		}
		if lic := q.Get("licenses"); strings.EqualFold(lic, "true") {
			ce["license_id"] = []string{}
		}
		claims["google"] = map[string]any{"compute_engine": ce}
	default:
		http.Error(w, "format must be standard or full", http.StatusBadRequest)
		return
	}
	tok, err := m.s.Sign(claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	io.WriteString(w, tok)
}

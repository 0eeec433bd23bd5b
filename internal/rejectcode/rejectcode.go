// Package rejectcode is the set of stable codes the mock gateway sends with
// each refusal, in the JSON error's "code" field beside the human "reason"
// (docs/gateway.md, "Rejection codes"). The gateway's verifiers set them
// (auth.Rejection.Code) and `gwcurl --explain` switches on them, so a
// reworded reason changes neither a client script nor the diagnosis.
//
// It is a leaf package: client packages (explain) and the gateway share it
// without importing each other. A code is never renamed or reused for
// another meaning; new ones may be added.
package rejectcode

// Code is one stable, machine-readable cause of a refusal, in snake_case.
type Code string

// Missing or unusable credentials.
const (
	MissingSigV4       Code = "missing_sigv4"        // no Authorization: AWS4-… header and no X-Amz-Signature
	NotSigV4           Code = "not_sigv4"            // the Authorization header is another scheme
	MalformedSigV4     Code = "malformed_sigv4"      // a SigV4 signature that cannot be parsed or is not accepted
	MissingGoogleToken Code = "missing_google_token" // no Google ID token (or not as Bearer)
	MissingBearer      Code = "missing_bearer_token" // no bearer token in the route's header (details: header)
	MalformedToken     Code = "malformed_token"      // a bearer token that is not a usable JWT
	MissingCFAccess    Code = "missing_cf_access"    // no CF Access service token or app token (details: missing)
	MissingSTSIdentity Code = "missing_sts_identity" // no STS identity header (details: header)
	MalformedProof     Code = "malformed_proof"      // an STS identity proof that cannot be parsed or is not accepted
)

// Signatures and keys.
const (
	SignatureMismatch     Code = "signature_mismatch"      // SigV4 signature differs (details: canonical_request, string_to_sign)
	PayloadHashMismatch   Code = "payload_hash_mismatch"   // the body is not the one whose hash was signed
	ChunkRefused          Code = "chunk_refused"           // a chunk of a streaming (aws-chunked) upload is malformed or badly signed
	UnsignedPayload       Code = "unsigned_payload"        // UNSIGNED-PAYLOAD refused by the service (details: service)
	HeaderNotSigned       Code = "header_not_signed"       // a header that must be signed is not, or a signed one is missing
	UnknownAccessKey      Code = "unknown_access_key"      // details: access_key_id
	SessionTokenMismatch  Code = "session_token_mismatch"  // X-Amz-Security-Token missing, unexpected or wrong
	RegionMismatch        Code = "region_mismatch"         // credential scope region (details: want, got)
	ServiceMismatch       Code = "service_mismatch"        // credential scope service (details: want, got)
	ScopeDateMismatch     Code = "scope_date_mismatch"     // credential scope date is not the request date
	TokenSignatureInvalid Code = "token_signature_invalid" // a JWT not signed by a trusted key (details: issuer, kid when known)
	UnknownKeyID          Code = "unknown_key_id"          // a JWT's kid is not among the issuer's keys (details: kid)
)

// Time.
const (
	ClockSkew        Code = "clock_skew"          // the request or proof is dated too far from the gateway clock (details: request_time, gateway_time)
	PresignExpired   Code = "presign_expired"     // a presigned URL past X-Amz-Expires (details: gateway_time)
	ProofExpired     Code = "proof_expired"       // an STS identity proof older than 15 minutes (details: gateway_time)
	TokenExpired     Code = "token_expired"       // exp has passed (details: at, now when the verifier knows them)
	TokenNotYetValid Code = "token_not_yet_valid" // nbf or iat in the future (details: claim, at, now)
)

// Claims and principals.
const (
	IssuerMismatch      Code = "issuer_mismatch"       // details: want, got
	AudienceMismatch    Code = "audience_mismatch"     // aud (or a Cognito access token's client_id); details: want, got
	WrongTokenType      Code = "wrong_token_type"      // token_use, or a CF Access org token for an app (details: want, got)
	InsufficientScope   Code = "insufficient_scope"    // details: want (the missing scope)
	PrincipalNotAllowed Code = "principal_not_allowed" // not on the route's allowlist (details: arn for STS identities)
	UnknownServiceToken Code = "unknown_service_token" // CF Access client id (details: client_id)
	ServiceTokenSecret  Code = "service_token_secret"  // wrong CF Access client secret (details: client_id)
	ServerIDMismatch    Code = "server_id_mismatch"    // STS proof not bound to this route's server id
	STSEndpointRefused  Code = "sts_endpoint_refused"  // STS proof signed for a host, region or path the route does not trust
	STSRefused          Code = "sts_refused"           // STS refused the proof (details: sts_code, sts_message)
	STSAnswerInvalid    Code = "sts_answer_invalid"    // STS answered something the gateway cannot use
	IdPUnavailable      Code = "idp_unavailable"       // 503: the identity provider (JWKS, STS) cannot be reached
	KindNotImplemented  Code = "auth_kind_not_implemented"
)

// The frame's refusals carry their request-log decision as the code
// (docs/gateway.md, "Request pipeline"); the ones explain reads are named
// here.
const (
	CORSRefused     Code = "cors_refused" // details: refused_origin when the origin itself is not allowed
	TooLarge        Code = "too_large"    // details: size (when declared), limit
	RateLimited     Code = "rate_limited"
	UpstreamBusy    Code = "upstream_busy"
	UpstreamError   Code = "upstream_error"   // details: upstream
	UpstreamRefused Code = "upstream_refused" // the origin refused the connection (details: upstream)
	UpstreamTimeout Code = "upstream_timeout" // details: upstream
	NoRoute         Code = "no_route"         // details: path
	BadBody         Code = "bad_body"         // the request body could not be read
	InternalError   Code = "internal_error"   // a bug in the gateway (500)
)

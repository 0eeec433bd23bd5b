package explain

// Cloud Run's audience rules (Cloud Run docs, "Authenticate service-to-
// service" and "Set custom audiences"): an ID token's aud must be the
// service's *.run.app URL, or one of the custom audiences configured on the
// service. A path in the audience, or a custom domain that is not a
// configured custom audience, is refused with 401 by the Google Front End
// (recorded in testdata/google/).

import (
	"net/url"
	"strings"
)

// googleFrontEnd reports whether Google's front end (Cloud Run, Cloud
// Functions, IAP) answered.
func (d *diag) googleFrontEnd() bool {
	if strings.EqualFold(d.r.Header.Get("Server"), "Google Frontend") {
		return true
	}
	return d.resp.page != nil && strings.Contains(d.resp.page.Text, "Your client does not have permission")
}

// runService is the service name and region of a *.run.app host, when its
// form says: SERVICE-PROJECTNUMBER.REGION.run.app, or
// SERVICE-HASH-REGIONCODE.a.run.app (no region name).
func runService(host string) (service, region string) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	if !strings.HasSuffix(host, ".run.app") {
		return "", ""
	}
	labels := strings.Split(strings.TrimSuffix(host, ".run.app"), ".")
	first := labels[0]
	parts := strings.Split(first, "-")
	switch {
	case len(labels) == 2 && labels[1] != "a" && len(parts) >= 2:
		return strings.Join(parts[:len(parts)-1], "-"), labels[1]
	case len(parts) >= 3:
		return strings.Join(parts[:len(parts)-2], "-"), ""
	}
	return "", ""
}

// googleAudience checks the ID token's audience against the URL, the way
// Cloud Run does.
func (d *diag) googleAudience(j *jwtInfo) {
	u, err := url.Parse(d.s.URL)
	if err != nil || u.Host == "" {
		return
	}
	origin := u.Scheme + "://" + u.Host
	runApp := strings.HasSuffix(strings.ToLower(u.Hostname()), ".run.app")
	gfe := d.googleFrontEnd() && d.r.Status == 401
	score := scoreLikely
	if c, ok := d.resp.bearerChallenge(); ok && c.Params["error"] == "invalid_token" {
		score = scoreDerived - 5
	}
	got := strings.Join(j.aud, ", ")
	// A path in the audience: Cloud Run compares it with the service URL.
	if runApp {
		for _, a := range j.aud {
			au, err := url.Parse(a)
			if err == nil && strings.EqualFold(au.Host, u.Host) && strings.Trim(au.Path, "/") != "" {
				d.add("audience", max(score, scoreDerived-5), Finding{
					Cause: "audience has a path: the token is for " + a + ", but Cloud Run expects the service URL itself (" + origin + "), without a path",
					Fix:   "request the token for the service URL: --audience " + origin + " (the path goes in the request URL, not in the audience)",
				})
				return
			}
		}
	}
	if !audienceMatches(j.aud, d.s.URL) {
		for _, a := range j.aud {
			if au, err := url.Parse(a); err == nil && !runApp && strings.HasSuffix(strings.ToLower(au.Hostname()), ".run.app") {
				return // the run.app URL is a valid audience behind a custom domain
			}
		}
		if !runApp && gfe {
			d.add("audience", score, Finding{
				Cause: "audience: the token is for " + orDefault(got, "(none)") + "; behind the custom domain " + u.Host + " Cloud Run accepts only its *.run.app URL or a configured custom audience",
				Fix:   "request the token for the service's run.app URL (--audience https://SERVICE-….run.app), or configure " + origin + " as a custom audience: `gcloud run services update SERVICE --add-custom-audiences=" + origin + "`",
			})
			return
		}
		d.audienceFinding(origin, got, score)
		return
	}
	// The audience is the custom domain itself: valid only as a custom audience.
	if !runApp && gfe {
		d.add("audience", scoreLikely+5, Finding{
			Cause: "custom domain as audience: the token is for " + got + ", which Cloud Run accepts only if the service lists it as a custom audience (by default only its *.run.app URL)",
			Fix:   "`gcloud run services update SERVICE --add-custom-audiences=" + origin + "`, or request the token for the service's run.app URL (--audience https://SERVICE-….run.app)",
		})
	}
}

// invokerFix is the command that grants roles/run.invoker to who on the
// service at host.
func invokerFix(host, who string) string {
	service, region := runService(host)
	member := "serviceAccount:" + who
	switch {
	case who == "":
		member = "PRINCIPAL"
	case !strings.HasSuffix(who, ".gserviceaccount.com"):
		member = "user:" + who
	}
	cmd := "`gcloud run services add-iam-policy-binding " + orDefault(service, "SERVICE")
	if region != "" {
		cmd += " --region " + region
	}
	return cmd + " --member " + member + " --role roles/run.invoker`"
}

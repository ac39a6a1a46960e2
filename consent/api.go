package consent

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
)

// The grants API serves the data subject's own grants as JSON, for apps
// that build their own consent screens (such as a guest web app). Requests
// are authenticated by the Authenticator; state-changing ones must be
// same-origin and carry a JSON body (or use DELETE), which a cross-site
// form cannot send without a CORS preflight that this handler never
// grants.

func (h *Handler) apiGrants(w http.ResponseWriter, r *http.Request) {
	subject := h.apiSubject(w, r)
	if subject == "" {
		return
	}
	grants := h.l.Grants(GrantFilter{Subject: subject})
	if grants == nil {
		grants = []Grant{}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"grants": grants})
}

func (h *Handler) apiRevoke(w http.ResponseWriter, r *http.Request) {
	subject := h.apiSubject(w, r)
	if subject == "" || !h.apiMutation(w, r, nil) {
		return
	}
	g, err := h.l.Get(r.PathValue("id"))
	if err != nil || g.Subject != subject {
		apiError(w, http.StatusNotFound, "not_found")
		return
	}
	if err := h.l.Revoke(r.Context(), g.ID); err != nil {
		h.l.logger.Error("consent: revoking", "err", err)
		apiError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) apiReceipt(w http.ResponseWriter, r *http.Request) {
	subject := h.apiSubject(w, r)
	if subject == "" {
		return
	}
	g, err := h.l.Get(r.PathValue("id"))
	if err != nil || g.Subject != subject {
		apiError(w, http.StatusNotFound, "not_found")
		return
	}
	rec, err := h.l.Receipt(r.Context(), g.ID)
	if err != nil {
		h.l.logger.Error("consent: receipt", "err", err)
		apiError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="consent-receipt-`+g.ID+`.txt"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(rec)
}

func (h *Handler) apiExport(w http.ResponseWriter, r *http.Request) {
	subject := h.apiSubject(w, r)
	if subject == "" {
		return
	}
	b, err := h.l.Export(r.Context(), subject)
	if err != nil {
		h.l.logger.Error("consent: export", "err", err)
		apiError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="my-data.json"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (h *Handler) apiErase(w http.ResponseWriter, r *http.Request) {
	subject := h.apiSubject(w, r)
	if subject == "" {
		return
	}
	var body struct {
		Confirm bool `json:"confirm"`
	}
	if !h.apiMutation(w, r, &body) {
		return
	}
	if !body.Confirm {
		apiError(w, http.StatusBadRequest, "confirmation_required")
		return
	}
	if err := h.l.Erase(r.Context(), subject); errors.Is(err, ErrNotErasable) {
		// Retrying cannot help: the store keeps what the ledger forgot.
		h.l.logger.Error("consent: erase", "err", err)
		apiError(w, http.StatusNotImplemented, "erasure_not_supported")
		return
	} else if err != nil {
		h.l.logger.Error("consent: erase", "err", err)
		apiError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func apiError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code})
}

// apiSubject authenticates an API caller; it answers 401 or 501 itself.
func (h *Handler) apiSubject(w http.ResponseWriter, r *http.Request) string {
	if h.auth == nil {
		apiError(w, http.StatusNotImplemented, "not_supported")
		return ""
	}
	s, err := h.auth.Subject(r)
	switch {
	case err == nil && s != "":
		return s
	case err == nil || errors.Is(err, ErrUnauthenticated):
		apiError(w, http.StatusUnauthorized, "unauthenticated")
	default:
		h.l.logger.Error("consent: authenticator failed", "err", err)
		apiError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
	}
	return ""
}

// apiMutation checks that a state-changing API request is same-origin and,
// unless it is a DELETE, has a JSON body, which it decodes into v (if not
// nil).
func (h *Handler) apiMutation(w http.ResponseWriter, r *http.Request, v any) bool {
	if !sameOrigin(r) {
		apiError(w, http.StatusForbidden, "cross_origin")
		return false
	}
	if r.Method == http.MethodDelete {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		apiError(w, http.StatusUnsupportedMediaType, "json_required")
		return false
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			apiError(w, http.StatusRequestEntityTooLarge, "too_large")
		} else {
			apiError(w, http.StatusBadRequest, "invalid_body")
		}
		return false
	}
	if len(b) == 0 {
		b = []byte("{}")
	}
	if v == nil {
		var ignore map[string]json.RawMessage
		v = &ignore
	}
	if err := json.Unmarshal(b, v); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_body")
		return false
	}
	return true
}

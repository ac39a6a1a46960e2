package thing

import (
	"errors"
	"strconv"
)

// ErrInvalid is matched (with errors.Is) by every error that reports an
// invalid document: each *ValidationError and *SyntaxError. Callers that
// only need to know "is this TD acceptable" branch on it.
var ErrInvalid = errors.New("thing: invalid Thing Description")

// ErrThingModel is matched by the error Parse returns for a Thing Model
// (a document whose "@type" contains "tm:ThingModel"): a model is not a
// Thing Description. Use ParseModel for those.
var ErrThingModel = errors.New("thing: document is a Thing Model, not a Thing Description")

// ErrDuplicateMember is matched by the *ValidationError reported for a
// member name that appears twice in one JSON object. encoding/json would
// silently keep the last one; TD processors must not.
var ErrDuplicateMember = errors.New("thing: duplicate member name")

// ValidationError is one violation of the TD 1.1 rules. Path is a JSON
// pointer (RFC 6901) to the offending member, "" for the document itself.
// Validation reports all violations at once as an errors.Join of
// *ValidationError values; use errors.As or range over
// interface{ Unwrap() []error } to inspect them. Errors are immutable
// once returned.
type ValidationError struct {
	Path string // JSON pointer to the offending member
	Msg  string // what is wrong, in a short sentence fragment

	err    error // an underlying sentinel, if any (ErrThingModel)
	strict bool  // a rule beyond the official TD 1.1 JSON Schema
}

// Error implements error: the JSON pointer and the problem.
func (e *ValidationError) Error() string {
	p := e.Path
	if p == "" {
		p = "(document)"
	}
	return "thing: " + p + ": " + e.Msg
}

// Is reports whether target is ErrInvalid (every validation error is), or
// the sentinel the error carries.
func (e *ValidationError) Is(target error) bool {
	return target == ErrInvalid || (e.err != nil && target == e.err)
}

// SyntaxError reports input that is not well-formed JSON: the document
// cannot be read at all. Offset is the byte offset of the problem.
type SyntaxError struct {
	Offset int64  // byte offset in the input (after any byte order mark)
	Msg    string // description of the problem
}

// Error implements error: the byte offset and the problem.
func (e *SyntaxError) Error() string {
	return "thing: invalid JSON at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Msg
}

// Is reports whether target is ErrInvalid.
func (e *SyntaxError) Is(target error) bool { return target == ErrInvalid }

// Warning is something a processor should point out about a valid
// document: legal, but probably not what the author meant (an enum
// together with a const, an array without items, a readOnly property with
// a writeproperty form, ...). Warnings never make a document invalid.
type Warning struct {
	Path string // JSON pointer to the member concerned
	Msg  string
}

// String returns the JSON pointer and the advice.
func (w Warning) String() string {
	p := w.Path
	if p == "" {
		p = "(document)"
	}
	return p + ": " + w.Msg
}

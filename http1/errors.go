package http1

import (
	"errors"
	"strconv"
)

// Error is a request that cannot be served as sent. Status is the HTTP
// status code to answer with and Reason says what was wrong, in words fit
// for a log or a short response body.
//
// The parser and the decoders return shared *Error values, so failing costs
// no allocation; compare them with errors.Is or read them with [StatusOf].
type Error struct {
	Status int
	Reason string
}

// Error returns the reason with its status, prefixed by the package name.
func (e *Error) Error() string {
	return "http1: " + e.Reason + " (" + strconv.Itoa(e.Status) + ")"
}

// StatusOf returns the HTTP status code that answers err: the Status of the
// first *Error in err's chain, 0 for a nil err, and 500 for any other error.
func StatusOf(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Status
	}
	return 500
}

// ErrBodyTooLarge is returned by the body decoders when a body is longer
// than their MaxBodyBytes. Its Status is 413 (Content Too Large).
var ErrBodyTooLarge = &Error{413, "request body too large"}

func badRequest(reason string) *Error { return &Error{400, reason} }

// The request line.
var (
	errBareCR         = badRequest("bare CR in the request head")
	errBareLF         = badRequest("line ended by a bare LF")
	errRequestLine    = badRequest("malformed request line")
	errMethod         = badRequest("invalid method")
	errTarget         = badRequest("invalid request-target")
	errTargetForm     = badRequest("request-target form not allowed for this method")
	errVersion        = badRequest("malformed HTTP version")
	errURITooLong     = &Error{414, "request line too long"}
	errVersionSupport = &Error{505, "HTTP version not supported"}
)

// Header and trailer fields.
var (
	errObsFold          = badRequest("line folding or whitespace before a field line")
	errFieldName        = badRequest("invalid header field name")
	errSpaceBeforeColon = badRequest("whitespace between header field name and colon")
	errNoColon          = badRequest("header field line without a colon")
	errFieldValue       = badRequest("invalid header field value")
	errHeaderTooLarge   = &Error{431, "request header too large"}
	errTooManyFields    = &Error{431, "too many header fields"}
	errTrailerTooLarge  = &Error{431, "trailer section too large"}
)

// Header semantics.
var (
	errContentLength       = badRequest("invalid Content-Length")
	errContentLengthDiffer = badRequest("differing Content-Length values")
	errTransferEncoding    = badRequest("invalid Transfer-Encoding")
	errChunkedNotLast      = badRequest("chunked is not the final transfer coding")
	errChunkedTwice        = badRequest("chunked applied more than once")
	errTEAndCL             = badRequest("both Transfer-Encoding and Content-Length")
	errTEHTTP10            = badRequest("Transfer-Encoding in an HTTP/1.0 request")
	errUnsupportedTE       = &Error{501, "unsupported transfer coding"}
	errNoHost              = badRequest("missing Host header")
	errManyHosts           = badRequest("more than one Host header")
	errHost                = badRequest("invalid Host header")
)

// Chunked framing.
var (
	errChunkSize     = badRequest("invalid chunk size")
	errChunkOverflow = badRequest("chunk size too large")
	errChunkLine     = badRequest("chunk size line too long")
	errChunkExt      = badRequest("invalid chunk extension")
	errChunkCRLF     = badRequest("chunk not terminated by CRLF")
	errChunkBareLF   = badRequest("bare LF in chunked framing")
	errChunkNonData  = badRequest("chunked encoding contains too much non-data")
)

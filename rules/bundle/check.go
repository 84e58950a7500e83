package bundle

import "errors"

// checks names, for people, the check each error of this package stands
// for, in the order Open and CheckVersion make them.
var checks = []struct {
	err  error
	name string
}{
	{ErrTooLarge, "size"},
	{ErrMalformed, "format"},
	{ErrUnknownKey, "root key pinned"},
	{ErrBadSignature, "signature"},
	{ErrCertExpired, "signing key period"},
	{ErrPublisherMismatch, "publisher matches certificate"},
	{ErrNotYetValid, "not yet valid"},
	{ErrExpired, "expiry"},
	{ErrRollback, "version newer than installed"},
}

// FailedCheck names the check err failed ("signature", "expiry", ...),
// for messages that tell an admin what to fix. It returns "" for nil and
// for an error no check of this package explains.
func FailedCheck(err error) string {
	for _, c := range checks {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return ""
}

package settings

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// ReadPassword prints prompt to out and reads one line from in. When in is
// a terminal, echo is off while typing (golang.org/x/term, on every OS),
// so the password does not show on the screen a child may be looking at.
// The line ending is dropped; nothing else is trimmed.
func ReadPassword(in io.Reader, out io.Writer, prompt string) (string, error) {
	fmt.Fprint(out, prompt)
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(out)
		if err != nil {
			return "", fmt.Errorf("reading password: %w", err)
		}
		if len(b) > MaxPasswordLen+1 {
			return "", fmt.Errorf("reading password: %w", ErrWeakPassword)
		}
		return strings.TrimSuffix(string(b), "\r"), nil
	}
	// Byte by byte, so a caller can read several lines from one stream
	// (old password, new, again) without a buffer eating the next ones.
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := in.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			if len(line) > MaxPasswordLen+1 {
				return "", fmt.Errorf("reading password: %w", ErrWeakPassword)
			}
			line = append(line, b[0])
		}
		if errors.Is(err, io.EOF) {
			if len(line) == 0 {
				return "", fmt.Errorf("reading password: %w", err)
			}
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading password: %w", err)
		}
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}

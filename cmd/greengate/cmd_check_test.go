package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	list := filepath.Join(dir, "mine.txt")
	if err := os.WriteFile(list, []byte("# mine\nhomework-cheats.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  []string // lines of TSV output, or substrings of stderr for code 2
	}{
		{"allowed", []string{"check", "--format", "tsv", "en.wikipedia.org"}, "", 0,
			[]string{"allow\t\t\t\ten.wikipedia.org"}},
		{"blocked", []string{"check", "--format", "tsv", "pornhub.com", "example.org"}, "", 1,
			[]string{"block\tadult\tpornhub.com\tdefaults/adult.txt:4\tpornhub.com", "allow\t\t\t\texample.org"}},
		{"extra list", []string{"check", "--format", "tsv", "--list", "cheats=" + list, "https://www.homework-cheats.example/x"}, "", 1,
			[]string{"block\tcheats\thomework-cheats.example\t" + list + ":2\thttps://www.homework-cheats.example/x"}},
		{"stdin", []string{"check", "--format", "tsv", "-"}, "bet365.com\n\n# comment\nHTTP://WWW.Google.COM/search?q=a\n", 1,
			[]string{"block\tgambling\tbet365.com\tdefaults/gambling.txt:2\tbet365.com", "safe-search\t\twww.google.com\tsafe-search:google\tHTTP://WWW.Google.COM/search?q=a"}},
		{"bad host", []string{"check", "a b.com"}, "", 2, []string{"character not allowed"}},
		{"bad scheme", []string{"check", "ftp://x.com/"}, "", 2, []string{"scheme"}},
		{"bad list", []string{"check", "--list", "x=" + filepath.Join(dir, "missing"), "a.com"}, "", 2, []string{"missing"}},
		{"unknown profile", []string{"check", "--format", "tsv", "--profile", "nobody", "example.org"}, "", 1, []string{"block\t\t\t\texample.org"}},
		{"no args", []string{"check"}, "", 2, []string{"usage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runCmd(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if tt.code == 2 {
				for _, w := range tt.want {
					if !strings.Contains(errs, w) {
						t.Errorf("stderr %q lacks %q", errs, w)
					}
				}
				return
			}
			got := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("output\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCheckAtSchedule(t *testing.T) {
	t.Parallel()
	// The default profile has no schedule: any time decides the same.
	code, out, _ := runCmd(t, "", "check", "--format", "tsv", "--at", "2026-11-23T03:00:00Z", "example.org")
	if code != 0 || !strings.HasPrefix(out, "allow") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if code, _, errs := runCmd(t, "", "check", "--at", "yesterday", "example.org"); code != 2 || !strings.Contains(errs, "--at") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func TestListsStats(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "l.txt")
	os.WriteFile(p, []byte("0.0.0.0 a.com b.com\n0.0.0.0 a.com\n0.0.0.0 en\n"), 0o644)
	code, out, errs := runCmd(t, "", "lists", "stats", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{"format      hosts", "entries     3 (domains 2, allow 0, urls 0, duplicates 1)", "bad host name          1", ":3: bad host name"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// check says why an HTTPS URL a path rule names is allowed: the agent
// sees only the host of HTTPS, and the same URL over HTTP is blocked.
func TestCheckSaysPathNeedsInspection(t *testing.T) {
	t.Parallel()
	urls := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(urls, []byte("cheats.example/answers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "", "check", "--list", "cheats="+urls, "https://cheats.example/answers/1", "http://cheats.example/answers/1", "https://cheats.example/other")
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "path rule needs inspection (off): cheats.example/answers") ||
		!strings.HasPrefix(lines[1], "BLOCK") || strings.Contains(lines[2], "inspection") {
		t.Fatalf("output:\n%s", out)
	}
}

// check --format tsv prints one line per input line, whatever the input:
// a line longer than any URL, or a bad host, is an "error" line in its
// place, and the lines after it are still decided.
func TestCheckTSVKeepsEveryLine(t *testing.T) {
	t.Parallel()
	in := "pornhub.com\n" + strings.Repeat("x", 200_000) + ".com\nbad host\nexample.org"
	code, out, errs := runCmd(t, in, "check", "--format", "tsv", "-")
	if code != 2 {
		t.Fatalf("exit %d, want 2 (some lines were errors)", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "block\t") || !strings.HasPrefix(lines[1], "error\t") ||
		!strings.HasSuffix(lines[2], "\tbad host") || lines[3] != "allow\t\t\t\texample.org" {
		t.Fatalf("output (%d lines):\n%.300s\nstderr: %.300s", len(lines), out, errs)
	}
}

// A name no list has is classified, and check shows the words and the
// score that decided; --classifier=false leaves it to the lists.
func TestCheckClassifier(t *testing.T) {
	t.Parallel()
	code, out, errs := runCmd(t, "", "check", "--format", "tsv", "freshly-made-porntube-4u.com", "essex.ac.uk")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errs)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "block\tadult\tclassifier: ") || !strings.Contains(lines[0], "porn") ||
		!strings.Contains(lines[0], "(score ") || !strings.HasSuffix(lines[0], "\tclassifier\tfreshly-made-porntube-4u.com") ||
		lines[1] != "allow\t\t\t\tessex.ac.uk" {
		t.Errorf("output:\n%s", out)
	}
	code, out, _ = runCmd(t, "", "check", "--format", "tsv", "--classifier=false", "freshly-made-porntube-4u.com")
	if code != 0 || out != "allow\t\t\t\tfreshly-made-porntube-4u.com\n" {
		t.Errorf("--classifier=false: exit %d, output %q", code, out)
	}
}

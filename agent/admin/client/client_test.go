//go:build !windows

package client_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
)

// serve runs h on a real Unix socket in a temp dir. The full agent API is
// tested with this client in agent/admin; here only the client's own
// encoding and error mapping.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestErrorsMapToSentinels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body client.Error
		want error
	}{
		{"wrong password", client.Error{Code: client.CodeWrongPassword}, client.ErrWrongPassword},
		{"rate limited", client.Error{Code: client.CodeRateLimited, RetryAfter: 4 * time.Second}, client.ErrRateLimited},
		{"no password", client.Error{Code: client.CodeNoPassword}, client.ErrNoPassword},
		{"admin required", client.Error{Code: client.CodeAdminRequired}, client.ErrAdminRequired},
		{"invalid", client.Error{Code: client.CodeInvalid, Problems: []string{"profiles[0].allow[1]: bad host"}}, client.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sock := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				json.NewEncoder(w).Encode(tt.body)
			}))
			c := client.New(client.Config{Socket: sock})
			defer c.Close()
			err := c.Resume(context.Background(), "pw")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var e *client.Error
			if !errors.As(err, &e) || e.RetryAfter != tt.body.RetryAfter || len(e.Problems) != len(tt.body.Problems) {
				t.Fatalf("error details lost: %#v", e)
			}
		})
	}
}

func TestPasswordTravelsInTheHeaderOnly(t *testing.T) {
	t.Parallel()
	const pw = "ünïcode: pass\nword"
	got := make(chan string, 1)
	sock := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization") + " " + r.URL.RawQuery
		json.NewEncoder(w).Encode(client.Grant{Host: "a.test", Until: time.Unix(100, 0)})
	}))
	c := client.New(client.Config{Socket: sock})
	defer c.Close()
	g, err := c.Grant(context.Background(), pw, "a.test", "", time.Hour)
	if err != nil || g.Host != "a.test" {
		t.Fatalf("Grant = %+v, %v", g, err)
	}
	h := <-got
	if h != "Password "+base64.StdEncoding.EncodeToString([]byte(pw))+" " {
		t.Fatalf("Authorization = %q", h)
	}
}

func TestAgentNotRunning(t *testing.T) {
	t.Parallel()
	c := client.New(client.Config{Socket: filepath.Join(t.TempDir(), "none.sock")})
	_, err := c.Status(context.Background())
	if !errors.Is(err, client.ErrAgentNotRunning) {
		t.Fatalf("err = %v, want ErrAgentNotRunning", err)
	}
}

func TestEventFilterRoundTrip(t *testing.T) {
	t.Parallel()
	want := client.EventFilter{
		From: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), To: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Category: "adult", Action: "block", Profile: "child", HostContains: "ex&am=ple", Limit: 5, Offset: 7,
	}
	got := make(chan client.EventFilter, 1)
	sock := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := client.ParseEventFilter(r.URL.Query())
		if err != nil {
			t.Error(err)
		}
		got <- f
		w.Write([]byte("[]"))
	}))
	c := client.New(client.Config{Socket: sock})
	defer c.Close()
	if _, err := c.Events(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if f := <-got; !f.From.Equal(want.From) || !f.To.Equal(want.To) || f.HostContains != want.HostContains ||
		f.Limit != 5 || f.Offset != 7 || f.Category != "adult" || f.Action != "block" || f.Profile != "child" {
		t.Fatalf("filter = %+v", f)
	}
	if _, err := client.ParseEventFilter(map[string][]string{"limit": {"-1"}, "from": {"x"}}); err == nil ||
		!strings.Contains(err.Error(), "limit") || !strings.Contains(err.Error(), "from") {
		t.Fatalf("bad filter error = %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(client.PauseRequest{Duration: client.Duration(90 * time.Minute)})
	if err != nil || string(b) != `{"duration":"1h30m0s"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var p client.PauseRequest
	if err := json.Unmarshal([]byte(`{"duration":"15m"}`), &p); err != nil || time.Duration(p.Duration) != 15*time.Minute {
		t.Fatalf("Unmarshal = %v, %v", p, err)
	}
	if err := json.Unmarshal([]byte(`{"duration":"soon"}`), &p); err == nil {
		t.Fatal("bad duration accepted")
	}
}

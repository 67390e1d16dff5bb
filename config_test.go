package monologue_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
)

// configDirs makes a fresh working directory and home directory, with no
// MONOLOGUE_* variables, and returns them.
func configDirs(t *testing.T) (work, home string) {
	t.Helper()
	work, home = t.TempDir(), t.TempDir()
	t.Chdir(work)
	t.Setenv("HOME", home)
	t.Setenv(monologue.EnvEndpoint, "")
	t.Setenv(monologue.EnvAPIKey, "")
	return work, home
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name       string
		work, home string // .monologuerc contents; "" for none
		env        map[string]string
		want       monologue.Config // File: "work", "home" or ""
		wantErr    bool
	}{
		{
			name: "nothing",
		},
		{
			name: "working directory",
			work: "[opts]\nendpoint=ws://w:1/\napiKey=wkey\n",
			want: monologue.Config{Endpoint: "ws://w:1/", APIKey: "wkey", File: "work"},
		},
		{
			name: "home",
			home: "[opts]\nendpoint=ws://h:1/\napiKey=hkey\n",
			want: monologue.Config{Endpoint: "ws://h:1/", APIKey: "hkey", File: "home"},
		},
		{
			name: "working directory first",
			work: "[opts]\nendpoint=ws://w:1/\n",
			home: "[opts]\nendpoint=ws://h:1/\napiKey=hkey\n",
			want: monologue.Config{Endpoint: "ws://w:1/", File: "work"},
		},
		{
			name: "environment over file",
			work: "[opts]\nendpoint=ws://w:1/\napiKey=wkey\n",
			env:  map[string]string{monologue.EnvAPIKey: "ekey"},
			want: monologue.Config{Endpoint: "ws://w:1/", APIKey: "ekey", File: "work"},
		},
		{
			name: "environment only",
			work: "[opts]\nendpoint=ws://w:1/\napiKey=wkey\n",
			env:  map[string]string{monologue.EnvAPIKey: "ekey", monologue.EnvEndpoint: "ws://e:1/"},
			want: monologue.Config{Endpoint: "ws://e:1/", APIKey: "ekey"},
		},
		{
			name: "INI details",
			work: "\uFEFF; comment\n# comment\n[other]\nendpoint=ws://no/\n\n[ opts ]\n  Endpoint = \"ws://q:1/\" \napi_key='k=v'\nunknown=1\n",
			want: monologue.Config{Endpoint: "ws://q:1/", APIKey: "k=v", File: "work"},
		},
		{
			name: "keys before any section",
			work: "endpoint=ws://s:1/\napikey=k\n",
			want: monologue.Config{Endpoint: "ws://s:1/", APIKey: "k", File: "work"},
		},
		{
			name:    "malformed",
			work:    "[opts]\nendpoint\n",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work, home := configDirs(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.work != "" {
				writeFile(t, filepath.Join(work, ".monologuerc"), tt.work)
			}
			if tt.home != "" {
				writeFile(t, filepath.Join(home, ".monologuerc"), tt.home)
			}
			got, err := monologue.LoadConfig()
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			switch want.File {
			case "work":
				want.File = filepath.Join(work, ".monologuerc")
			case "home":
				want.File = filepath.Join(home, ".monologuerc")
			}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestDialConfigPrecedence(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	work, _ := configDirs(t)
	ctx := context.Background()
	dial := func(opts *monologue.Options) error {
		c, err := monologue.Dial(ctx, opts)
		if err == nil {
			c.Close()
		}
		return err
	}

	if err := dial(nil); err == nil {
		t.Fatal("Dial with no configuration succeeded")
	}
	// The file names the gateway, with a wrong key.
	writeFile(t, filepath.Join(work, ".monologuerc"), "[opts]\nendpoint="+gw.endpoint+"\napiKey=wrong\n")
	if err := dial(nil); !errors.Is(err, monologue.ErrForbidden) {
		t.Fatalf("file only: %v, want ErrForbidden", err)
	}
	// The environment wins over the file.
	t.Setenv(monologue.EnvAPIKey, testKey)
	if err := dial(nil); err != nil {
		t.Fatalf("environment over file: %v", err)
	}
	// Options win over the environment.
	if err := dial(&monologue.Options{APIKey: "wrong", Logger: quiet()}); !errors.Is(err, monologue.ErrForbidden) {
		t.Fatalf("Options over environment: %v, want ErrForbidden", err)
	}
	t.Setenv(monologue.EnvEndpoint, "ws://127.0.0.1:1/")
	if err := dial(&monologue.Options{Endpoint: gw.endpoint, Logger: quiet()}); err != nil {
		t.Fatalf("Options endpoint over environment: %v", err)
	}
	// http URLs and bare host:port are accepted.
	bare := gw.endpoint[len("ws://") : len(gw.endpoint)-1]
	for _, endpoint := range []string{"http://" + bare, bare} {
		if err := dial(&monologue.Options{Endpoint: endpoint, Logger: quiet()}); err != nil {
			t.Errorf("endpoint %q: %v", endpoint, err)
		}
	}
}

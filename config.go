package monologue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Where the configuration comes from.
const (
	EnvEndpoint = "MONOLOGUE_ENDPOINT" // environment variable with the endpoint
	EnvAPIKey   = "MONOLOGUE_API_KEY"  // environment variable with the API key
	ConfigFile  = ".monologuerc"       // INI file, in the working directory or $HOME
)

// Config is where to connect and with which key, as read by [LoadConfig].
type Config struct {
	Endpoint string // the gateway's WebSocket URL
	APIKey   string // the API key
	// File is the .monologuerc that was read, "" when none was found.
	File string
}

// LoadConfig reads the client configuration: each of Endpoint and APIKey
// comes from its environment variable (MONOLOGUE_ENDPOINT,
// MONOLOGUE_API_KEY) when set, else from the [opts] section of the first
// .monologuerc found in the working directory, then in the home directory —
// the INI file of the original client:
//
//	[opts]
//	endpoint=ws://127.0.0.1:8080/
//	apiKey=…
//
// A missing file is not an error; a file that cannot be read is.
func LoadConfig() (Config, error) {
	cfg := Config{Endpoint: os.Getenv(EnvEndpoint), APIKey: os.Getenv(EnvAPIKey)}
	if cfg.Endpoint != "" && cfg.APIKey != "" {
		return cfg, nil
	}
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, home)
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, ConfigFile)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return cfg, fmt.Errorf("monologue: read config: %w", err)
		}
		file, err := parseConfig(data)
		if err != nil {
			return cfg, fmt.Errorf("monologue: read config %s: %w", path, err)
		}
		cfg.File = path
		if cfg.Endpoint == "" {
			cfg.Endpoint = file.Endpoint
		}
		if cfg.APIKey == "" {
			cfg.APIKey = file.APIKey
		}
		break
	}
	return cfg, nil
}

// parseConfig reads the [opts] section of an INI file. Keys are matched
// without regard to case, "-" or "_" (apiKey, apikey, api_key); values may
// be quoted; lines starting with ";" or "#" are comments. Keys before any
// section are read as [opts] too.
func parseConfig(data []byte) (Config, error) {
	var cfg Config
	section := "opts"
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; scanner.Scan(); n++ {
		line := strings.TrimSpace(scanner.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return cfg, fmt.Errorf("line %d: unterminated section header", n)
			}
			section = strings.ToLower(strings.TrimSpace(line[1:end]))
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return cfg, fmt.Errorf("line %d: expected key=value", n)
		}
		if section != "opts" {
			continue
		}
		value = unquoteValue(strings.TrimSpace(value))
		switch normalizeKey(key) {
		case "endpoint":
			cfg.Endpoint = value
		case "apikey":
			cfg.APIKey = value
		}
	}
	return cfg, scanner.Err()
}

func normalizeKey(key string) string {
	key = strings.ToLower(strings.TrimSpace(key))
	return strings.NewReplacer("_", "", "-", "").Replace(key)
}

func unquoteValue(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// ReadConfigFile reads the [opts] section of one .monologuerc file, as
// [LoadConfig] does, ignoring the environment. It is how a tool that writes
// the file (monologue serve) learns what it holds before replacing it.
func ReadConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("monologue: read config: %w", err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("monologue: read config %s: %w", path, err)
	}
	cfg.File = path
	return cfg, nil
}

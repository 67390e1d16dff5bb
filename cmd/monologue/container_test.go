package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// No container runtime runs the tests, so the Dockerfile and
// docker-compose.yml are checked here: every flag they give serve is one
// that serve --help lists, and their command lines parse as serve would
// parse them, with the environment they set.

// serveHelpFlags returns the flags serve --help lists.
func serveHelpFlags(t *testing.T) map[string]bool {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"serve", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("serve --help: exit %d", code)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(stderr.String(), -1) {
		flags[m[1]] = true
	}
	if !flags["addr"] || !flags["cluster-peers"] {
		t.Fatalf("serve --help lists %v", flags)
	}
	return flags
}

// checkServeCommand checks one command line of serve: its flags exist and
// it parses, with env standing in for the environment.
func checkServeCommand(t *testing.T, where string, args []string, env map[string]string) serveConfig {
	t.Helper()
	known := serveHelpFlags(t)
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("%s: command %q does not run serve", where, args)
	}
	for _, arg := range args[1:] {
		if name, ok := strings.CutPrefix(arg, "--"); ok && !known[strings.SplitN(name, "=", 2)[0]] {
			t.Errorf("%s: serve --help has no flag --%s", where, name)
		}
	}
	var stderr bytes.Buffer
	cfg, err := parseServeFlags(args[1:], func(k string) string { return env[k] }, &stderr)
	if err != nil {
		t.Fatalf("%s: serve %q: %v %s", where, args[1:], err, stderr.String())
	}
	if err := checkAdminExposure(cfg); err != nil {
		t.Errorf("%s: %v", where, err)
	}
	return cfg
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages []string // the FROM lines
	var user, entrypoint, cmd string
	var build []string // RUN lines
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		instruction, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instruction) {
		case "FROM":
			stages = append(stages, rest)
			user = "" // the last stage's USER counts
		case "USER":
			user = rest
		case "ENTRYPOINT":
			entrypoint = rest
		case "CMD":
			cmd = rest
		case "RUN":
			build = append(build, rest)
		}
	}
	if len(stages) < 2 || !strings.Contains(stages[len(stages)-1], "distroless/static") {
		t.Errorf("stages %q: want a build stage and a distroless static base", stages)
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("USER %q: the image must not run as root", user)
	}
	if !slices.ContainsFunc(build, func(r string) bool {
		return strings.Contains(r, "CGO_ENABLED=0") && strings.Contains(r, "./cmd/monologue")
	}) {
		t.Errorf("no static build of ./cmd/monologue in %q", build)
	}
	var ep, args []string
	if json.Unmarshal([]byte(entrypoint), &ep) != nil || len(ep) != 1 || !strings.HasSuffix(ep[0], "/monologue") {
		t.Errorf("ENTRYPOINT %s: want the binary, in exec form", entrypoint)
	}
	if err := json.Unmarshal([]byte(cmd), &args); err != nil {
		t.Fatalf("CMD %s: %v", cmd, err)
	}
	checkServeCommand(t, "Dockerfile CMD", args, nil)
}

// composeFile is what the test reads of docker-compose.yml.
type composeFile struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
	} `yaml:"services"`
}

func TestDockerCompose(t *testing.T) {
	data, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose composeFile
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	if len(compose.Services) != 3 {
		t.Fatalf("%d services, want 3 nodes", len(compose.Services))
	}
	// ${VAR:?message} takes a value from the environment; stand one in.
	variable := regexp.MustCompile(`\$\{([A-Z_]+)(:?[?-][^}]*)?\}`)
	substitute := func(s string) string { return variable.ReplaceAllString(s, "value-of-$1") }
	published := map[string]bool{}
	for name, svc := range compose.Services {
		if svc.Build == nil {
			t.Errorf("%s: no build: it would not use the Dockerfile", name)
		}
		env := map[string]string{}
		for k, v := range svc.Environment {
			env[k] = substitute(v)
		}
		var args []string
		for _, a := range svc.Command {
			args = append(args, substitute(a))
		}
		cfg := checkServeCommand(t, "docker-compose.yml "+name, args, env)
		if cfg.cluster.listen == "" || cfg.cluster.secret == "" || len(cfg.apiKeys) != 1 {
			t.Errorf("%s: not a cluster node with a route secret and a key: %+v", name, cfg.cluster)
		}
		_, port, _ := strings.Cut(cfg.cluster.listen, ":")
		var peers []string
		for other := range compose.Services {
			if other != name {
				peers = append(peers, other+":"+port)
			}
		}
		slices.Sort(peers)
		if got := slices.Sorted(slices.Values(cfg.cluster.peers)); !slices.Equal(got, peers) {
			t.Errorf("%s: --cluster-peers %q, want the other nodes %q", name, got, peers)
		}
		for _, p := range svc.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is published on every interface of the host", name, p)
			}
			hostPort := strings.Split(p, ":")[1]
			if published[hostPort] {
				t.Errorf("%s: host port %s published twice", name, hostPort)
			}
			published[hostPort] = true
		}
	}
}

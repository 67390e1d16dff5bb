package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const makeFragment = "aws.mk"

// makeFile is a Makefile fragment read as text: its rules and its plain variables.
type makeFile struct {
	prereqs map[string][]string // target → prerequisites
	recipes map[string]string   // target → recipe, variables expanded
	vars    map[string]string   // NAME ?= value, NAME := value, NAME = value
}

var (
	makeAssign = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(\?=|:=|::=|\+=|=)\s*(.*)$`)
	makeRule   = regexp.MustCompile(`^([^\s:#=][^:=]*):([^=].*)?$`)
	makeRef    = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
)

// parseMakefile reads rules and variables from src; recipes get simple $(VAR)
// references expanded, so that checks can look at the commands make would run.
func parseMakefile(src string) makeFile {
	mf := makeFile{prereqs: map[string][]string{}, recipes: map[string]string{}, vars: map[string]string{}}
	src = strings.ReplaceAll(src, "\\\n", " ")
	var current []string
	for _, line := range strings.Split(src, "\n") {
		if strings.HasPrefix(line, "\t") {
			for _, t := range current {
				mf.recipes[t] += strings.TrimPrefix(line, "\t") + "\n"
			}
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		if strings.TrimSpace(line) == "" {
			continue
		}
		current = nil
		if m := makeAssign.FindStringSubmatch(line); m != nil {
			mf.vars[m[1]] = strings.TrimSpace(m[3])
		} else if m := makeRule.FindStringSubmatch(line); m != nil {
			current = strings.Fields(m[1])
			for _, t := range current {
				mf.prereqs[t] = append(mf.prereqs[t], strings.Fields(m[2])...)
			}
		}
	}
	for t, r := range mf.recipes {
		mf.recipes[t] = mf.expand(r)
	}
	return mf
}

// expand replaces $(VAR) by VAR's value, a few levels deep.
func (mf makeFile) expand(s string) string {
	for range 5 {
		s = makeRef.ReplaceAllStringFunc(s, func(ref string) string {
			if v, ok := mf.vars[ref[2:len(ref)-1]]; ok {
				return v
			}
			return ref
		})
	}
	return s
}

// makeTargets are the targets deploy/aws.mk must offer, and what each recipe must do.
var makeTargets = map[string][]string{
	"lambda": {"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "-tags lambda.norpc", "-o build/bootstrap ./cmd/monologue-lambda", "build/bootstrap.zip"},
	"deploy": {"deploy --template-file deploy/sam/template.yaml", "--stack-name \"$(STACK)\"", "CAPABILITY_IAM", "--resolve-s3",
		"Stage=$(STAGE)", "ApiKeyValue="},
	"undeploy":  {"delete --stack-name \"$(STACK)\""},
	"describe":  {"describe-stacks --stack-name \"$(STACK)\"", "Outputs", "--output table"},
	"configure": {"WebSocketURI", "ApiKeyId", "get-api-key", "--include-value", `[opts]\nendpoint=%s\napiKey=%s\n`, "$(RC_FILE)"},
}

// stackGuard is the prerequisite that stops a target when STACK is not set.
const stackGuard = "aws-require-stack"

// checkMakefile checks aws.mk's targets; root is the repository root, for paths.
func checkMakefile(src, root string) []error {
	mf := parseMakefile(src)
	var errs []error
	for _, target := range slices.Sorted(maps.Keys(makeTargets)) {
		prereqs, ok := mf.prereqs[target]
		if !ok {
			errs = append(errs, fmt.Errorf("target %s missing", target))
			continue
		}
		if !slices.Contains(mf.prereqs[".PHONY"], target) {
			errs = append(errs, fmt.Errorf("target %s is not .PHONY", target))
		}
		if target != "lambda" && !slices.Contains(prereqs, stackGuard) {
			errs = append(errs, fmt.Errorf("target %s runs without checking STACK (needs %s)", target, stackGuard))
		}
		for _, want := range makeTargets[target] {
			if !strings.Contains(mf.recipes[target], mf.expand(want)) {
				errs = append(errs, fmt.Errorf("target %s: recipe lacks %q", target, want))
			}
		}
	}
	if !slices.Contains(mf.prereqs["deploy"], "lambda") {
		errs = append(errs, fmt.Errorf("target deploy does not build the lambda first"))
	}
	if g := mf.recipes[stackGuard]; !strings.Contains(g, "$(error STACK is required") {
		errs = append(errs, fmt.Errorf("target %s does not stop with an error when STACK is empty: %q", stackGuard, g))
	}
	if s := mf.vars["STAGE"]; s != "latest" {
		errs = append(errs, fmt.Errorf("STAGE defaults to %q, want latest", s))
	}
	for _, v := range []string{"SAM_TEMPLATE"} {
		if _, err := os.Stat(filepath.Join(root, mf.vars[v])); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v, err))
		}
	}
	return errs
}

func readMakefile(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(makeFragment)
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

func TestMakefile(t *testing.T) {
	for _, err := range checkMakefile(readMakefile(t), "..") {
		t.Error(err)
	}
}

// TestMakefileChecksCatchBreakage feeds the checks broken copies of aws.mk.
func TestMakefileChecksCatchBreakage(t *testing.T) {
	src := map[string]string{makeFragment: readMakefile(t)}
	for _, m := range []mutation{
		mut("target missing", "\nundeploy: aws-require-stack\n", "\nremove: aws-require-stack\n", "target undeploy missing"),
		mut("not phony", ".PHONY: lambda deploy undeploy", ".PHONY: lambda deploy", "target undeploy is not .PHONY"),
		mut("no guard", "\nconfigure: aws-require-stack\n", "\nconfigure:\n", "target configure runs without checking STACK"),
		mut("guard does not stop", "$(if $(strip $(STACK)),,$(error STACK is required", "$(if $(strip $(STACK)),,$(warning STACK is required", "does not stop with an error"),
		mut("wrong architecture", "GOARCH=arm64", "GOARCH=amd64", `recipe lacks "GOARCH=arm64"`),
		mut("rpc build", "-tags lambda.norpc ", "", `recipe lacks "-tags lambda.norpc"`),
		mut("deploy without build", "\ndeploy: aws-require-stack lambda\n", "\ndeploy: aws-require-stack\n", "does not build the lambda first"),
		mut("template moved", "SAM_TEMPLATE ?= deploy/sam/template.yaml", "SAM_TEMPLATE ?= deploy/template.yaml", "recipe lacks \"deploy --template-file deploy/sam/template.yaml\""),
		mut("stage default", "STAGE   ?= latest", "STAGE   ?= dev", "STAGE defaults to \"dev\""),
		mut("key without value", "--include-value --query value --output text); \\\n\tumask", "--query value --output text); \\\n\tumask", `target configure: recipe lacks "--include-value"`),
	} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			wantViolation(t, checkMakefile(m.apply(t, src)[makeFragment], ".."), m.want)
		})
	}
}

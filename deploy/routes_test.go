package deploy

import (
	"slices"
	"testing"
)

// TestNewActionNeedsRoutes adds a route to the list the checks derive from package wire,
// as a new action there would, and checks that the SAM and the Terraform checks both
// report it missing from the templates as they are.
func TestNewActionNeedsRoutes(t *testing.T) {
	const added = "newaction"
	if slices.Contains(relayRoutes, added) {
		t.Fatalf("%q is already a relay route: pick another name", added)
	}
	routes := append(slices.Clone(relayRoutes), added)
	sam, err := loadSAM([]byte(readSAM(t)[samTemplate]))
	if err != nil {
		t.Fatal(err)
	}
	terraform, err := loadTerraform(readTerraform(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		stack   *stack
		outputs []string
	}{
		{"SAM", sam, samOutputs},
		{"Terraform", terraform, tfOutputs},
	} {
		t.Run(c.name, func(t *testing.T) {
			errs := runChecks(c.stack, checks(routes, c.outputs...))
			wantViolation(t, errs, `route "`+added+`" missing from the WebSocket API`)
			wantViolation(t, errs, "no WebSocket deployment depends on every route")
			if len(errs) != 2 {
				t.Errorf("%d violations, want the 2 of the added route: %v", len(errs), errs)
			}
		})
	}
}

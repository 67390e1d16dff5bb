package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyfunc "github.com/zclconf/go-cty/cty/function"
)

const terraformDir = "terraform"

// tfOutputs are the outputs the Terraform must declare, as the SAM template does.
var tfOutputs = []string{"websocket_uri", "api_key_id", "http_publish_uri"}

// tfModule is a Terraform module read with hclsyntax. Expressions that need only
// literals, each.key and literal locals are evaluated; the rest are rendered with the
// tokens of deploy_test.go.
type tfModule struct {
	blocks    map[string]*hclsyntax.Block // "TYPE.NAME" for resources, "data.TYPE.NAME", "var.NAME", "output.NAME"
	locals    map[string]*hclsyntax.Attribute
	apiTokens map[string]string // name of an aws_apigatewayv2_api → tokWS or tokHTTP
	deadQueue map[string]bool   // names of the aws_sqs_queues some queue redrives to
	ctx       *hcl.EvalContext
}

// tfInstance is one instance of a block: one per for_each element, else just one.
type tfInstance struct {
	body *hclsyntax.Body
	ctx  *hcl.EvalContext
}

// loadTerraform parses .tf files (name → content) and describes them as a stack.
func loadTerraform(files map[string]string) (*stack, error) {
	m := &tfModule{blocks: map[string]*hclsyntax.Block{}, locals: map[string]*hclsyntax.Attribute{}, apiTokens: map[string]string{}, deadQueue: map[string]bool{}}
	p := hclparse.NewParser()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		f, diags := p.ParseHCL([]byte(files[name]), name)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse: %w", diags)
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if err := m.add(b); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	m.ctx = &hcl.EvalContext{Functions: map[string]ctyfunc.Function{"toset": tfToSet}}
	literal := map[string]cty.Value{}
	for _, name := range slices.Sorted(maps.Keys(m.locals)) {
		if v, diags := m.locals[name].Expr.Value(m.ctx); !diags.HasErrors() && v.IsWhollyKnown() {
			literal[name] = v
		}
	}
	m.ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(literal)}

	s := &stack{apis: map[string]api{}, integrations: map[string]integration{}, outputs: map[string]string{}}
	for _, name := range m.names("aws_apigatewayv2_api") {
		in := m.instances(m.blocks["aws_apigatewayv2_api."+name])[0]
		proto := m.str(in, "protocol_type")
		tok := map[string]string{"WEBSOCKET": tokWS, "HTTP": tokHTTP}[proto]
		if _, dup := s.apis[tok]; dup || tok == "" {
			return nil, fmt.Errorf("aws_apigatewayv2_api.%s: a second %q API", name, proto)
		}
		m.apiTokens[name] = tok
		s.apis[tok] = api{proto, m.str(in, "route_selection_expression"), m.str(in, "api_key_selection_expression")}
	}
	for _, name := range m.names("aws_sqs_queue") {
		if redrive := m.redrive(m.blocks["aws_sqs_queue."+name].Body); redrive != nil {
			for _, item := range redrive.Items {
				for _, t := range hclsyntax.Variables(item.ValueExpr) {
					if names := traversalNames(t); len(names) >= 2 && names[0] == "aws_sqs_queue" {
						m.deadQueue[names[1]] = true
					}
				}
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(m.blocks)) {
		m.describe(s, key)
	}
	s.dangling = m.dangling()
	return s, nil
}

// redrive returns the object of a queue's redrive_policy = jsonencode({...}), or nil.
func (m *tfModule) redrive(body *hclsyntax.Body) *hclsyntax.ObjectConsExpr {
	a := body.Attributes["redrive_policy"]
	if a == nil {
		return nil
	}
	call, ok := a.Expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "jsonencode" || len(call.Args) != 1 {
		return nil
	}
	obj, _ := call.Args[0].(*hclsyntax.ObjectConsExpr)
	return obj
}

// redriveItem returns the rendering of item key of a redrive policy object.
func (m *tfModule) redriveItem(obj *hclsyntax.ObjectConsExpr, key string, ctx *hcl.EvalContext) string {
	if obj == nil {
		return ""
	}
	for _, item := range obj.Items {
		if k, ok := item.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); ok && hcl.ExprAsKeyword(k.Wrapped) == key {
			return m.norm(item.ValueExpr, ctx)
		}
	}
	return ""
}

// add files one top-level block.
func (m *tfModule) add(b *hclsyntax.Block) error {
	key := ""
	switch {
	case b.Type == "locals":
		for name, a := range b.Body.Attributes {
			m.locals[name] = a
		}
		return nil
	case b.Type == "resource" && len(b.Labels) == 2:
		key = b.Labels[0] + "." + b.Labels[1]
	case b.Type == "data" && len(b.Labels) == 2:
		key = "data." + b.Labels[0] + "." + b.Labels[1]
	case b.Type == "variable" && len(b.Labels) == 1:
		key = "var." + b.Labels[0]
	case b.Type == "output" && len(b.Labels) == 1:
		key = "output." + b.Labels[0]
	case b.Type == "terraform", b.Type == "provider":
		return nil
	default:
		return fmt.Errorf("unexpected block %s %v", b.Type, b.Labels)
	}
	if m.blocks[key] != nil {
		return fmt.Errorf("%s defined twice", key)
	}
	m.blocks[key] = b
	return nil
}

// names returns the sorted names of the resources of type typ.
func (m *tfModule) names(typ string) []string {
	var out []string
	for key, b := range m.blocks {
		if b.Type == "resource" && b.Labels[0] == typ {
			out = append(out, strings.TrimPrefix(key, typ+"."))
		}
	}
	slices.Sort(out)
	return out
}

// describe adds the block with the given key to s.
func (m *tfModule) describe(s *stack, key string) {
	b := m.blocks[key]
	if b.Type == "output" {
		if a := b.Body.Attributes["value"]; a != nil {
			s.outputs[b.Labels[0]] = m.norm(a.Expr, m.ctx)
		}
		return
	}
	if b.Type != "resource" {
		return
	}
	for _, in := range m.instances(b) {
		switch b.Labels[0] {
		case "aws_apigatewayv2_route":
			s.routes = append(s.routes, route{m.str(in, "api_id"), m.str(in, "route_key"), m.str(in, "target"), m.str(in, "api_key_required") == "true"})
		case "aws_apigatewayv2_integration":
			s.integrations[tokIntegration(b.Labels[1])] = integration{m.str(in, "api_id"), m.str(in, "integration_type"), m.str(in, "integration_uri"), m.str(in, "payload_format_version")}
		case "aws_apigatewayv2_deployment":
			s.deployments = append(s.deployments, deployment{m.str(in, "api_id"), m.routeKeysUsedBy(b.Body)})
		case "aws_apigatewayv2_stage":
			s.stages = append(s.stages, stage{m.str(in, "api_id"), m.str(in, "name"), m.str(in, "deployment_id")})
		case "aws_lambda_permission":
			s.permissions = append(s.permissions, permission{m.str(in, "action"), m.str(in, "function_name"), m.str(in, "principal"), m.str(in, "source_arn")})
		case "aws_lambda_function":
			s.functions = append(s.functions, m.function(in))
		case "aws_dynamodb_table":
			s.tables = append(s.tables, m.table(in))
		case "aws_cloudwatch_log_group":
			s.logGroups = append(s.logGroups, logGroup{m.str(in, "name"), m.str(in, "retention_in_days")})
		case "aws_sqs_queue":
			redrive := m.redrive(in.body)
			arn := map[bool]string{false: tokQueue, true: tokDLQ}[m.deadQueue[b.Labels[1]]]
			s.queues = append(s.queues, queue{arn, m.redriveItem(redrive, "deadLetterTargetArn", in.ctx), m.redriveItem(redrive, "maxReceiveCount", in.ctx), m.str(in, "visibility_timeout_seconds")})
		case "aws_lambda_event_source_mapping":
			mp := mapping{source: m.str(in, "event_source_arn"), function: m.str(in, "function_name"), batchSize: m.str(in, "batch_size"), responseTypes: m.strs(in, "function_response_types")}
			for _, sc := range blocksOf(in.body, "scaling_config") {
				mp.maxConcurrency = m.str(tfInstance{sc.Body, in.ctx}, "maximum_concurrency")
			}
			s.mappings = append(s.mappings, mp)
		case "aws_api_gateway_api_key":
			s.apiKeys++
		case "aws_api_gateway_usage_plan_key":
			s.planKeys++
		case "aws_api_gateway_usage_plan":
			var up usagePlan
			for _, as := range blocksOf(in.body, "api_stages") {
				up.apiStages = append(up.apiStages, m.str(tfInstance{as.Body, in.ctx}, "api_id")+"/"+m.str(tfInstance{as.Body, in.ctx}, "stage"))
			}
			s.usagePlans = append(s.usagePlans, up)
		case "aws_iam_role_policy":
			s.statements = append(s.statements, m.rolePolicy(s, key, in)...)
		case "aws_iam_role":
			if in.body.Attributes["managed_policy_arns"] != nil || len(blocksOf(in.body, "inline_policy")) > 0 {
				s.extraPolicy = append(s.extraPolicy, key+" managed_policy_arns/inline_policy")
			}
		case "aws_iam_role_policy_attachment", "aws_iam_policy_attachment", "aws_iam_role_policies_exclusive":
			s.extraPolicy = append(s.extraPolicy, key)
		}
	}
}

// rolePolicy returns the statements of an aws_iam_role_policy, which must take its
// policy from an aws_iam_policy_document of this module.
func (m *tfModule) rolePolicy(s *stack, key string, in tfInstance) []statement {
	var doc *hclsyntax.Block
	if a := in.body.Attributes["policy"]; a != nil {
		if t, ok := a.Expr.(*hclsyntax.ScopeTraversalExpr); ok {
			if names := traversalNames(t.Traversal); len(names) == 4 && names[1] == "aws_iam_policy_document" && names[3] == "json" {
				doc = m.blocks["data.aws_iam_policy_document."+names[2]]
			}
		}
	}
	if doc == nil {
		s.extraPolicy = append(s.extraPolicy, key+" (policy is not an aws_iam_policy_document)")
		return nil
	}
	var out []statement
	for _, sb := range blocksOf(doc.Body, "statement") {
		st := tfInstance{sb.Body, m.ctx}
		effect := m.str(st, "effect")
		if effect == "" {
			effect = "Allow"
		}
		_, na := sb.Body.Attributes["not_actions"]
		_, nr := sb.Body.Attributes["not_resources"]
		out = append(out, statement{effect, m.strs(st, "actions"), m.strs(st, "resources"), na || nr})
	}
	return out
}

func (m *tfModule) function(in tfInstance) function {
	f := function{
		name: m.str(in, "function_name"), handler: m.str(in, "handler"), runtime: m.str(in, "runtime"),
		code: m.str(in, "filename"), archs: m.strs(in, "architectures"), env: map[string]string{},
	}
	for _, lc := range blocksOf(in.body, "logging_config") {
		f.logGroup = m.str(tfInstance{lc.Body, in.ctx}, "log_group")
	}
	for _, env := range blocksOf(in.body, "environment") {
		if a := env.Body.Attributes["variables"]; a != nil {
			if obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr); ok {
				for _, item := range obj.Items {
					k, diags := item.KeyExpr.Value(nil)
					if !diags.HasErrors() && k.Type() == cty.String {
						f.env[k.AsString()] = m.norm(item.ValueExpr, in.ctx)
					}
				}
			}
		}
	}
	return f
}

func (m *tfModule) table(in tfInstance) table {
	t := table{billing: m.str(in, "billing_mode"), hash: m.str(in, "hash_key"), rangeKey: m.str(in, "range_key"), attrs: map[string]string{}}
	for _, a := range blocksOf(in.body, "attribute") {
		ai := tfInstance{a.Body, in.ctx}
		t.attrs[m.str(ai, "name")] = m.str(ai, "type")
	}
	for _, g := range blocksOf(in.body, "global_secondary_index") {
		gi := tfInstance{g.Body, in.ctx}
		t.gsis = append(t.gsis, index{m.str(gi, "name"), m.str(gi, "hash_key"), m.str(gi, "range_key")})
	}
	for _, ttl := range blocksOf(in.body, "ttl") {
		ti := tfInstance{ttl.Body, in.ctx}
		t.ttlAttr, t.ttlOn = m.str(ti, "attribute_name"), m.str(ti, "enabled") == "true"
	}
	return t
}

// routeKeysUsedBy returns the route keys of every aws_apigatewayv2_route the body
// refers to (in triggers, depends_on or anywhere else): those it waits for.
func (m *tfModule) routeKeysUsedBy(body *hclsyntax.Body) []string {
	var keys []string
	walkExprs(body, func(e hclsyntax.Expression) {
		for _, t := range hclsyntax.Variables(e) {
			names := traversalNames(t)
			if len(names) < 2 || names[0] != "aws_apigatewayv2_route" {
				continue
			}
			if b := m.blocks["aws_apigatewayv2_route."+names[1]]; b != nil {
				for _, in := range m.instances(b) {
					keys = append(keys, m.str(in, "route_key"))
				}
			}
		}
	})
	return keys
}

// instances expands a block's for_each (a set or map of literals) into its instances.
func (m *tfModule) instances(b *hclsyntax.Block) []tfInstance {
	fe := b.Body.Attributes["for_each"]
	if fe == nil {
		return []tfInstance{{b.Body, m.ctx}}
	}
	v, diags := fe.Expr.Value(m.ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() || !(v.Type().IsSetType() || v.Type().IsMapType() || v.Type().IsObjectType()) {
		return nil // not expandable statically: the checks then find its instances missing
	}
	var out []tfInstance
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		if v.Type().IsSetType() {
			k = val
		}
		ctx := m.ctx.NewChild()
		ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": val})}
		out = append(out, tfInstance{b.Body, ctx})
	}
	return out
}

// str returns an attribute of in as a string: its value if it can be evaluated, else
// its rendering with tokens; "" if absent.
func (m *tfModule) str(in tfInstance, name string) string {
	a := in.body.Attributes[name]
	if a == nil {
		return ""
	}
	return m.norm(a.Expr, in.ctx)
}

// strs returns a list attribute of in, each element as str would.
func (m *tfModule) strs(in tfInstance, name string) []string {
	a := in.body.Attributes[name]
	if a == nil {
		return nil
	}
	tuple, ok := a.Expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return []string{m.norm(a.Expr, in.ctx)}
	}
	var out []string
	for _, e := range tuple.Exprs {
		out = append(out, m.norm(e, in.ctx))
	}
	return out
}

// norm renders e as a string: its value when it evaluates to a primitive, else with
// references replaced by tokens.
func (m *tfModule) norm(e hclsyntax.Expression, ctx *hcl.EvalContext) string {
	if v, diags := e.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() && !v.IsNull() && v.Type().IsPrimitiveType() {
		s, err := convert.Convert(v, cty.String)
		if err == nil {
			return s.AsString()
		}
	}
	switch e := e.(type) {
	case *hclsyntax.TemplateExpr:
		var b strings.Builder
		for _, p := range e.Parts {
			b.WriteString(m.norm(p, ctx))
		}
		return b.String()
	case *hclsyntax.TemplateWrapExpr:
		return m.norm(e.Wrapped, ctx)
	case *hclsyntax.ScopeTraversalExpr:
		return m.token(e.Traversal, ctx)
	case *hclsyntax.FunctionCallExpr:
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = m.norm(a, ctx)
		}
		if e.Name == "replace" && len(args) == 3 {
			return strings.ReplaceAll(args[0], args[1], args[2])
		}
		return e.Name + "(" + strings.Join(args, ", ") + ")"
	}
	return tokOther
}

// token is what a reference stands for (see the tokens in deploy_test.go).
func (m *tfModule) token(t hcl.Traversal, ctx *hcl.EvalContext) string {
	names := traversalNames(t)
	if len(names) == 2 && names[0] == "local" && m.locals[names[1]] != nil {
		return m.norm(m.locals[names[1]].Expr, ctx)
	}
	if len(names) < 3 {
		return tokOther
	}
	typ, name, attr := names[0], names[1], names[2]
	switch typ + "." + attr {
	case "aws_apigatewayv2_api.id":
		return m.apiTokens[name]
	case "aws_apigatewayv2_api.execution_arn":
		return "arn:" + tokOther + ":execute-api:" + tokOther + ":" + tokOther + ":" + m.apiTokens[name]
	case "aws_apigatewayv2_api.api_endpoint":
		scheme := map[string]string{tokWS: "wss://", tokHTTP: "https://"}[m.apiTokens[name]]
		return scheme + m.apiTokens[name] + ".execute-api." + tokOther + "." + tokOther
	case "aws_dynamodb_table.arn":
		return tokTable
	case "aws_dynamodb_table.name", "aws_dynamodb_table.id":
		return tokTableName
	case "aws_lambda_function.arn", "aws_lambda_function.function_name":
		return tokFn
	case "aws_lambda_function.invoke_arn":
		return "arn:" + tokOther + ":apigateway:" + tokOther + ":lambda:path/2015-03-31/functions/" + tokFn + "/invocations"
	case "aws_apigatewayv2_integration.id":
		return tokIntegration(name)
	case "aws_sqs_queue.arn":
		return map[bool]string{false: tokQueue, true: tokDLQ}[m.deadQueue[name]]
	case "aws_sqs_queue.url", "aws_sqs_queue.id":
		return map[bool]string{false: tokQueueURL, true: tokDLQURL}[m.deadQueue[name]]
	case "aws_cloudwatch_log_group.arn":
		return tokLogArn
	case "aws_cloudwatch_log_group.name":
		return tokLog
	}
	return tokOther
}

// dangling lists references to variables, locals, resources and data sources that the
// module does not define (terraform validate would; there is no terraform binary here).
func (m *tfModule) dangling() []string {
	var bad []string
	check := func(where string, e hclsyntax.Expression) {
		for _, t := range hclsyntax.Variables(e) {
			names := traversalNames(t)
			key := ""
			switch names[0] {
			case "each", "path", "count", "self", "terraform":
				continue
			case "var":
				key = "var." + at(names, 1)
			case "local":
				if m.locals[at(names, 1)] != nil {
					continue
				}
				key = "local." + at(names, 1)
			case "data":
				key = "data." + at(names, 1) + "." + at(names, 2)
			default:
				key = names[0] + "." + at(names, 1)
			}
			if m.blocks[key] == nil {
				bad = append(bad, fmt.Sprintf("%q in %s", key, where))
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(m.blocks)) {
		body := m.blocks[key].Body
		if strings.HasPrefix(key, "var.") { // a variable's type is a type expression, not references
			body = &hclsyntax.Body{Attributes: maps.Clone(body.Attributes), Blocks: body.Blocks}
			delete(body.Attributes, "type")
		}
		walkExprs(body, func(e hclsyntax.Expression) { check(key, e) })
	}
	for _, name := range slices.Sorted(maps.Keys(m.locals)) {
		check("local."+name, m.locals[name].Expr)
	}
	return bad
}

// walkExprs calls fn on the expression of every attribute in body and its nested blocks.
func walkExprs(body *hclsyntax.Body, fn func(hclsyntax.Expression)) {
	for _, name := range slices.Sorted(maps.Keys(body.Attributes)) {
		fn(body.Attributes[name].Expr)
	}
	for _, b := range body.Blocks {
		walkExprs(b.Body, fn)
	}
}

func blocksOf(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// traversalNames returns the root and attribute names of t ("aws_x", "name", "arn").
func traversalNames(t hcl.Traversal) []string {
	names := []string{t.RootName()}
	for _, step := range t[1:] {
		if a, ok := step.(hcl.TraverseAttr); ok {
			names = append(names, a.Name)
		}
	}
	return names
}

func at(names []string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return ""
}

// tfToSet is Terraform's toset, for lists of strings.
var tfToSet = ctyfunc.New(&ctyfunc.Spec{
	Params: []ctyfunc.Parameter{{Name: "v", Type: cty.DynamicPseudoType}},
	Type:   ctyfunc.StaticReturnType(cty.Set(cty.String)),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return convert.Convert(args[0], cty.Set(cty.String))
	},
})

func readTerraform(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(terraformDir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files in %s: %v", terraformDir, err)
	}
	files := map[string]string{}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = string(src)
	}
	return files
}

func TestTerraform(t *testing.T) {
	files := readTerraform(t)
	for _, want := range []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf"} {
		if _, ok := files[filepath.Join(terraformDir, want)]; !ok {
			t.Errorf("%s/%s missing", terraformDir, want)
		}
	}
	s, err := loadTerraform(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range runChecks(s, checks(relayRoutes, tfOutputs...)) {
		t.Error(err)
	}
}

// TestTerraformChecksCatchBreakage feeds the checks broken copies of the Terraform.
func TestTerraformChecksCatchBreakage(t *testing.T) {
	files := readTerraform(t)
	for _, m := range []mutation{
		mut("route removed", `"send", "subscribe"`, `"subscribe"`, `route "send" missing`),
		mut("route renamed", `"unsubscribe", "publish",`, `"unsubscribe", "Publish",`, `route "Publish" is not one the relay serves`),
		mut("no key on $connect", `api_key_required = each.key == "$connect"`, `api_key_required = false`, `route "$connect": API key required = false`),
		mut("key on every route", `api_key_required = each.key == "$connect"`, `api_key_required = true`, `route "loopback": API key required = true`),
		mut("key selection", `"$request.header.x-api-key"`, `"$request.querystring.key"`, "API key selection"),
		mut("integration type", "  api_id           = aws_apigatewayv2_api.websocket.id\n  integration_type = \"AWS_PROXY\"", "  api_id           = aws_apigatewayv2_api.websocket.id\n  integration_type = \"MOCK\"", "want AWS_PROXY"),
		mut("route on other integration", `target           = "integrations/${aws_apigatewayv2_integration.websocket.id}"`, `target           = "integrations/${aws_apigatewayv2_integration.http.id}"`, "integration belongs to API {http}"),
		mut("deployment races routes", `routes = sha1(join(",", [for r in aws_apigatewayv2_route.websocket : "${r.route_key}=${r.target}"]))`, `routes = "fixed"`, "no WebSocket deployment depends on every route"),
		mut("permission too narrow", `execution_arn}/${var.stage}/*"`, `execution_arn}/${var.stage}/$connect"`, `route "loopback": no permission`),
		mut("permission for other API", "source_arn    = \"${aws_apigatewayv2_api.websocket.execution_arn}", "source_arn    = \"${aws_apigatewayv2_api.http.execution_arn}", `route "$connect": no permission`),
		mut("http permission missing", `/*/POST/channels/*"`, `/*/PUT/channels/*"`, "HTTP API invoke"),
		mut("connections any API", `"${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage}/POST/@connections/*"`, `"arn:aws:execute-api:*:*:*/${var.stage}/POST/@connections/*"`, "not this WebSocket API's @connections"),
		mut("resource star", `resources = ["${aws_cloudwatch_log_group.relay.arn}:*"]`, `resources = ["*"]`, `resource "*" is every resource`),
		mut("dynamodb star", `"dynamodb:Query",`, `"dynamodb:*",`, `wildcard action "dynamodb:*"`),
		mut("scan", `"dynamodb:Query",`, `"dynamodb:Query", "dynamodb:Scan",`, `"dynamodb:Scan" is not one the relay needs`),
		mut("any table", `"${aws_dynamodb_table.channels.arn}/index/byConnection"`, `"arn:aws:dynamodb:*:*:table/*"`, "not this table or its index"),
		mut("inline json policy", "policy = data.aws_iam_policy_document.relay.json", "policy = jsonencode({})", "not an aws_iam_policy_document"),
		mut("managed policy", "resource \"aws_iam_role_policy\" \"relay\" {", "resource \"aws_iam_role_policy_attachment\" \"admin\" {\n  role       = aws_iam_role.relay.name\n  policy_arn = \"arn:aws:iam::aws:policy/AdministratorAccess\"\n}\n\nresource \"aws_iam_role_policy\" \"relay\" {", "aws_iam_role_policy_attachment.admin"),
		mut("sqs star", `"sqs:ReceiveMessage",`, `"sqs:*",`, `wildcard action "sqs:*"`),
		mut("purge", `"sqs:ReceiveMessage",`, `"sqs:ReceiveMessage", "sqs:PurgeQueue",`, `"sqs:PurgeQueue" is not one the relay needs`),
		mut("any queue", "resources = [aws_sqs_queue.fanout.arn]", `resources = ["arn:aws:sqs:*:*:*"]`, "not the fan-out queue"),
		mut("dead-letter queue granted", "resources = [aws_sqs_queue.fanout.arn]", "resources = [aws_sqs_queue.fanout_dead_letter.arn]", "not the fan-out queue"),
		mut("send not granted", "      \"sqs:SendMessage\",\n", "", "not allowed sqs:SendMessage"),
		mut("no redrive", "  redrive_policy = jsonencode({\n    deadLetterTargetArn = aws_sqs_queue.fanout_dead_letter.arn\n    maxReceiveCount     = 5\n  })\n", "", "want the fan-out queue and its dead-letter queue"),
		mut("no partial batch", `function_response_types = ["ReportBatchItemFailures"]`, `function_response_types = []`, "want ReportBatchItemFailures"),
		mut("no max concurrency", "  scaling_config {\n    maximum_concurrency = var.worker_concurrency\n  }\n", "", "no maximum concurrency"),
		mut("queue env", "MONOLOGUE_QUEUE_URL           = aws_sqs_queue.fanout.url", "MONOLOGUE_QUEUE_URL           = aws_sqs_queue.fanout_dead_letter.url", "MONOLOGUE_QUEUE_URL"),
		mut("budget env", "      MONOLOGUE_CALLBACK_BUDGET     = tostring(var.callback_budget)\n", "", "MONOLOGUE_CALLBACK_BUDGET not set"),
		mut("handler", `handler          = "bootstrap"`, `handler          = "main"`, `handler "main"`),
		mut("runtime", `runtime          = "provided.al2023"`, `runtime          = "go1.x"`, `runtime "go1.x"`),
		mut("architecture", `architectures    = ["arm64"]`, `architectures    = ["x86_64"]`, "architectures [x86_64]"),
		mut("code", `"${path.module}/../../build/bootstrap.zip"`, `"${path.module}/bootstrap.zip"`, "is not build/bootstrap.zip"),
		mut("table env", "MONOLOGUE_TABLE               = aws_dynamodb_table.channels.name", "MONOLOGUE_TABLE               = \"channels\"", "MONOLOGUE_TABLE"),
		mut("billing", `billing_mode = "PAY_PER_REQUEST"`, `billing_mode = "PROVISIONED"`, "billing mode"),
		mut("ttl", `attribute_name = "ttl"`, `attribute_name = "expires"`, `TTL on "expires"`),
		mut("ttl off", "    enabled        = true", "    enabled        = false", "enabled false"),
		mut("index", `name            = "byConnection"`, `name            = "byConn"`, "no index byConnection"),
		mut("usage plan on other API", "    api_id = aws_apigatewayv2_api.websocket.id\n    stage", "    api_id = aws_apigatewayv2_api.http.id\n    stage", "no usage plan covers"),
		mut("no retention", "  retention_in_days = var.log_retention_days\n", "", "set a retention"),
		mut("logs elsewhere", "log_group  = aws_cloudwatch_log_group.relay.name", `log_group  = "/aws/lambda/other"`, "does not log to the log group"),
		mut("output", `output "http_publish_uri" {`, `output "publish_uri" {`, "output http_publish_uri missing"),
		mut("undefined variable", `name          = var.stage`, `name          = var.stag`, `"var.stag"`),
		mut("undefined resource", "role             = aws_iam_role.relay.arn", "role             = aws_iam_role.lambda.arn", `"aws_iam_role.lambda"`),
	} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s, err := loadTerraform(m.apply(t, files))
			if err != nil {
				t.Fatal(err)
			}
			wantViolation(t, runChecks(s, checks(relayRoutes, tfOutputs...)), m.want)
		})
	}
}

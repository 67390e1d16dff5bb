package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/apigatewayv2"
	"github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/cloudformation/lambda"
	"github.com/awslabs/goformation/v7/cloudformation/logs"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"
)

const samTemplate = "sam/template.yaml"

// samOutputs are the outputs `make configure` and `make describe` read.
var samOutputs = []string{"WebSocketURI", "ApiKeyId", "HttpPublishURI"}

// samDoc is a SAM template read twice: typed by goformation, which resolves a !Ref to a
// parameter's default and drops every other reference, and raw, with the intrinsic
// functions kept (in long form), for what refers to what.
type samDoc struct {
	typed     *cloudformation.Template
	resources map[string]map[string]any // logical id → {Type, Properties, DependsOn}
	params    map[string]bool
	apiTokens map[string]string // logical id of an API → tokWS or tokHTTP
	deadQueue map[string]bool   // logical ids of the queues some queue redrives to
}

// loadSAM parses a SAM template and describes it as a stack.
func loadSAM(src []byte) (*stack, error) {
	typed, err := goformation.ParseYAML(src)
	if err != nil {
		return nil, fmt.Errorf("goformation: %w", err)
	}
	rawJSON, err := intrinsics.ProcessYAML(src, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("raw template: %w", err)
	}
	var raw struct {
		Parameters map[string]any
		Conditions map[string]any
		Resources  map[string]map[string]any
		Outputs    map[string]map[string]any
	}
	if err := json.Unmarshal(rawJSON, &raw); err != nil {
		return nil, fmt.Errorf("raw template: %w", err)
	}
	d := &samDoc{typed: typed, resources: raw.Resources, params: map[string]bool{}, apiTokens: map[string]string{}, deadQueue: map[string]bool{}}
	for _, r := range raw.Resources {
		props, _ := r["Properties"].(map[string]any)
		redrive, _ := props["RedrivePolicy"].(map[string]any)
		if target, ok := redrive["deadLetterTargetArn"].(map[string]any); ok {
			if parts := strList(target["Fn::GetAtt"]); len(parts) > 0 {
				id, _, _ := strings.Cut(parts[0], ".")
				d.deadQueue[id] = true
			}
		}
	}
	for p := range raw.Parameters {
		d.params[p] = true
	}
	for id, r := range raw.Resources {
		if c, ok := r["Condition"].(string); ok && raw.Conditions[c] == nil {
			return nil, fmt.Errorf("resource %s: undefined condition %q", id, c)
		}
	}
	s := &stack{apis: map[string]api{}, integrations: map[string]integration{}, outputs: map[string]string{}}
	for _, id := range slices.Sorted(maps.Keys(typed.Resources)) {
		if a, ok := typed.Resources[id].(*apigatewayv2.Api); ok {
			tok := map[string]string{"WEBSOCKET": tokWS, "HTTP": tokHTTP}[deref(a.ProtocolType)]
			if _, dup := s.apis[tok]; dup || tok == "" {
				return nil, fmt.Errorf("API %s: a second %q API", id, deref(a.ProtocolType))
			}
			d.apiTokens[id] = tok
			s.apis[tok] = api{deref(a.ProtocolType), deref(a.RouteSelectionExpression), deref(a.ApiKeySelectionExpression)}
		}
	}
	routeKeys := map[string]string{} // logical id → route key
	for id, r := range typed.Resources {
		if r, ok := r.(*apigatewayv2.Route); ok {
			routeKeys[id] = r.RouteKey
		}
	}
	for _, id := range slices.Sorted(maps.Keys(typed.Resources)) {
		d.describe(s, id, routeKeys)
	}
	for name, o := range raw.Outputs {
		s.outputs[name] = d.norm(o["Value"])
	}
	s.dangling = d.dangling(raw.Resources, raw.Outputs)
	return s, nil
}

// describe adds resource id to s. A resource with a Condition may not exist, so only its
// policies count (they would apply whenever it does).
func (d *samDoc) describe(s *stack, id string, routeKeys map[string]string) {
	props, _ := d.resources[id]["Properties"].(map[string]any)
	typ, _ := d.resources[id]["Type"].(string)
	if _, conditional := d.resources[id]["Condition"]; conditional && !strings.HasPrefix(typ, "AWS::IAM::") {
		return
	}
	p := func(key string) string { return d.norm(props[key]) }
	switch r := d.typed.Resources[id].(type) {
	case *apigatewayv2.Route:
		s.routes = append(s.routes, route{p("ApiId"), r.RouteKey, p("Target"), r.ApiKeyRequired != nil && *r.ApiKeyRequired})
	case *apigatewayv2.Integration:
		s.integrations[tokIntegration(id)] = integration{p("ApiId"), r.IntegrationType, p("IntegrationUri"), deref(r.PayloadFormatVersion)}
	case *apigatewayv2.Deployment:
		var keys []string
		for _, dep := range strList(d.resources[id]["DependsOn"]) {
			if k, ok := routeKeys[dep]; ok {
				keys = append(keys, k)
			}
		}
		s.deployments = append(s.deployments, deployment{p("ApiId"), keys})
	case *apigatewayv2.Stage:
		s.stages = append(s.stages, stage{p("ApiId"), p("StageName"), p("DeploymentId")})
	case *lambda.Permission:
		s.permissions = append(s.permissions, permission{r.Action, p("FunctionName"), r.Principal, p("SourceArn")})
	case *dynamodb.Table:
		s.tables = append(s.tables, samTable(r))
	case *logs.LogGroup:
		s.logGroups = append(s.logGroups, logGroup{p("LogGroupName"), p("RetentionInDays")})
	case *serverless.Function:
		s.functions = append(s.functions, d.function(r, props))
		for i := range anyList(props["Policies"]) { // SAM policy templates, managed policies
			s.extraPolicy = append(s.extraPolicy, fmt.Sprintf("%s.Policies[%d]", id, i))
		}
	case *lambda.Function:
		s.functions = append(s.functions, function{}) // only AWS::Serverless::Function is expected
	}
	switch typ {
	case "AWS::IAM::Role":
		for i, arn := range anyList(props["ManagedPolicyArns"]) {
			s.extraPolicy = append(s.extraPolicy, fmt.Sprintf("%s.ManagedPolicyArns[%d] %s", id, i, d.norm(arn)))
		}
		for _, pol := range anyList(props["Policies"]) {
			pm, _ := pol.(map[string]any)
			s.statements = append(s.statements, d.statements(pm["PolicyDocument"])...)
		}
	case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
		s.statements = append(s.statements, d.statements(props["PolicyDocument"])...)
	case "AWS::SQS::Queue":
		redrive, _ := props["RedrivePolicy"].(map[string]any)
		s.queues = append(s.queues, queue{d.token(id, "Arn"), d.norm(redrive["deadLetterTargetArn"]), d.norm(redrive["maxReceiveCount"]), p("VisibilityTimeout")})
	case "AWS::Lambda::EventSourceMapping":
		scaling, _ := props["ScalingConfig"].(map[string]any)
		s.mappings = append(s.mappings, mapping{p("EventSourceArn"), p("FunctionName"), p("BatchSize"), d.norm(scaling["MaximumConcurrency"]), strList(props["FunctionResponseTypes"])})
	case "AWS::ApiGateway::ApiKey":
		s.apiKeys++
	case "AWS::ApiGateway::UsagePlanKey":
		s.planKeys++
	case "AWS::ApiGateway::UsagePlan":
		var up usagePlan
		for _, as := range anyList(props["ApiStages"]) {
			m, _ := as.(map[string]any)
			up.apiStages = append(up.apiStages, d.norm(m["ApiId"])+"/"+d.norm(m["Stage"]))
		}
		s.usagePlans = append(s.usagePlans, up)
	}
}

func (d *samDoc) function(f *serverless.Function, props map[string]any) function {
	fn := function{name: d.norm(props["FunctionName"]), handler: deref(f.Handler), runtime: deref(f.Runtime), archs: f.Architectures, env: map[string]string{}}
	if f.CodeUri != nil {
		fn.code = deref(f.CodeUri.String)
	}
	if lc, ok := props["LoggingConfig"].(map[string]any); ok {
		fn.logGroup = d.norm(lc["LogGroup"])
	}
	if env, ok := props["Environment"].(map[string]any); ok {
		vars, _ := env["Variables"].(map[string]any)
		for k, v := range vars {
			fn.env[k] = d.norm(v)
		}
	}
	return fn
}

func samTable(t *dynamodb.Table) table {
	tb := table{billing: deref(t.BillingMode), attrs: map[string]string{}}
	tb.hash, tb.rangeKey = samKeys(t.KeySchema)
	for _, a := range t.AttributeDefinitions {
		tb.attrs[a.AttributeName] = a.AttributeType
	}
	for _, g := range t.GlobalSecondaryIndexes {
		h, r := samKeys(g.KeySchema)
		tb.gsis = append(tb.gsis, index{g.IndexName, h, r})
	}
	if ttl := t.TimeToLiveSpecification; ttl != nil {
		tb.ttlAttr, tb.ttlOn = deref(ttl.AttributeName), ttl.Enabled
	}
	return tb
}

func samKeys(ks []dynamodb.Table_KeySchema) (hash, rangeKey string) {
	for _, k := range ks {
		switch k.KeyType {
		case "HASH":
			hash = k.AttributeName
		case "RANGE":
			rangeKey = k.AttributeName
		}
	}
	return hash, rangeKey
}

// statements reads the statements of a raw policy document.
func (d *samDoc) statements(doc any) []statement {
	m, _ := doc.(map[string]any)
	var out []statement
	for _, st := range anyList(m["Statement"]) {
		sm, _ := st.(map[string]any)
		s := statement{effect: d.norm(sm["Effect"]), actions: strList(sm["Action"])}
		for _, r := range anyList(sm["Resource"]) {
			s.resources = append(s.resources, d.norm(r))
		}
		_, na := sm["NotAction"]
		_, nr := sm["NotResource"]
		s.negated = na || nr
		out = append(out, s)
	}
	return out
}

// norm renders a raw template value as a string, references replaced by tokens.
func (d *samDoc) norm(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool, float64:
		return fmt.Sprint(v)
	case map[string]any:
		if len(v) != 1 {
			break
		}
		if name, ok := v["Ref"].(string); ok {
			return d.token(name, "")
		}
		if arg, ok := v["Fn::GetAtt"]; ok {
			parts := strList(arg)
			if len(parts) == 1 {
				parts = strings.SplitN(parts[0], ".", 2)
			}
			if len(parts) == 2 {
				return d.token(parts[0], parts[1])
			}
		}
		if arg, ok := v["Fn::Sub"]; ok {
			return d.sub(arg)
		}
	}
	return tokOther
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// sub renders an Fn::Sub: "text" or ["text", {name: value}].
func (d *samDoc) sub(arg any) string {
	text, vars := samSubArgs(arg)
	return subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			return "${" + lit + "}"
		}
		if v, ok := vars[name]; ok {
			return d.norm(v)
		}
		res, attr, _ := strings.Cut(name, ".")
		return d.token(res, attr)
	})
}

func samSubArgs(arg any) (string, map[string]any) {
	if l, ok := arg.([]any); ok && len(l) == 2 {
		text, _ := l[0].(string)
		vars, _ := l[1].(map[string]any)
		return text, vars
	}
	text, _ := arg.(string)
	return text, nil
}

// token is what a reference to resource id (attribute attr, "" for a Ref) stands for.
func (d *samDoc) token(id, attr string) string {
	typ, _ := d.resources[id]["Type"].(string)
	switch {
	case typ == "AWS::ApiGatewayV2::Api" && (attr == "" || attr == "ApiId"):
		return d.apiTokens[id]
	case typ == "AWS::ApiGatewayV2::Api" && attr == "ApiEndpoint" && d.apiTokens[id] == tokWS:
		return "wss://" + tokWS + ".execute-api." + tokOther + "." + tokOther
	case typ == "AWS::ApiGatewayV2::Api" && attr == "ApiEndpoint":
		return "https://" + d.apiTokens[id] + ".execute-api." + tokOther + "." + tokOther
	case typ == "AWS::DynamoDB::Table" && attr == "":
		return tokTableName
	case typ == "AWS::DynamoDB::Table" && attr == "Arn":
		return tokTable
	case (typ == "AWS::Serverless::Function" || typ == "AWS::Lambda::Function") && (attr == "" || attr == "Arn"):
		return tokFn
	case typ == "AWS::ApiGatewayV2::Integration" && attr == "":
		return tokIntegration(id)
	case typ == "AWS::SQS::Queue" && attr == "Arn":
		return map[bool]string{false: tokQueue, true: tokDLQ}[d.deadQueue[id]]
	case typ == "AWS::SQS::Queue" && attr == "":
		return map[bool]string{false: tokQueueURL, true: tokDLQURL}[d.deadQueue[id]]
	case typ == "AWS::Logs::LogGroup" && attr == "":
		return tokLog
	case typ == "AWS::Logs::LogGroup" && attr == "Arn":
		return tokLogArn
	}
	return tokOther
}

// dangling lists the targets of Ref, Fn::GetAtt, Fn::Sub and DependsOn that are neither
// a parameter, a resource nor a pseudo parameter; goformation does not check this.
func (d *samDoc) dangling(resources map[string]map[string]any, outputs map[string]map[string]any) []string {
	var bad []string
	need := func(name, where string) {
		if !d.params[name] && d.resources[name] == nil && !strings.HasPrefix(name, "AWS::") {
			bad = append(bad, fmt.Sprintf("%q in %s", name, where))
		}
	}
	var walk func(v any, where string)
	walk = func(v any, where string) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e, where)
			}
		case map[string]any:
			if name, ok := v["Ref"].(string); ok && len(v) == 1 {
				need(name, where)
			}
			if arg, ok := v["Fn::GetAtt"]; ok && len(v) == 1 {
				if parts := strList(arg); len(parts) > 0 {
					res, _, _ := strings.Cut(parts[0], ".")
					need(res, where)
				}
			}
			if arg, ok := v["Fn::Sub"]; ok && len(v) == 1 {
				text, vars := samSubArgs(arg)
				for _, m := range subVar.FindAllStringSubmatch(text, -1) {
					res, _, _ := strings.Cut(m[1], ".")
					if _, ok := vars[res]; !ok && !strings.HasPrefix(res, "!") {
						need(res, where)
					}
				}
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k], where)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		for _, dep := range strList(resources[id]["DependsOn"]) {
			need(dep, id+".DependsOn")
		}
		walk(resources[id]["Properties"], id)
	}
	for _, name := range slices.Sorted(maps.Keys(outputs)) {
		walk(outputs[name], "output "+name)
	}
	return bad
}

// anyList returns v as a list: itself if it is one, else a list of v (nil: empty).
func anyList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// strList returns the strings in v, a string or a list.
func strList(v any) []string {
	var out []string
	for _, e := range anyList(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func readSAM(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile(samTemplate)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{samTemplate: string(src)}
}

func TestSAMTemplate(t *testing.T) {
	s, err := loadSAM([]byte(readSAM(t)[samTemplate]))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range runChecks(s, checks(relayRoutes, samOutputs...)) {
		t.Error(err)
	}
	if got := s.outputs["WebSocketURI"]; got != "wss://{ws}.execute-api.{x}.{x}/{x}" {
		t.Errorf("WebSocketURI = %q", got)
	}
}

// TestSAMChecksCatchBreakage feeds the checks broken copies of the template.
func TestSAMChecksCatchBreakage(t *testing.T) {
	src := readSAM(t)
	never := []string{"\nResources:\n", "\nConditions:\n  Never: !Equals [a, b]\n\nResources:\n"}
	for _, m := range []mutation{
		mut("route removed", "  LoopbackRoute:\n    Type: AWS::ApiGatewayV2::Route\n    Properties:\n      ApiId: !Ref WebSocketApi\n      RouteKey: loopback\n      Target: !Sub integrations/${RelayIntegration}\n", "", `route "loopback" missing`),
		mut("route renamed", "RouteKey: publish", "RouteKey: Publish", `route "Publish" is not one the relay serves`),
		mut("no key on $connect", "ApiKeyRequired: true", "ApiKeyRequired: false", `route "$connect": API key required = false`),
		mut("key selection", "ApiKeySelectionExpression: $request.header.x-api-key", "ApiKeySelectionExpression: $request.querystring.key", "API key selection"),
		mut("route selection", "RouteSelectionExpression: $request.body.action", "RouteSelectionExpression: $request.body.type", "route selection"),
		mut("integration type", "ApiId: !Ref WebSocketApi\n      IntegrationType: AWS_PROXY", "ApiId: !Ref WebSocketApi\n      IntegrationType: HTTP_PROXY", "want AWS_PROXY"),
		mut("target typo", "Target: !Sub integrations/${HttpIntegration}", "Target: !Sub integrations/${HttpIntegation}", `"HttpIntegation" in HttpPublishRoute`),
		mut("deployment races a route", "      - PresenceRoute\n    Properties:", "    Properties:", "no WebSocket deployment depends on every route"),
		mut("permission too narrow", "${WebSocketApi}/${Stage}/*", "${WebSocketApi}/${Stage}/$connect", `route "loopback": no permission`),
		mut("permission any API", "${AWS::AccountId}:${WebSocketApi}/${Stage}/*", "${AWS::AccountId}:*/${Stage}/*", `route "$connect": no permission`),
		mut("http permission missing", "${HttpApi}/*/POST/channels/*", "${HttpApi}/*/GET/channels/*", "HTTP API invoke"),
		mut("http payload format", `PayloadFormatVersion: "2.0"`, `PayloadFormatVersion: "1.0"`, "payload format"),
		mut("connections any API", "${WebSocketApi}/${Stage}/POST/@connections/*", "*/${Stage}/POST/@connections/*", "not this WebSocket API's @connections"),
		mut("connections any path", "${WebSocketApi}/${Stage}/GET/@connections/*", "${WebSocketApi}/*", "not this WebSocket API's @connections"),
		mut("resource star", "Resource: !GetAtt RelayLogGroup.Arn", `Resource: "*"`, `resource "*" is every resource`),
		mut("dynamodb star", "- dynamodb:Query\n", "- dynamodb:*\n", `wildcard action "dynamodb:*"`),
		mut("scan", "- dynamodb:Query\n", "- dynamodb:Query\n                  - dynamodb:Scan\n", `"dynamodb:Scan" is not one the relay needs`),
		mut("any table", "!Sub ${ChannelsTable.Arn}/index/byConnection", "!Sub arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*", "not this table or its index"),
		mut("not action", "                Action: execute-api:ManageConnections", "                NotAction: iam:*", "NotAction"),
		mut("missing grant", "                  - dynamodb:BatchWriteItem\n", "", "not allowed dynamodb:BatchWriteItem"),
		mut("managed policy", "      AssumeRolePolicyDocument:", "      ManagedPolicyArns:\n        - arn:aws:iam::aws:policy/AdministratorAccess\n      AssumeRolePolicyDocument:", "ManagedPolicyArns[0]"),
		mut("sqs star", "- sqs:ReceiveMessage\n", "- sqs:*\n", `wildcard action "sqs:*"`),
		mut("purge", "- sqs:ReceiveMessage\n", "- sqs:ReceiveMessage\n                  - sqs:PurgeQueue\n", `"sqs:PurgeQueue" is not one the relay needs`),
		mut("any queue", "Resource: !GetAtt FanoutQueue.Arn", `Resource: !Sub arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:*`, "not the fan-out queue"),
		mut("dead-letter queue granted", "Resource: !GetAtt FanoutQueue.Arn", "Resource: !GetAtt FanoutDeadLetterQueue.Arn", "not the fan-out queue"),
		mut("send not granted", "                  - sqs:SendMessage\n", "", "not allowed sqs:SendMessage"),
		mut("no redrive", "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt FanoutDeadLetterQueue.Arn\n        maxReceiveCount: 5\n", "", "want the fan-out queue and its dead-letter queue"),
		mut("no partial batch", "      FunctionResponseTypes:\n        - ReportBatchItemFailures\n", "", "want ReportBatchItemFailures"),
		mut("no max concurrency", "      ScalingConfig:\n        MaximumConcurrency: !Ref WorkerConcurrency\n", "", "no maximum concurrency"),
		mut("queue env", "MONOLOGUE_QUEUE_URL: !Ref FanoutQueue", "MONOLOGUE_QUEUE_URL: !Ref FanoutDeadLetterQueue", "MONOLOGUE_QUEUE_URL"),
		mut("budget env", "          MONOLOGUE_CALLBACK_BUDGET: !Sub \"${CallbackBudget}\"\n", "", "MONOLOGUE_CALLBACK_BUDGET not set"),
		mut("handler", "Handler: bootstrap", "Handler: main", `handler "main"`),
		mut("runtime", "Runtime: provided.al2023", "Runtime: provided.al2", `runtime "provided.al2"`),
		mut("architecture", "        - arm64", "        - x86_64", "architectures [x86_64]"),
		mut("code", "CodeUri: ../../build/bootstrap.zip", "CodeUri: ../../bootstrap.zip", "is not build/bootstrap.zip"),
		mut("table env", "MONOLOGUE_TABLE: !Ref ChannelsTable", "TABLE: !Ref ChannelsTable", "MONOLOGUE_TABLE"),
		mut("billing", "BillingMode: PAY_PER_REQUEST", "BillingMode: PROVISIONED", "billing mode"),
		mut("ttl", "AttributeName: ttl", "AttributeName: expires", `TTL on "expires"`),
		mut("index", "IndexName: byConnection", "IndexName: byConn", "no index byConnection"),
		mut("key schema", "        - AttributeName: connectionId\n          KeyType: RANGE", "        - AttributeName: connection\n          KeyType: RANGE", "want (channel, connectionId)"),
		mut("usage plan on other API", "- ApiId: !Ref WebSocketApi", "- ApiId: !Ref HttpApi", "no usage plan covers"),
		mut("no usage plan key", "  UsagePlanKey:\n    Type: AWS::ApiGateway::UsagePlanKey\n", "  UsagePlanKey:\n    Type: AWS::ApiGateway::UsagePlanKey\n    Condition: Never\n", "0 usage plan keys", never...),
		mut("conditional route", "  SendRoute:\n    Type: AWS::ApiGatewayV2::Route\n", "  SendRoute:\n    Type: AWS::ApiGatewayV2::Route\n    Condition: Never\n", `route "send" missing`, never...),
		mut("no retention", "      RetentionInDays: !Ref LogRetentionDays\n", "", "set a retention"),
		mut("logs elsewhere", "LogGroupName: !Sub /aws/lambda/${AWS::StackName}-relay", "LogGroupName: !Sub /aws/lambda/${AWS::StackName}", "does not log to the log group"),
		mut("output", "  HttpPublishURI:", "  PublishURI:", "output HttpPublishURI missing"),
		mut("dangling ref", "FunctionName: !Ref RelayFunction\n      Principal: apigateway.amazonaws.com\n      SourceArn: !Sub arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}", "FunctionName: !Ref RelayFunc\n      Principal: apigateway.amazonaws.com\n      SourceArn: !Sub arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}", `"RelayFunc"`),
	} {
		t.Run(m.name, func(t *testing.T) { // not parallel: goformation's parser shares a map
			s, err := loadSAM([]byte(m.apply(t, src)[samTemplate]))
			if err != nil {
				t.Fatal(err)
			}
			wantViolation(t, runChecks(s, checks(relayRoutes, samOutputs...)), m.want)
		})
	}
}

package deploy

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/monologue-go/monologue/wire"
)

// relayRoutes are the WebSocket routes the relay serves: the route keys that are not
// actions, then every action of the protocol (wire/PROTOCOL.md). They come from package
// wire, so an action added there fails the checks until sam/template.yaml and
// terraform/main.tf both have its route.
var relayRoutes = append([]string{wire.RouteConnect, wire.RouteDisconnect, wire.RouteDefault}, wire.Actions...)

const (
	httpPublishRoute   = "POST /channels/{channel}"
	routeSelection     = "$request.body.action"
	apiKeySelection    = "$request.header.x-api-key"
	connectionsActions = "execute-api:ManageConnections"
	gsiName            = "byConnection"
)

// dynamoActions are exactly the DynamoDB actions the channel store may use.
var dynamoActions = []string{
	"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
	"dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchWriteItem",
}

// sqsActions are exactly the SQS actions the function may use, on the fan-out queue
// only: SendMessage (SendMessageBatch, for publishes and retries) and what the event
// source mapping needs to feed it the queue. Nothing reads the dead-letter queue.
var sqsActions = []string{"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

// logsActions are the CloudWatch Logs actions the function may use on its own log group.
var logsActions = []string{"logs:CreateLogStream", "logs:PutLogEvents"}

// Tokens stand for references in normalised strings, so that SAM's
// "arn:${AWS::Partition}:execute-api:…:${WebSocketApi}/${Stage}/*" and Terraform's
// "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage}/*" both read
// "arn:{x}:execute-api:{x}:{x}:{ws}/{x}/*".
const (
	tokWS        = "{ws}"         // the WebSocket API's id
	tokHTTP      = "{http}"       // the HTTP API's id
	tokTable     = "{table}"      // the table's ARN
	tokTableName = "{table-name}" // the table's name
	tokFn        = "{fn}"         // the function (name or ARN)
	tokLog       = "{log}"        // the log group's name
	tokLogArn    = "{log-arn}"    // the log group's ARN
	tokQueue     = "{queue}"      // the fan-out queue's ARN
	tokQueueURL  = "{queue-url}"  // the fan-out queue's URL
	tokDLQ       = "{dlq}"        // the dead-letter queue's ARN
	tokDLQURL    = "{dlq-url}"    // the dead-letter queue's URL
	tokOther     = "{x}"          // anything else: parameters, pseudo parameters, other attributes
)

// tokIntegration stands for a reference to the integration named name.
func tokIntegration(name string) string { return "{integration:" + name + "}" }

// stack is the deployment as the checks see it, whichever tool describes it. Loaders
// (loadSAM, loadTerraform) fill it; strings that refer to resources are normalised with
// the tokens above.
type stack struct {
	apis         map[string]api // by token: tokWS, tokHTTP
	routes       []route
	integrations map[string]integration // by tokIntegration(name)
	deployments  []deployment
	stages       []stage
	permissions  []permission
	statements   []statement // every statement of every policy given to a role
	extraPolicy  []string    // policies the checks cannot scope: managed ones, SAM templates
	functions    []function
	tables       []table
	logGroups    []logGroup
	apiKeys      int
	usagePlans   []usagePlan
	planKeys     int
	outputs      map[string]string
	queues       []queue
	mappings     []mapping
	dangling     []string // references to things that do not exist
}

// queue is an SQS queue: its token (tokQueue or tokDLQ, by what refers to it), where its
// redrive policy sends messages and after how many receives, and its visibility timeout.
type queue struct {
	arn, deadLetterTarget, maxReceiveCount, visibilityTimeout string
}

// mapping is a Lambda event source mapping.
type mapping struct {
	source, function, batchSize, maxConcurrency string
	responseTypes                               []string
}

type api struct{ protocol, routeSelection, apiKeySelection string }

type route struct {
	api, key, target string
	apiKeyRequired   bool
}

type integration struct{ api, typ, uri, payloadFormat string }

// deployment is an API deployment and the route keys it waits for.
type deployment struct {
	api       string
	dependsOn []string
}

type stage struct{ api, name, deployment string }

type permission struct{ action, function, principal, sourceArn string }

type statement struct {
	effect             string
	actions, resources []string
	negated            bool // NotAction or NotResource
}

type function struct {
	name, handler, runtime, code, logGroup string
	archs                                  []string
	env                                    map[string]string
}

type table struct {
	billing, hash, rangeKey string
	attrs                   map[string]string // name → type
	gsis                    []index
	ttlAttr                 string
	ttlOn                   bool
}

type index struct{ name, hash, rangeKey string }

type logGroup struct{ name, retention string }

type usagePlan struct{ apiStages []string } // "api/stage"

// check is one rule over a stack; it returns every violation it finds.
type check struct {
	name string
	fn   func(*stack) []error
}

// checks returns every rule; routes are the WebSocket routes the stack must serve (the
// tests pass relayRoutes) and outputs the output names the tool must declare.
func checks(routes []string, outputs ...string) []check {
	return []check{
		{"references", checkReferences},
		{"websocket api", func(s *stack) []error { return checkWebSocketAPI(s, routes) }},
		{"routes", func(s *stack) []error { return checkRoutes(s, routes) }},
		{"http publish", checkHTTPPublish},
		{"iam", checkIAM},
		{"function", checkFunction},
		{"table", checkTable},
		{"api key", checkAPIKey},
		{"logs", checkLogs},
		{"queue", checkQueue},
		{"outputs", func(s *stack) []error { return checkOutputs(s, outputs) }},
	}
}

// runChecks returns every violation of every rule, each prefixed with its rule's name.
func runChecks(s *stack, cs []check) []error {
	var errs []error
	for _, c := range cs {
		for _, err := range c.fn(s) {
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
		}
	}
	return errs
}

func checkReferences(s *stack) []error {
	var errs []error
	for _, d := range s.dangling {
		errs = append(errs, fmt.Errorf("reference to undefined %s", d))
	}
	return errs
}

func checkWebSocketAPI(s *stack, routes []string) []error {
	a, ok := s.apis[tokWS]
	if !ok {
		return []error{errors.New("no WebSocket API")}
	}
	var errs []error
	if a.routeSelection != routeSelection {
		errs = append(errs, fmt.Errorf("route selection %q, want %q", a.routeSelection, routeSelection))
	}
	if a.apiKeySelection != apiKeySelection {
		errs = append(errs, fmt.Errorf("API key selection %q, want %q", a.apiKeySelection, apiKeySelection))
	}
	deployed := slices.ContainsFunc(s.stages, func(st stage) bool {
		return st.api == tokWS && st.name != "" && st.deployment != ""
	})
	if !deployed {
		errs = append(errs, errors.New("no stage with a deployment on the WebSocket API"))
	}
	complete := slices.ContainsFunc(s.deployments, func(d deployment) bool {
		return d.api == tokWS && !slices.ContainsFunc(routes, func(k string) bool { return !slices.Contains(d.dependsOn, k) })
	})
	if !complete {
		errs = append(errs, errors.New("no WebSocket deployment depends on every route (it could be made before them)"))
	}
	return errs
}

func checkRoutes(s *stack, routes []string) []error {
	var errs []error
	seen := map[string]bool{}
	for _, r := range s.routes {
		if r.api != tokWS {
			continue
		}
		if seen[r.key] {
			errs = append(errs, fmt.Errorf("route %q defined twice", r.key))
		}
		seen[r.key] = true
		if !slices.Contains(routes, r.key) {
			errs = append(errs, fmt.Errorf("route %q is not one the relay serves", r.key))
			continue
		}
		if r.apiKeyRequired != (r.key == "$connect") {
			errs = append(errs, fmt.Errorf("route %q: API key required = %v, want it on $connect only", r.key, r.apiKeyRequired))
		}
		if err := checkTarget(s, r); err != nil {
			errs = append(errs, err)
		}
		if !permitted(s, tokWS, tokOther+"/"+r.key) {
			errs = append(errs, fmt.Errorf("route %q: no permission lets this WebSocket API invoke the function", r.key))
		}
	}
	for _, k := range routes {
		if !seen[k] {
			errs = append(errs, fmt.Errorf("route %q missing from the WebSocket API", k))
		}
	}
	return errs
}

// checkTarget checks that r goes to an AWS_PROXY integration of the function on r's API.
func checkTarget(s *stack, r route) error {
	name, ok := strings.CutPrefix(r.target, "integrations/")
	in, found := s.integrations[name]
	switch {
	case !ok || !found:
		return fmt.Errorf("route %q: target %q is not an integration", r.key, r.target)
	case in.api != r.api:
		return fmt.Errorf("route %q: integration belongs to API %s, not %s", r.key, in.api, r.api)
	case in.typ != "AWS_PROXY":
		return fmt.Errorf("route %q: integration type %q, want AWS_PROXY", r.key, in.typ)
	case !strings.Contains(in.uri, tokFn):
		return fmt.Errorf("route %q: integration URI %q does not invoke the function", r.key, in.uri)
	}
	return nil
}

// permitted reports whether a Lambda permission lets API apiTok invoke the function for
// a request whose execute-api ARN ends in apiTok/path.
func permitted(s *stack, apiTok, path string) bool {
	return slices.ContainsFunc(s.permissions, func(p permission) bool {
		id, rest := arnAPI(p.sourceArn)
		return p.action == "lambda:InvokeFunction" && p.principal == "apigateway.amazonaws.com" &&
			p.function == tokFn && id == apiTok && globMatch(rest, path)
	})
}

func checkHTTPPublish(s *stack) []error {
	if a, ok := s.apis[tokHTTP]; !ok || a.protocol != "HTTP" {
		return []error{errors.New("no HTTP API")}
	}
	i := slices.IndexFunc(s.routes, func(r route) bool { return r.api == tokHTTP && r.key == httpPublishRoute })
	if i < 0 {
		return []error{fmt.Errorf("route %q missing from the HTTP API", httpPublishRoute)}
	}
	var errs []error
	r := s.routes[i]
	if err := checkTarget(s, r); err != nil {
		errs = append(errs, err)
	} else if pf := s.integrations[strings.TrimPrefix(r.target, "integrations/")].payloadFormat; pf != "2.0" {
		errs = append(errs, fmt.Errorf("route %q: payload format %q, want 2.0", r.key, pf))
	}
	if !permitted(s, tokHTTP, "$default/POST/channels/news") {
		errs = append(errs, fmt.Errorf("route %q: no permission lets the HTTP API invoke the function", r.key))
	}
	return errs
}

// checkIAM checks that the function's role may do what the relay needs and no more.
func checkIAM(s *stack) []error {
	var errs []error
	for _, p := range s.extraPolicy {
		errs = append(errs, fmt.Errorf("policy %s cannot be checked for least privilege; use inline statements", p))
	}
	granted := map[string]bool{}
	for i, st := range s.statements {
		if st.effect != "Allow" {
			continue
		}
		where := fmt.Sprintf("statement %d %v", i, st.actions)
		if st.negated {
			errs = append(errs, fmt.Errorf("%s: NotAction/NotResource grants too much", where))
		}
		for _, a := range st.actions {
			granted[a] = true
			if err := checkAction(a); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
		}
		if len(st.resources) == 0 {
			errs = append(errs, fmt.Errorf("%s: no resources", where))
		}
		for _, r := range st.resources {
			if err := checkResource(s, st.actions, r); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
		}
	}
	for _, a := range slices.Concat([]string{connectionsActions}, dynamoActions, sqsActions) {
		if !granted[a] {
			errs = append(errs, fmt.Errorf("the function is not allowed %s, which it needs", a))
		}
	}
	return errs
}

func checkAction(a string) error {
	switch {
	case strings.Contains(a, "*"):
		return fmt.Errorf("wildcard action %q", a)
	case a == connectionsActions, slices.Contains(dynamoActions, a), slices.Contains(logsActions, a), slices.Contains(sqsActions, a):
		return nil
	}
	return fmt.Errorf("action %q is not one the relay needs", a)
}

// connectionsPath is what may follow the API id in a ManageConnections resource: one stage
// (not a wildcard), a method of the management API, and the connections.
var connectionsPath = regexp.MustCompile(`^[^/*]+/(POST|GET|DELETE)/@connections/\*$`)

// checkResource checks one resource of a statement allowing actions.
func checkResource(s *stack, actions []string, r string) error {
	if r == "*" || strings.HasPrefix(r, "*") {
		return fmt.Errorf("resource %q is every resource", r)
	}
	for _, a := range actions {
		service, _, _ := strings.Cut(a, ":")
		switch service {
		case "execute-api":
			id, rest := arnAPI(r)
			if id != tokWS || !connectionsPath.MatchString(rest) {
				return fmt.Errorf("resource %q is not this WebSocket API's @connections", r)
			}
		case "dynamodb":
			if r != tokTable && r != tokTable+"/index/"+gsiName && r != tokTable+"/index/*" {
				return fmt.Errorf("resource %q is not this table or its index", r)
			}
		case "sqs":
			if r != tokQueue {
				return fmt.Errorf("resource %q is not the fan-out queue", r)
			}
		case "logs":
			if !strings.HasPrefix(r, tokLogArn) && !slices.ContainsFunc(s.logGroups, func(lg logGroup) bool {
				return lg.name != "" && r == "arn:"+tokOther+":logs:"+tokOther+":"+tokOther+":log-group:"+lg.name+":*"
			}) {
				return fmt.Errorf("resource %q is not the function's log group", r)
			}
		}
	}
	return nil
}

func checkFunction(s *stack) []error {
	if len(s.functions) != 1 {
		return []error{fmt.Errorf("%d functions, want 1", len(s.functions))}
	}
	f := s.functions[0]
	var errs []error
	if f.handler != "bootstrap" {
		errs = append(errs, fmt.Errorf("handler %q, want bootstrap", f.handler))
	}
	if f.runtime != "provided.al2023" {
		errs = append(errs, fmt.Errorf("runtime %q, want provided.al2023", f.runtime))
	}
	if !slices.Equal(f.archs, []string{"arm64"}) {
		errs = append(errs, fmt.Errorf("architectures %v, want [arm64]", f.archs))
	}
	if !strings.Contains(f.code, "../../build/bootstrap.zip") {
		errs = append(errs, fmt.Errorf("code %q is not build/bootstrap.zip", f.code))
	}
	if v := f.env["MONOLOGUE_TABLE"]; v != tokTableName {
		errs = append(errs, fmt.Errorf("MONOLOGUE_TABLE = %q, want the table's name", v))
	}
	if v := f.env["MONOLOGUE_PUBLISH_KEY"]; v == "" {
		errs = append(errs, errors.New("MONOLOGUE_PUBLISH_KEY not set"))
	}
	if v := f.env["MONOLOGUE_MANAGEMENT_ENDPOINT"]; !strings.HasPrefix(v, "https://"+tokWS+".execute-api.") {
		errs = append(errs, fmt.Errorf("MONOLOGUE_MANAGEMENT_ENDPOINT = %q, want this WebSocket API's", v))
	}
	if v := f.env["MONOLOGUE_QUEUE_URL"]; v != tokQueueURL {
		errs = append(errs, fmt.Errorf("MONOLOGUE_QUEUE_URL = %q, want the fan-out queue's URL", v))
	}
	for _, name := range []string{"MONOLOGUE_CALLBACK_BUDGET", "MONOLOGUE_WORKER_CONCURRENCY", "MONOLOGUE_FANOUT_INLINE_MAX"} {
		if f.env[name] == "" {
			errs = append(errs, fmt.Errorf("%s not set", name))
		}
	}
	return errs
}

// checkQueue checks the fan-out queue, its dead-letter queue and the mapping that feeds
// the queue to the function with partial batch responses and a bounded concurrency.
func checkQueue(s *stack) []error {
	var errs []error
	var main, dead *queue
	for i, q := range s.queues {
		switch q.arn {
		case tokQueue:
			main = &s.queues[i]
		case tokDLQ:
			dead = &s.queues[i]
		}
	}
	if len(s.queues) != 2 || main == nil || dead == nil {
		return []error{fmt.Errorf("%d queues, want the fan-out queue and its dead-letter queue", len(s.queues))}
	}
	if main.deadLetterTarget != tokDLQ {
		errs = append(errs, fmt.Errorf("fan-out queue redrives to %q, want the dead-letter queue", main.deadLetterTarget))
	}
	if main.maxReceiveCount == "" {
		errs = append(errs, errors.New("fan-out queue has no maxReceiveCount"))
	}
	if main.visibilityTimeout == "" {
		errs = append(errs, errors.New("fan-out queue has no visibility timeout (the default, 30 s, is shorter than six function timeouts)"))
	}
	if len(s.mappings) != 1 {
		return append(errs, fmt.Errorf("%d event source mappings, want 1", len(s.mappings)))
	}
	m := s.mappings[0]
	if m.source != tokQueue || m.function != tokFn {
		errs = append(errs, fmt.Errorf("event source mapping from %q to %q, want the fan-out queue to the function", m.source, m.function))
	}
	if !slices.Contains(m.responseTypes, "ReportBatchItemFailures") {
		errs = append(errs, fmt.Errorf("event source mapping response types %v, want ReportBatchItemFailures", m.responseTypes))
	}
	if m.maxConcurrency == "" {
		errs = append(errs, errors.New("event source mapping has no maximum concurrency: the callback budget is divided by it"))
	}
	return errs
}

func checkTable(s *stack) []error {
	if len(s.tables) != 1 {
		return []error{fmt.Errorf("%d tables, want 1", len(s.tables))}
	}
	t := s.tables[0]
	var errs []error
	if t.billing != "PAY_PER_REQUEST" {
		errs = append(errs, fmt.Errorf("billing mode %q, want PAY_PER_REQUEST", t.billing))
	}
	if t.hash != "channel" || t.rangeKey != "connectionId" {
		errs = append(errs, fmt.Errorf("key (%q, %q), want (channel, connectionId)", t.hash, t.rangeKey))
	}
	for _, a := range []string{"channel", "connectionId"} {
		if t.attrs[a] != "S" {
			errs = append(errs, fmt.Errorf("attribute %s has type %q, want S", a, t.attrs[a]))
		}
	}
	if !slices.Contains(t.gsis, index{gsiName, "connectionId", "channel"}) {
		errs = append(errs, fmt.Errorf("no index %s on (connectionId, channel) in %v", gsiName, t.gsis))
	}
	if t.ttlAttr != "ttl" || !t.ttlOn {
		errs = append(errs, fmt.Errorf("TTL on %q (enabled %v), want on ttl", t.ttlAttr, t.ttlOn))
	}
	return errs
}

func checkAPIKey(s *stack) []error {
	var errs []error
	if s.apiKeys != 1 {
		errs = append(errs, fmt.Errorf("%d API keys, want 1", s.apiKeys))
	}
	if s.planKeys != 1 {
		errs = append(errs, fmt.Errorf("%d usage plan keys, want 1", s.planKeys))
	}
	onWS := slices.ContainsFunc(s.usagePlans, func(p usagePlan) bool {
		return slices.ContainsFunc(p.apiStages, func(as string) bool { return strings.HasPrefix(as, tokWS+"/") })
	})
	if !onWS {
		errs = append(errs, errors.New("no usage plan covers the WebSocket API's stage"))
	}
	return errs
}

func checkLogs(s *stack) []error {
	if len(s.logGroups) != 1 {
		return []error{fmt.Errorf("%d log groups, want 1", len(s.logGroups))}
	}
	var errs []error
	if s.logGroups[0].retention == "" {
		errs = append(errs, errors.New("log group keeps logs forever; set a retention"))
	}
	// The function logs to the group its logging config names, else to /aws/lambda/NAME.
	lg := s.logGroups[0]
	for _, f := range s.functions {
		if f.logGroup != tokLog && (f.logGroup != "" || f.name == "" || lg.name != "/aws/lambda/"+f.name) {
			errs = append(errs, fmt.Errorf("function %q (logging to %q) does not log to the log group %q", f.name, f.logGroup, lg.name))
		}
	}
	return errs
}

func checkOutputs(s *stack, names []string) []error {
	var errs []error
	for _, n := range names {
		if s.outputs[n] == "" {
			errs = append(errs, fmt.Errorf("output %s missing", n))
		}
	}
	return errs
}

// arnAPI splits an execute-api ARN "arn:P:execute-api:R:A:ID/REST" into ID and REST; it
// returns two empty strings for anything else.
func arnAPI(arn string) (id, rest string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "execute-api" {
		return "", ""
	}
	id, rest, _ = strings.Cut(parts[5], "/")
	return id, rest
}

// globMatch reports whether s matches pattern, where * matches any run of characters
// (slashes too) and ? any one character, as in IAM and Lambda source ARNs.
func globMatch(pattern, s string) bool {
	re := regexp.QuoteMeta(pattern)
	re = strings.NewReplacer(`\*`, `.*`, `\?`, `.`).Replace(re)
	return regexp.MustCompile("^" + re + "$").MatchString(s)
}

// mutation is a deliberate break of a deployment file: old replaced by new (and each
// further old, new pair in more), and a fragment of the violation the checks must report.
type mutation struct {
	name, old, new, want string
	more                 []string
}

// mut makes a mutation; more holds further old, new pairs.
func mut(name, old, new, want string, more ...string) mutation {
	return mutation{name, old, new, want, more}
}

// apply returns files (name → content) with the mutation's replacements made. Each old
// must occur exactly once in all the files, so that a mutation cannot silently stop
// breaking anything when the files change.
func (m mutation) apply(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	out := maps.Clone(files)
	pairs := append([]string{m.old, m.new}, m.more...)
	for i := 0; i+1 < len(pairs); i += 2 {
		n, in := 0, ""
		for name, src := range out {
			if c := strings.Count(src, pairs[i]); c > 0 {
				n, in = n+c, name
			}
		}
		if n != 1 {
			t.Fatalf("mutation %q: %q occurs %d times, want 1", m.name, pairs[i], n)
		}
		out[in] = strings.Replace(out[in], pairs[i], pairs[i+1], 1)
	}
	return out
}

// wantViolation fails t unless one of errs contains want.
func wantViolation(t *testing.T, errs []error, want string) {
	t.Helper()
	for _, err := range errs {
		if strings.Contains(err.Error(), want) {
			return
		}
	}
	t.Errorf("no violation mentions %q; got %v", want, errs)
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"{x}/*", "{x}/loopback", true},
		{"*", "a/b/c", true},
		{"{x}/$connect", "{x}/loopback", false},
		{"*/POST/channels/*", "$default/POST/channels/news", true},
		{"*/GET/channels/*", "$default/POST/channels/news", false},
		{"a?c", "abc", true},
	} {
		if got := globMatch(c.pattern, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestArnAPI(t *testing.T) {
	id, rest := arnAPI("arn:{x}:execute-api:{x}:{x}:{ws}/{x}/POST/@connections/*")
	if id != tokWS || rest != "{x}/POST/@connections/*" {
		t.Errorf("arnAPI = %q, %q", id, rest)
	}
	if id, _ := arnAPI("arn:aws:dynamodb:r:a:table/t"); id != "" {
		t.Errorf("arnAPI of a table ARN = %q, want empty", id)
	}
}

# AWS deployment of monologue: build the Lambda, deploy it with SAM, read the stack back.
# Included by the root Makefile. Needs Go for `lambda`; the AWS CLI v2 and the SAM CLI
# (and AWS credentials) for the rest. See deploy/README.md.
#
#   make lambda                           build/bootstrap.zip for provided.al2023 on arm64
#   make deploy     STACK=my-monologue    build, then create or update the stack
#   make describe   STACK=my-monologue    the stack's outputs as a table
#   make configure  STACK=my-monologue    write .monologuerc (endpoint and API key)
#   make undeploy   STACK=my-monologue    delete the stack
#
# STAGE (default latest) names the WebSocket stage; REGION overrides the CLI's region;
# API_KEY sets the key (default: the stack's current key, or a new random one).

STACK   ?=
STAGE   ?= latest
REGION  ?=
API_KEY ?=

AWS_CLI      ?= aws
SAM_CLI      ?= sam
SAM_TEMPLATE ?= deploy/sam/template.yaml
LAMBDA_ZIP   ?= build/bootstrap.zip
RC_FILE      ?= .monologuerc

aws_region_flag = $(if $(REGION),--region $(REGION))
# Prints one output of the stack; $$1 is the output's key.
aws_stack_output = $(AWS_CLI) $(aws_region_flag) cloudformation describe-stacks --stack-name "$(STACK)" \
	--query "Stacks[0].Outputs[?OutputKey=='$$1'].OutputValue" --output text

.PHONY: lambda deploy undeploy describe configure aws-require-stack

lambda:
	mkdir -p build
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o build/bootstrap ./cmd/monologue-lambda
	go run ./deploy/lambdazip -o $(LAMBDA_ZIP) build/bootstrap

aws-require-stack:
	$(if $(strip $(STACK)),,$(error STACK is required, e.g. make $(or $(MAKECMDGOALS),deploy) STACK=my-monologue))

# The API key is a stack parameter so that the function can check it on HTTP publish:
# keep the deployed one unless API_KEY is given; on first deploy make a random one.
deploy: aws-require-stack lambda
	@set -e; out() { $(aws_stack_output); }; key="$(API_KEY)"; \
	if [ -z "$$key" ]; then \
	  id=$$(out ApiKeyId 2>/dev/null || true); \
	  if [ -n "$$id" ] && [ "$$id" != "None" ]; then \
	    key=$$($(AWS_CLI) $(aws_region_flag) apigateway get-api-key --api-key "$$id" --include-value --query value --output text); \
	  else \
	    key=$$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n'); \
	  fi; \
	fi; \
	echo "$(SAM_CLI) deploy --stack-name $(STACK) --parameter-overrides Stage=$(STAGE) ApiKeyValue=***"; \
	$(SAM_CLI) deploy --template-file $(SAM_TEMPLATE) --stack-name "$(STACK)" $(aws_region_flag) \
	  --capabilities CAPABILITY_IAM --resolve-s3 --no-fail-on-empty-changeset \
	  --parameter-overrides "Stage=$(STAGE)" "ApiKeyValue=$$key"

undeploy: aws-require-stack
	$(SAM_CLI) delete --stack-name "$(STACK)" $(aws_region_flag) --no-prompts

describe: aws-require-stack
	$(AWS_CLI) $(aws_region_flag) cloudformation describe-stacks --stack-name "$(STACK)" \
	  --query "Stacks[0].Outputs[].[OutputKey,OutputValue]" --output table

# Writes .monologuerc (the [opts] INI file clients read) for the deployed stack.
configure: aws-require-stack
	@set -e; out() { $(aws_stack_output); }; \
	endpoint=$$(out WebSocketURI); id=$$(out ApiKeyId); \
	if [ -z "$$endpoint" ] || [ "$$endpoint" = "None" ] || [ -z "$$id" ] || [ "$$id" = "None" ]; then \
	  echo "stack $(STACK) has no WebSocketURI/ApiKeyId outputs; is it deployed?" >&2; exit 1; \
	fi; \
	key=$$($(AWS_CLI) $(aws_region_flag) apigateway get-api-key --api-key "$$id" --include-value --query value --output text); \
	umask 077; printf '[opts]\nendpoint=%s\napiKey=%s\n' "$$endpoint" "$$key" > $(RC_FILE); \
	echo "wrote $(RC_FILE): endpoint=$$endpoint"

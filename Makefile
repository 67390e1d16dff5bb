# monologue — see README.md.
GO ?= go
TEST_TIMEOUT ?= 12m

.PHONY: run test check vet fmt build fuzz bench

## run: start the gateway on an embedded default (in memory, 127.0.0.1:8080)
run:
	$(GO) run ./cmd/monologue serve

## test: install what the tests need, then vet and run every test with the race detector
test: test-deps vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-deps: tools the tests start (Java for DynamoDB Local); npm packages install from the tests
test-deps:
	@scripts/test-deps.sh

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

build:
	$(GO) build -o build/monologue ./cmd/monologue

## fuzz: run the frame parser's fuzzer for a while (the seed corpus runs in make test)
fuzz:
	$(GO) test ./wire -run XXX -fuzz FuzzParse -fuzztime 60s

## bench: micro-benchmarks of the hot paths
bench:
	$(GO) test -run XXX -bench . -benchmem ./wire ./relay ./gateway .

-include deploy/aws.mk

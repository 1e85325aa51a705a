# ecr-guard: make demo runs the function locally on real events; make test runs every test.
SHELL := /bin/bash
GO ?= go
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
GOBIN := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
FUZZTIME ?= 20s

LAMBDA_BUILD := CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w"

.PHONY: all tools build test unit fuzz lint bench demo clean build-RemediateFunction build-SweepFunction

all: test

## tools: install what the tests need (the RIE) and check the preinstalled ones; fails loudly.
tools:
	@command -v $(GO) >/dev/null || { echo "ERROR: go is not installed" >&2; exit 1; }
	@python3 -c 'import moto.server' 2>/dev/null || { echo "ERROR: the moto server is missing: python3 -m pip install 'moto[server]'" >&2; exit 1; }
	@command -v cfn-lint >/dev/null || { echo "ERROR: cfn-lint is missing: python3 -m pip install cfn-lint" >&2; exit 1; }
	@command -v aws-lambda-rie >/dev/null || $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
	@command -v aws-lambda-rie >/dev/null || { echo "ERROR: aws-lambda-rie could not be installed" >&2; exit 1; }

## build: the Lambda artifacts for provided.al2023 on arm64.
build:
	$(LAMBDA_BUILD) -o .build/remediate/bootstrap ./functions/remediate
	$(LAMBDA_BUILD) -o .build/sweep/bootstrap ./functions/sweep

# Called by `sam build` (Metadata BuildMethod: makefile).
build-RemediateFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/remediate

build-SweepFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweep

## lint: formatting and vet.
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...

## test: everything: unit, moto integration, RIE end to end, template checks (cfn-lint), fuzz.
test: tools lint build
	$(GO) test -count=1 -timeout 12m ./...
	$(MAKE) fuzz

## fuzz: the decoder fuzz target, for a bounded time.
fuzz:
	$(GO) test ./internal/cloudtrail -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)

## bench: Go benchmarks.
bench: tools
	$(GO) test -run '^$$' -bench . -benchmem ./...

## demo: start moto, run the built function under the RIE, send events/ samples, print what happened.
demo: tools
	$(GO) run ./internal/demo

clean:
	rm -rf .build .aws-sam

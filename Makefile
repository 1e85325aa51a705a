# ecr-guard: make demo runs the function locally on real events; make test runs every test.
SHELL := /bin/bash
GO ?= go
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION := v0.8.2
# The versions the tests are written against: a newer moto accepts what
# 5.2.1 refuses, a newer cfn-lint warns about more.
MOTO_VERSION := 5.2.1
CFN_LINT_VERSION := 1.51.0
GOBIN := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
FUZZTIME ?= 20s
STRESS_RUNS ?= 5

LAMBDA_BUILD := CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w"

.PHONY: all tools staticcheck build test unit fuzz lint stress bench demo audit member-template clean build-RemediateFunction build-SweepFunction

all: test

## tools: install what the tests need (the RIE, staticcheck) and check the preinstalled ones; fails loudly.
tools: staticcheck
	@command -v $(GO) >/dev/null || { echo "ERROR: go is not installed" >&2; exit 1; }
	@python3 -c 'import moto.server' 2>/dev/null || { echo "ERROR: the moto server is missing: python3 -m pip install 'moto[server]==$(MOTO_VERSION)'" >&2; exit 1; }
	@v=$$(python3 -c 'import moto; print(moto.__version__)'); [ "$$v" = "$(MOTO_VERSION)" ] || { echo "ERROR: moto $$v is installed, the tests need $(MOTO_VERSION): python3 -m pip install 'moto[server]==$(MOTO_VERSION)'" >&2; exit 1; }
	@command -v cfn-lint >/dev/null || { echo "ERROR: cfn-lint is missing: python3 -m pip install cfn-lint==$(CFN_LINT_VERSION)" >&2; exit 1; }
	@cfn-lint --version | grep -qxF 'cfn-lint $(CFN_LINT_VERSION)' || { echo "ERROR: $$(cfn-lint --version) is installed, the tests need $(CFN_LINT_VERSION): python3 -m pip install cfn-lint==$(CFN_LINT_VERSION)" >&2; exit 1; }
	@$(GO) version -m "$$(command -v aws-lambda-rie)" 2>/dev/null | grep -qF '$(RIE_VERSION)' || $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
	@$(GO) version -m "$$(command -v aws-lambda-rie)" 2>/dev/null | grep -qF '$(RIE_VERSION)' || { echo "ERROR: aws-lambda-rie $(RIE_VERSION) is not the one on PATH: $$(command -v aws-lambda-rie)" >&2; exit 1; }

# staticcheck: the pinned version, installed when missing or another version is on PATH.
staticcheck:
	@staticcheck -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))' || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) || { echo "ERROR: staticcheck $(STATICCHECK_VERSION) could not be installed" >&2; exit 1; }
	@staticcheck -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))' || { echo "ERROR: staticcheck on PATH is not $(STATICCHECK_VERSION): $$(command -v staticcheck)" >&2; exit 1; }

## build: the Lambda artifacts for provided.al2023 on arm64.
build:
	$(LAMBDA_BUILD) -o .build/remediate/bootstrap ./functions/remediate
	$(LAMBDA_BUILD) -o .build/sweep/bootstrap ./functions/sweep

# Called by `sam build` (Metadata BuildMethod: makefile).
build-RemediateFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/remediate

build-SweepFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweep

## lint: formatting, vet and staticcheck.
lint: staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	staticcheck ./...

## test: everything: unit, moto integration, RIE end to end, template checks (cfn-lint), fuzz.
test: tools lint build
	$(GO) test -count=1 -timeout 12m ./...
	$(MAKE) fuzz

## fuzz: the decoder fuzz target, for a bounded time.
fuzz:
	$(GO) test ./internal/cloudtrail -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)

## stress: `make test` STRESS_RUNS times while a bounded loop of `go test ./...` keeps both
## cores busy; the load is stopped at the end (or on interrupt); fails if any run of make test fails.
stress: tools
	@load_log=$$(mktemp -t ecr-guard-stress-load.XXXXXX); \
	setsid bash -c 'for i in $$(seq 1 $$(( $(STRESS_RUNS) * 3 ))); do echo "=== load run $$i"; $(GO) test -count=1 -timeout 12m ./... || echo "=== load run $$i failed"; done' >"$$load_log" 2>&1 & load=$$!; \
	stop_load() { kill -TERM -- -$$load 2>/dev/null; wait $$load 2>/dev/null; }; \
	trap stop_load EXIT; trap 'exit 130' INT TERM; \
	failed=0; \
	for i in $$(seq 1 $(STRESS_RUNS)); do \
		echo "=== stress: make test, run $$i of $(STRESS_RUNS), under load (log: $$load_log)"; \
		$(MAKE) --no-print-directory test || { failed=$$((failed + 1)); echo "=== stress: run $$i FAILED"; }; \
	done; \
	stop_load; trap - EXIT; \
	echo "=== stress: $$failed of $(STRESS_RUNS) runs of make test failed; load: $$(grep -c '^=== load run [0-9]*$$' "$$load_log") go test runs started, $$(grep -c ' failed$$' "$$load_log") failed"; \
	[ $$failed -eq 0 ]

## bench: Go benchmarks.
bench: tools
	$(GO) test -run '^$$' -bench . -benchmem ./...

## demo: start moto, run the built function under the RIE, send events/ samples, print what happened.
demo: tools
	$(GO) run ./internal/demo

## audit: the registries' state as ecr-guard sees it, read-only, with your own AWS credentials and
## region (and MEMBER_ROLE_NAME, TARGET_ACCOUNTS, TARGET_REGIONS, the rules' variables); e.g.
## make audit ARGS="--format csv". Exit status of .build/audit: 0 compliant, 3 needs attention (would change, or no ROOT template), 1 error.
audit:
	@$(GO) build -o .build/audit ./internal/audit
	@.build/audit $(ARGS)

## member-template: the Scope=organization member template (the TemplateBody of template.yaml's
## StackSet) in .build/member-template.yaml, for the management account, which the StackSet skips.
member-template:
	$(GO) run ./internal/membertemplate -o .build/member-template.yaml

clean:
	rm -rf .build .aws-sam

# Meshwork — the whole mesh with `make run`, every test with `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := $(CURDIR)/bin
# Tools are pinned in tools/go.mod (and protoc-gen-go in contracts/go.mod, matching the runtime).
TOOLS_GO := cd $(CURDIR)/tools && GOWORK=off $(GO)
MODULES = $(shell $(GO) list -m -f '{{.Dir}}')

.PHONY: all build run lint test test-unit proto proto-check lint vet bench tools clean

all: test

$(BIN)/buf $(BIN)/protoc-gen-go-grpc $(BIN)/benchstat &: tools/go.mod tools/go.sum
	@mkdir -p $(BIN)
	$(TOOLS_GO) build -o $(BIN)/ github.com/bufbuild/buf/cmd/buf google.golang.org/grpc/cmd/protoc-gen-go-grpc \
		golang.org/x/perf/cmd/benchstat

# The clients `make run` suggests: grpcurl and the NATS CLI.
$(BIN)/grpcurl $(BIN)/nats &: tools/go.mod tools/go.sum
	@mkdir -p $(BIN)
	$(TOOLS_GO) build -o $(BIN)/ github.com/fullstorydev/grpcurl/cmd/grpcurl github.com/nats-io/natscli/nats

$(BIN)/protoc-gen-go: contracts/go.mod contracts/go.sum
	@mkdir -p $(BIN)
	cd contracts && $(GO) build -o $(BIN)/ google.golang.org/protobuf/cmd/protoc-gen-go

tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/grpcurl $(BIN)/nats

## build: every service, simulator and meshctl into bin/
build:
	$(GO) build -o $(BIN)/ ./platform/cmd/... $(patsubst %,./%/...,$(wildcard domains/*/cmd))

## run: the whole mesh on this machine (ARGS=--no-sim, ARGS="--only catalog,quality", ARGS="--port-offset 100")
run: build $(BIN)/grpcurl $(BIN)/nats
	$(BIN)/meshctl up $(ARGS)

## proto: regenerate contracts/gen/go from contracts/proto
proto: tools
	cd contracts && $(BIN)/buf lint && rm -rf gen/go && $(BIN)/buf generate

## proto-check: lint, breaking changes against main, and drift of the committed generated code
proto-check: tools
	./scripts/proto-check.sh

## lint: governance rules over every contract message, offline (meshctl lint --contracts)
lint:
	$(GO) run ./platform/cmd/meshctl lint --contracts

vet:
	$(GO) vet $(addsuffix /...,$(MODULES))

## test: every module's tests against real servers (the small chaos run included), proto checks, vet, and the race detector on platform/ (without the chaos run, which drives binaries)
test: proto-check lint vet
	$(GO) test -count=1 -timeout 15m $(addsuffix /...,$(MODULES))
	cd platform && $(GO) test -count=1 -race -timeout 15m -skip TestChaosSmall ./...

## chaos: the chaos suite: faults under a numbered load, counted per product (CHAOS=long for the long run; docs/chaos.md)
chaos: build
	$(BIN)/meshchaos --bin $(BIN) $(if $(filter long,$(CHAOS)),--long)

## bench: benchmarks behind docs/benchmarks.md
bench:
	./scripts/bench.sh

clean:
	rm -rf $(BIN)

# meshgate build and test entry points. `make test` is what CI runs; it
# installs what it needs itself.

GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 30s
export GOTOOLCHAIN ?= local
export GOFLAGS ?= -buildvcs=false

.PHONY: all build test test-short vet fmt-check golden fuzz bench bench-load bench-scale tools kube-control-plane demo

all: build

build:
	$(GO) build -o bin/meshgate ./cmd/meshgate

## tools: install what the tests use (Go modules, and Debian packages where missing).
tools:
	@$(GO) mod download
	@command -v curl >/dev/null 2>&1 || { \
		if command -v apt-get >/dev/null 2>&1; then \
			echo "installing curl"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl) >/dev/null; \
		fi; }
	@command -v chromium >/dev/null 2>&1 || { \
		if command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium (the live page's browser test)"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
		fi; }

## kube-control-plane: etcd and a kube-apiserver for the Kubernetes source's
## tests (the apiserver is built once, ~6 minutes, then cached).
kube-control-plane:
	@GO=$(GO) bash hack/kube-control-plane.sh >/dev/null

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## test: vet, gofmt check, and every test with the race detector.
test: tools kube-control-plane fmt-check vet
	$(GO) test -race -shuffle=on -timeout 20m $(PKGS)

test-short:
	$(GO) test -short $(PKGS)

## golden: regenerate golden files after an intended change.
golden:
	$(GO) test ./internal/translate/... -update

fuzz:
	$(GO) test ./internal/resource -run '^$$' -fuzz FuzzDecodeFile -fuzztime $(FUZZTIME)
	$(GO) test ./internal/dataplane/router -run '^$$' -fuzz FuzzRoute -fuzztime $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

## bench-load: meshgate side by side with HAProxy, nginx and Caddy under
## wrk and h2load on loopback (installs them with apt-get when missing;
## about 10 minutes; e.g. LOADBENCH_FLAGS="-reps 1 -out results.md").
## A load run, not a test: `make test` does not run it.
bench-load:
	$(GO) run ./bench/cmd/loadbench $(LOADBENCH_FLAGS)

## bench-scale: compile 10,000 VirtualServices over 1,000 hosts and
## 100,000 endpoints (time, peak heap, clusters reused on an endpoint change).
bench-scale:
	$(GO) test -run '^$$' -bench 'BenchmarkBuild|BenchmarkProcess' -benchtime 3x -benchmem ./internal/translate/ ./internal/pipeline/

demo:
	$(GO) run ./cmd/meshgate demo

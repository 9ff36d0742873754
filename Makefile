# headroom: `make help` lists the targets. `make test` and `make demo` set up what they need themselves.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Packages that must stay pure: no Kubernetes or controller-runtime imports.
PURE_PKGS := sizing jvm report reclaim backtest mode
GO_TEST_FLAGS ?= -count=1 -timeout=25m

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: ## Install Debian packages and build the local control plane tools (cached outside the clone)
	@hack/setup.sh

.PHONY: build
build: ## Build bin/headroom
	go build -trimpath -ldflags '$(LDFLAGS)' -o bin/headroom ./cmd/headroom

.PHONY: test
test: setup chart-test ## Run all unit and integration tests (real kube-apiserver, etcd, Prometheus, JVM)
	go test $(GO_TEST_FLAGS) ./...

.PHONY: chart-test
chart-test: setup ## Lint, render (golden files) and install the Helm chart against a real kube-apiserver
	cd charts/test && go vet ./... && go test $(GO_TEST_FLAGS) ./...

.PHONY: race
race: setup ## Run the concurrent packages' tests under the race detector
	go test -race $(GO_TEST_FLAGS) ./webhook/ ./agent/ ./recommender/ ./history/

.PHONY: fuzz
fuzz: ## Run every fuzz target for a short fixed time (FUZZTIME=10s)
	@hack/fuzz.sh $${FUZZTIME:-10s}

.PHONY: generate
generate: setup ## Regenerate deepcopy code and the CRD from api/ with controller-gen
	bin/controller-gen object paths=./api/... crd:crdVersions=v1 output:crd:artifacts:config=config/crd paths=./api/...
	cp config/crd/headroom.dev_memoryrecommendations.yaml charts/headroom/files/

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

.PHONY: verify
verify: lint ## lint + pure packages import no Kubernetes + go.mod tidy + generated files fresh
	@for p in $(PURE_PKGS); do \
		[ -d $$p ] || continue; \
		bad=$$(go list -deps ./$$p/... | grep -E '^(k8s\.io|sigs\.k8s\.io)/' || true); \
		if [ -n "$$bad" ]; then echo "package $$p must not import Kubernetes packages:"; echo "$$bad"; exit 1; fi; \
	done
	@go mod tidy -diff >/dev/null || { go mod tidy -diff | head -20; echo "go.mod/go.sum not tidy: run go mod tidy"; exit 1; }
	@hack/check-generated.sh
	@hack/check-chart-crd.sh
	@echo verify ok

.PHONY: ci
ci: verify test race fuzz ## What CI runs: verify, test, the race detector, short fuzzing

.PHONY: demo
demo: setup build ## Run the whole product on a local embedded cluster: etcd, kube-apiserver, Prometheus, recommender, webhook, report
	go run ./hack/demo -root . -out out/demo

.PHONY: bench
bench: setup build ## Run every benchmark docs/benchmarks.md quotes (about 15 minutes; BENCH="go webhook recommender")
	hack/bench.sh $(BENCH)

# Fledge — progressive delivery on Kubernetes and Istio.
#
#   make test      builds the local control plane (once) and runs every test
#   make demo      runs the demo on the local stack
#   make bench     rolls out many canaries at once and reports lateness, memory and API use
#   make chaos     the fault suite's long profile: rollouts while the manager is killed
#   make generate  regenerates CRDs and deep copies
#   make verify    gofmt, go vet, and a check that generated files are fresh
#
# Everything the tests need is built from the Go module proxy into bin/ (git-ignored) and
# reused; the versions below are the only place they are pinned.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

# --- Versions ------------------------------------------------------------------------------
# The control plane matches the minor of the client-go that controller-runtime brings (0.37).
KUBE_VERSION           ?= v1.37.2
ETCD_VERSION           ?= v3.6.16
KWOK_VERSION           ?= v0.8.0
CONTROLLER_GEN_VERSION ?= v0.23.0
# Prometheus 3.16.0 is module version v0.316.0.
PROMETHEUS_VERSION     ?= v0.316.0
PROMETHEUS_RELEASE     ?= 3.16.0
# Istio's control plane (istiod, that is pilot-discovery) and istioctl: Istio tags no Go module
# releases, so a pseudo-version of istio.io/istio (module test/tools/istio).
ISTIO_VERSION          ?= v0.0.0-20260827124520-eed52ebb66ad
# Istio's CRDs come from the istio.io/api version that go.mod already pins.
ISTIO_API_VERSION      := $(shell go list -m -f '{{.Version}}' istio.io/api)

# --- Layout --------------------------------------------------------------------------------
LOCALBIN   := $(CURDIR)/bin
KUBE_DIR   := $(LOCALBIN)/kube-$(KUBE_VERSION)
ETCD       := $(LOCALBIN)/etcd-$(ETCD_VERSION)
KWOK       := $(LOCALBIN)/kwok-$(KWOK_VERSION)
KWOK_STAGES:= $(LOCALBIN)/kwok-stages-$(KWOK_VERSION).yaml
ISTIO_CRDS := $(LOCALBIN)/istio-crds-$(ISTIO_API_VERSION).yaml
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
PROMETHEUS := $(LOCALBIN)/prometheus-$(PROMETHEUS_VERSION)
ISTIO_DIR  := $(LOCALBIN)/istio-$(ISTIO_VERSION)
# ASSETS holds plain-named links to the pinned binaries; envtest finds kube-apiserver and etcd
# there through KUBEBUILDER_ASSETS, and the test harness finds the rest.
ASSETS     := $(LOCALBIN)/assets

KUBE_BINARIES := kube-apiserver kube-controller-manager kube-scheduler kubectl
KUBE_MINOR    := $(word 2,$(subst ., ,$(KUBE_VERSION)))
KUBE_LDFLAGS  := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean

GO_TEST_FLAGS ?= -timeout 60m
export KUBEBUILDER_ASSETS := $(ASSETS)

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# --- Main commands -------------------------------------------------------------------------

# The binaries of the local stack build two at a time: one go build alone leaves the cores
# idle while it downloads and links.
ASSETS_JOBS ?= 2

.PHONY: test
test: ## Build the local control plane if needed, then run every test.
	$(MAKE) --no-print-directory -j$(ASSETS_JOBS) assets
	go test $(GO_TEST_FLAGS) ./...

# BENCH_FLAGS are passed to the bench, e.g. BENCH_FLAGS="-n 1000 -interval 30s -timeout 1h".
BENCH_FLAGS ?=

.PHONY: bench
bench: ## Roll out N canaries at once on the local stack; report step lateness, memory, API requests.
	$(MAKE) --no-print-directory -j$(ASSETS_JOBS) assets
	go build -o $(LOCALBIN)/fledge-manager ./cmd/manager
	go build -o $(LOCALBIN)/fledge-bench ./cmd/bench
	$(LOCALBIN)/fledge-bench -manager $(LOCALBIN)/fledge-manager $(BENCH_FLAGS)

# CHAOS_FLAGS are passed to the fault suite, e.g. CHAOS_FLAGS="-chaos.rollouts=2000 -chaos.seed=42".
CHAOS_FLAGS ?= -chaos.rollouts=1000 -chaos.apps=20

.PHONY: chaos
chaos: ## The fault suite's long profile: rollouts while the manager is killed and the control plane freezes; prints the counts.
	$(MAKE) --no-print-directory -j$(ASSETS_JOBS) assets
	go test -count=1 -v -timeout 150m ./test/chaos/ -args $(CHAOS_FLAGS)

.PHONY: test-unit
test-unit: ## Run the tests that need no control plane (quick): -short skips every suite that starts the local stack.
	go test -short ./...

# DEMO_FLAGS are passed to the demo, e.g. DEMO_FLAGS=--keep to explore the stack afterwards.
DEMO_FLAGS ?=

.PHONY: demo
demo: ## Run the demo on the local stack: a good version promoted, a bad one aborted.
	$(MAKE) --no-print-directory -j$(ASSETS_JOBS) assets
	go build -o $(LOCALBIN)/fledge-manager ./cmd/manager
	go build -o $(LOCALBIN)/fledge-demo ./cmd/demo
	$(LOCALBIN)/fledge-demo -manager $(LOCALBIN)/fledge-manager $(DEMO_FLAGS)

# --- Code generation and checks ------------------------------------------------------------

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate the CRDs and deep copies.
	$(CONTROLLER_GEN) object paths=./apis/...
	$(CONTROLLER_GEN) crd:allowDangerousTypes=true paths=./apis/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=manager paths=./controllers/... output:rbac:artifacts:config=config/rbac
	# The chart cannot read files outside its folder: it gets copies.
	rm -f config/helm/fledge/crds/*.yaml && cp config/crd/bases/*.yaml config/helm/fledge/crds/
	cp config/prometheus/rules.yaml config/helm/fledge/files/alerts.yaml
	cp config/prometheus/dashboard.json config/helm/fledge/files/dashboard.json

.PHONY: verify
verify: verify-generated verify-tools-mods ## gofmt, go vet and the freshness of generated files.
	@files=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$files" ]; then echo "gofmt needed:" $$files >&2; exit 1; fi
	go vet ./...

GENERATED := config/crd config/helm/fledge/crds config/helm/fledge/files config/rbac/role.yaml ':(glob)apis/**/zz_generated.*'

.PHONY: verify-generated
verify-generated: generate ## Fail when generated files differ from what is committed.
	@stale=$$(git diff --name-only -- $(GENERATED); git ls-files --others --exclude-standard -- $(GENERATED)); \
	if [ -n "$$stale" ]; then echo "$$stale"; \
		echo "generated files are stale: run 'make generate' and commit the result" >&2; exit 1; fi

.PHONY: verify-tools-mods
verify-tools-mods: ## Fail when the tools modules do not pin the versions of this Makefile.
	@grep -q "k8s.io/kubernetes $(KUBE_VERSION)" test/tools/kube/go.mod || { echo "test/tools/kube/go.mod does not require k8s.io/kubernetes $(KUBE_VERSION): run 'make tools-mods'" >&2; exit 1; }
	@grep -q "go.etcd.io/etcd/server/v3 $(ETCD_VERSION)" test/tools/etcd/go.mod || { echo "test/tools/etcd/go.mod does not require etcd $(ETCD_VERSION): run 'make tools-mods'" >&2; exit 1; }
	@grep -q "istio.io/istio $(ISTIO_VERSION)" test/tools/istio/go.mod || { echo "test/tools/istio/go.mod does not require istio.io/istio $(ISTIO_VERSION): run 'make tools-mods'" >&2; exit 1; }

.PHONY: tools-mods
tools-mods: ## Rewrite the tools modules for the versions above (after a version bump).
	test/tools/kube/pin.sh $(KUBE_VERSION)
	cd test/tools/etcd && go mod edit -require=go.etcd.io/etcd/server/v3@$(ETCD_VERSION) && go mod tidy
	cd test/tools/istio && go mod edit -require=istio.io/istio@$(ISTIO_VERSION) && go mod tidy

# --- The local control plane ---------------------------------------------------------------

.PHONY: assets
ASSETS_STAMP := $(ASSETS)/.stamp-$(KUBE_VERSION)-$(ETCD_VERSION)-$(KWOK_VERSION)-$(ISTIO_API_VERSION)-$(PROMETHEUS_VERSION)-$(ISTIO_VERSION)
assets: $(ASSETS_STAMP) ## Build or reuse the pinned control plane, istiod and Prometheus.

$(ASSETS_STAMP): $(KUBE_DIR)/.done $(ETCD) $(KWOK) $(KWOK_STAGES) $(ISTIO_CRDS) $(PROMETHEUS) $(ISTIO_DIR)/.done
	rm -rf $(ASSETS) && mkdir -p $(ASSETS)
	for b in $(KUBE_BINARIES); do ln -sr $(KUBE_DIR)/$$b $(ASSETS)/$$b; done
	ln -sr $(ETCD) $(ASSETS)/etcd
	ln -sr $(KWOK) $(ASSETS)/kwok
	ln -sr $(KWOK_STAGES) $(ASSETS)/kwok-stages.yaml
	ln -sr $(ISTIO_CRDS) $(ASSETS)/istio-crds.yaml
	ln -sr $(PROMETHEUS) $(ASSETS)/prometheus
	ln -sr $(ISTIO_DIR)/pilot-discovery $(ASSETS)/pilot-discovery
	ln -sr $(ISTIO_DIR)/istioctl $(ASSETS)/istioctl
	touch $@

# One go build for the four Kubernetes binaries, so they share one compilation.
$(KUBE_DIR)/.done: | verify-tools-mods
	@echo "Building Kubernetes $(KUBE_VERSION) (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl); the first build takes several minutes."
	mkdir -p $(KUBE_DIR).tmp
	cd test/tools/kube && CGO_ENABLED=0 go build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $(KUBE_DIR).tmp/ \
		$(addprefix k8s.io/kubernetes/cmd/,$(KUBE_BINARIES))
	rm -rf $(KUBE_DIR) && mv $(KUBE_DIR).tmp $(KUBE_DIR) && touch $@

# istiod and istioctl in one go build, so that they share one compilation.
$(ISTIO_DIR)/.done: | verify-tools-mods
	@echo "Building Istio $(ISTIO_VERSION) (pilot-discovery, istioctl); the first build takes several minutes."
	mkdir -p $(ISTIO_DIR).tmp
	cd test/tools/istio && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o $(ISTIO_DIR).tmp/ \
		istio.io/istio/pilot/cmd/pilot-discovery istio.io/istio/istioctl/cmd/istioctl
	rm -rf $(ISTIO_DIR) && mv $(ISTIO_DIR).tmp $(ISTIO_DIR) && touch $@

$(ETCD): | verify-tools-mods
	@echo "Building etcd $(ETCD_VERSION)."
	cd test/tools/etcd && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o $@.tmp go.etcd.io/etcd/server/v3
	mv $@.tmp $@

$(KWOK):
	@echo "Building kwok $(KWOK_VERSION)."
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN)/kwok-build CGO_ENABLED=0 go install -trimpath -ldflags '-s -w' sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION)
	mv $(LOCALBIN)/kwok-build/kwok $@ && rm -rf $(LOCALBIN)/kwok-build

# kwok does nothing without stages: take the node and pod stages its module ships.
$(KWOK_STAGES):
	mkdir -p $(LOCALBIN)
	dir=$$(go mod download -json sigs.k8s.io/kwok@$(KWOK_VERSION) | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'); \
	for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do \
		echo "---"; cat "$$dir/kustomize/stage/$$f"; done > $@.tmp
	mv $@.tmp $@

$(ISTIO_CRDS):
	mkdir -p $(LOCALBIN)
	dir=$$(go list -m -f '{{.Dir}}' istio.io/api); [ -n "$$dir" ] || dir=$$(go mod download -json istio.io/api@$(ISTIO_API_VERSION) | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'); \
	cp "$$dir/kubernetes/customresourcedefinitions.gen.yaml" $@.tmp
	chmod 644 $@.tmp && mv $@.tmp $@

# Prometheus from its Go module; without the builtinassets tag it has no web UI, which the
# tests do not need (they use its HTTP API).
$(PROMETHEUS):
	@echo "Building Prometheus $(PROMETHEUS_VERSION)."
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN)/prometheus-build CGO_ENABLED=0 go install -trimpath \
		-ldflags '-s -w -X github.com/prometheus/common/version.Version=$(PROMETHEUS_RELEASE)' \
		github.com/prometheus/prometheus/cmd/prometheus@$(PROMETHEUS_VERSION)
	mv $(LOCALBIN)/prometheus-build/prometheus $@ && rm -rf $(LOCALBIN)/prometheus-build

$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN)/controller-gen-build go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(LOCALBIN)/controller-gen-build/controller-gen $@ && rm -rf $(LOCALBIN)/controller-gen-build

.PHONY: clean-assets
clean-assets: ## Remove every built binary (the next test run rebuilds them).
	rm -rf $(LOCALBIN)

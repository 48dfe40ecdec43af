# Thin wrappers over scripts/dev and kubectl-krill (harness/cli); `make help` lists them.
# Every target is one command you could type yourself: the logic lives in those two tools.
#
#   ENV=dev   (default) the local cluster of `scripts/dev up`
#   ENV=prod  your current kubeconfig context (CONTEXT= picks another), values-prod.yaml

ENV       ?= dev
RELEASE   ?= krill
NAMESPACE ?= krill
CONTEXT   ?=
VALUES    ?=
REGISTRY  ?=
CMD       ?= sh
# The krill a target acts on (KRILL=alice, KRILL=krill-0).
KRILL     ?=
# The image tag the chart runs by default: its appVersion.
VERSION   := $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' charts/krill/Chart.yaml)

# kubectl-krill from this checkout (built on first use); the installed one works the same.
KRILL_CLI := cargo run --quiet --release --locked -p krill-cli --
ifeq ($(ENV),dev)
# The dev cluster's kubeconfig is kept beside its state, never merged into ~/.kube/config.
CLI := KUBECONFIG="$$(scripts/dev kubeconfig)" $(KRILL_CLI) --release $(RELEASE) -n $(NAMESPACE)
else ifeq ($(ENV),prod)
CLI := $(KRILL_CLI) --release $(RELEASE) -n $(NAMESPACE) $(if $(CONTEXT),--context $(CONTEXT))
else
$(error ENV must be dev or prod, not '$(ENV)')
endif

.DEFAULT_GOAL := help
.PHONY: help build install push deploy down status scale pause resume exec logs chat test

help: ## this list
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "  make %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo "  variables: ENV=dev|prod RELEASE=$(RELEASE) NAMESPACE=$(NAMESPACE) CONTEXT= VALUES= REGISTRY="

build: ## the krill image (krill:<appVersion>) and kubectl-krill (release build)
	scripts/image/build.sh
	cargo build --release --locked -p krill-cli

install: ## kubectl-krill on your PATH (cargo install), so `kubectl krill` works
	cargo install --locked --path harness/cli

push: ## tag krill:<appVersion> as REGISTRY/krill:<appVersion> and push it (REGISTRY=host/org)
	@test -n "$(REGISTRY)" || { echo "make push: set REGISTRY=host/org (the registry your cluster pulls from)" >&2; exit 2; }
	docker tag krill:$(VERSION) $(REGISTRY)/krill:$(VERSION)
	docker push $(REGISTRY)/krill:$(VERSION)

deploy: ## ENV=dev: scripts/dev up; ENV=prod: helm upgrade --install with values-prod.yaml (+ VALUES=file)
ifeq ($(ENV),dev)
	scripts/dev up
else
	helm upgrade --install $(RELEASE) charts/krill --namespace $(NAMESPACE) --create-namespace \
	  $(if $(CONTEXT),--kube-context $(CONTEXT)) -f charts/krill/values-prod.yaml \
	  $(if $(VALUES),-f $(VALUES)) $(if $(REGISTRY),--set image.repository=$(REGISTRY)/krill)
endif

down: ## ENV=dev only: scripts/dev down
	@test "$(ENV)" = dev || { echo "make down: only for ENV=dev; uninstall a production release with helm" >&2; exit 2; }
	scripts/dev down

status: ## every krill: state, ready, model, last snapshot, volume, memory
	$(CLI) status

scale: ## the fleet to N krills (N=3), through the release's values
	@test -n "$(N)" || { echo "make scale: set N=<number of fleet krills>" >&2; exit 2; }
	$(CLI) scale $(N)

pause: ## stop a named krill, keeping its volume (KRILL=name)
	@test -n "$(KRILL)" || { echo "make pause: set KRILL=<name>" >&2; exit 2; }
	$(CLI) pause $(KRILL)

resume: ## start a paused named krill again (KRILL=name)
	@test -n "$(KRILL)" || { echo "make resume: set KRILL=<name>" >&2; exit 2; }
	$(CLI) resume $(KRILL)

exec: ## a command in a krill (KRILL=name CMD="ls /krill/data"; default sh, reading stdin)
	@test -n "$(KRILL)" || { echo "make exec: set KRILL=<name> (make status lists them)" >&2; exit 2; }
	$(CLI) exec $(KRILL) -- $(CMD)

logs: ## a krill's gateway logs (KRILL=name)
	@test -n "$(KRILL)" || { echo "make logs: set KRILL=<name>" >&2; exit 2; }
	$(CLI) logs $(KRILL)

chat: ## one message to a krill (KRILL=name MSG="hello")
	@test -n "$(KRILL)" && test -n "$(MSG)" || { echo 'make chat: set KRILL=<name> MSG="..."' >&2; exit 2; }
	$(CLI) chat $(KRILL) "$(MSG)"

test: ## the whole test suite, exactly what CI runs (scripts/dev test)
	scripts/dev test

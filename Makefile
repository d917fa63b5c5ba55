# folio's tasks. `make test` is what CI runs: it needs Go, and installs
# redis-server, redis-tools, chromium and promtool with apt-get when absent (scripts/test-deps.sh).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: run build test test-deps bench lint fuzz

## run: folio in demo mode (no accounts needed) on :8080
run:
	$(GO) run .

## build: a static binary ./folio
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o folio .

## lint: formatting and go vet
lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## test-deps: what the tests need beyond Go (scripts/test-deps.sh: apt-get installs what is absent)
test-deps:
	bash scripts/test-deps.sh

## test: lint, then every test under the race detector, then each fuzz target for FUZZ_SHORT
test: lint test-deps
	$(GO) test -race -count=1 ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_SHORT)

## fuzz: each fuzz target (package:Target) for FUZZTIME (default 5m) on FUZZPARALLEL workers; a crash is written
## to the package's testdata/fuzz/<Target>/ and fails the run (it is then a regression test of plain go test)
FUZZTIME     ?= 5m
FUZZ_SHORT   ?= 5s
FUZZPARALLEL ?= 1
FUZZ_TARGETS ?= auth:FuzzSignature cache:FuzzMatchesETag config:FuzzLoad contentful:FuzzParseChange \
                contentful:FuzzRender contentful:FuzzRenderGraph handlers:FuzzNegotiate handlers:FuzzWebhookIntake
fuzz:
	@GO=$(GO) bash scripts/fuzz.sh $(FUZZTIME) $(FUZZPARALLEL) $(FUZZ_TARGETS)

## bench: Go benchmarks, then folio against nginx over loopback (installs nginx and wrk with apt when absent)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bash bench/load.sh

## soak: the randomized write-path oracle (e2e/oracle_test.go) for SOAK (default 10m), then its table; FOLIO_BINARY=path runs a prebuilt folio
SOAK ?= 10m
.PHONY: soak
soak: test-deps
	$(GO) test -count=1 -timeout 0 -run '^TestOracle$$' -v ./e2e -oracle.duration=$(SOAK)

## bench-scale: folio on real-sized content (bench/scale): 100, 1,000 and 10,000 posts of 10 KB, memory-only and with Redis, one table
## (SCALE_SIZES=100,1000 SCALE_MODES=memory SCALE_TIMEOUT=5m SCALE_CHANGES=30 SCALE_BODY=10240 SCALE_LINKS=none SCALE_MAX_RSS_MB=6144 FOLIO_BINARY=path)
.PHONY: bench-scale
bench-scale: test-deps
	$(GO) test -tags scale -count=1 -timeout 0 -run '^TestScale$$' -v ./bench/scale

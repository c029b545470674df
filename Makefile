GO ?= go
FUZZTIME ?= 30s

.PHONY: build test fuzz bench vet fixtures

build:
	$(GO) build -o bin/ktriage ./cmd/ktriage

test:
	$(GO) vet ./...
	$(GO) test ./...

# Every fuzz target, one after another, for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 500x $$pkg || exit 1; \
	  done; \
	done

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bash bench/run.sh

fixtures:
	bash testdata/make-fixtures.sh

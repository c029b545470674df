GO ?= go
FUZZTIME ?= 30s

PREFIX ?= /usr/local
SYSTEMD_UNIT_DIR ?= /etc/systemd/system

.PHONY: build test fuzz damage bench vet fixtures man install

# A static binary (no cgo: SQLite is modernc's pure Go): it runs on any
# distribution's rescue shell, and skips the dynamic loader at start-up.
build:
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -o bin/ktriage ./cmd/ktriage

# go test's own lines, then one line counting the skipped tests by reason
# (no corpus beside the repository, no debug vmlinux …).
# Manual pages, generated from the commands' help (cobra's doc generator).
man:
	CGO_ENABLED=0 $(GO) build -tags man -o bin/ktriage-man ./cmd/ktriage
	rm -rf man && bin/ktriage-man gen-man man

# The binary, its manual pages, and the systemd units that analyze each new
# crash under /var/crash (dist/systemd; enable them as the last line says).
install: build man
	install -Dm755 bin/ktriage $(DESTDIR)$(PREFIX)/bin/ktriage
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	sed 's|/usr/local/bin/ktriage|$(PREFIX)/bin/ktriage|' dist/systemd/ktriage-crash.service > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/ktriage-crash.service
	install -m644 dist/systemd/ktriage-crash.path $(DESTDIR)$(SYSTEMD_UNIT_DIR)/ktriage-crash.path
	@echo "installed; to report each new crash: systemctl daemon-reload && systemctl enable --now ktriage-crash.path && systemctl enable ktriage-crash.service"

test:
	$(GO) vet ./...
	@$(GO) build -o .testsummary ./internal/cmd/testsummary
	@$(GO) test -timeout 40m -json ./... | ./.testsummary; st=$$?; rm -f .testsummary; exit $$st
	$(GO) test -tags man -run TestGenMan ./cmd/ktriage

# The damage sweep at length (internal/damage: every truncation point, flip
# and hostile value on every fixture; `go test` runs a sample), then every
# fuzz target, one after another, for FUZZTIME each.
fuzz: damage
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 500x $$pkg || exit 1; \
	  done; \
	done

damage:
	KTRIAGE_DAMAGE=full $(GO) test -count=1 -timeout 3h -run '^TestDamageSweep$$' -v ./internal/damage

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bash bench/run.sh

fixtures:
	bash testdata/make-fixtures.sh

# Two-command set-up: `make verilog` then `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
JOBS ?= auto

.PHONY: verilog test area bench e2e lint clean env formal power power-paper

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

env: $(STAMP)

verilog: $(STAMP)
	$(BIN)/sparse-hw verilog

# worksteal: each worker starts on its own half of the suite, in file order (so the tests of one
# module, sharing its module-scoped builds, mostly stay on one worker instead of one worker
# waiting on the other's build lock), and an idle worker takes tests from the busy one.
DIST ?= worksteal

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist $(DIST)

formal: $(STAMP)
	$(BIN)/python -m pytest -m formal -n $(JOBS)

lint: $(STAMP)
	$(BIN)/sparse-hw lint

area: $(STAMP)
	$(BIN)/sparse-hw area
	nice -n 10 $(BIN)/python -m synth.suds_variants

bench: $(STAMP)
	$(BIN)/sparse-hw bench

e2e: $(STAMP)
	$(BIN)/sparse-hw e2e

power: $(STAMP)
	$(BIN)/sparse-hw power

# The paper-size 8x32 EUREKA trio at gate level (docs/power.md: hours of Verilator on 2 cores the
# first time; synthesis and models are cached, so a rerun rebuilds nothing). Every run is shorter
# than the SAIF window, so the window is the whole run and the RTL runs are skipped.
power-paper: $(STAMP)
	nice -n 5 $(BIN)/sparse-hw power --rows 8 --lanes 32 --no-sparten --no-rtl \
		--reuse-synth --out build/reports/power-paper

clean:
	rm -rf build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

# Design-space sweep on Dask (sim/sweep.py); SPEC=other.toml for another spec; results in
# build/sweep/, cache in build/sweep-cache/ (a rerun recomputes nothing).
.PHONY: sweep
SPEC ?= docs/sweeps/issue16.toml
sweep: $(STAMP)
	$(BIN)/sparse-hw sweep $(SPEC)

# The two commands of the README: `make demo` (the main job) and `make test`.
.PHONY: setup demo test test-fast clean

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/spikegen demo --out demo-build

test: setup
	.venv/bin/python -m pytest -q -ra

# component and reference tests only (no Verilator builds, no GHDL runs)
test-fast: setup
	.venv/bin/python -m pytest -q -m "not slow and not verilator and not ghdl"

clean:
	rm -rf demo-build build .pytest_cache

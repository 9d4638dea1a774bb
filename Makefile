# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check bench install lock clean

# The exact tested versions (constraints.txt); `make lock` moves them to the newest releases.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Isthmus needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m app demo

# Two workers (pytest-xdist), each taking whole test modules, so that a module's fixtures start once,
# in the order tests/conftest.py gives (the longest first); each worker starts its own demo systems
# and gateways on free ports. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Formatter, linter and type checker over the gateway's packages (scripts/check).
check: $(STAMP)
	PY=$(PY) scripts/check

bench: $(STAMP)
	$(PY) -m app bench

# Newest releases allowed by pyproject.toml into a scratch venv, frozen into constraints.txt,
# then the suite against them. Review the diff of constraints.txt before committing it.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e '.[test]'
	{ sed -n '1,3p' constraints.txt; .venv-lock/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .venv-lock
	$(MAKE) test

clean:
	rm -rf $(VENV) .demo-data .pytest_cache

# Two commands for a fresh machine:
#   make serve   create .venv on first use, install Tagsight, start the server
#   make test    install the test dependencies and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: serve test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch is pinned to the CPU build that pip finds locally; install it first so that
# resolving tagsight's "torch>=2.2" never pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,tflite]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

serve: install
	$(BIN)/tagsight serve $(ARGS)

test: install-test
	$(BIN)/python -m pytest $(ARGS)

bench: install-test
	$(BIN)/python bench/upload.py

clean:
	rm -rf $(VENV) .pytest_cache

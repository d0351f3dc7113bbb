# The commands of the book. `make help` lists them; README.md explains them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CACHE  := _build/.jupyter_cache
DOCTREES := _build/.doctrees
# Hash of what the executed and rendered pages depend on besides their own sources: helpers/
# (code and data), the Sphinx extensions in _ext/ and the pinned requirements. jupyter-cache
# only notices edits to code cells, and Sphinx re-reads only pages whose source changed; so a
# change here clears both the cache and the doctrees.
INPUTS_HASH_FILE := _build/.execution-inputs.sha256
# Hash of _static/ (the book's CSS and JavaScript). Sphinx copies static files only when it
# writes a page, and writes none when no page changed; so a change here rewrites every page
# (`--all`: from the doctrees and the execution cache, nothing is executed again).
STATIC_HASH_FILE := _build/.static.sha256

# PyTorch's route. PyPI's Linux wheel of torch is the CUDA build (a 0.5 GB wheel and 2.1 GB of
# NVIDIA libraries and Triton); TORCH=cpu takes the CPU-only wheel from PyTorch's own index instead
# (0.2 GB). Either way the version is requirements.txt's pin. README.md, "The two commands".
TORCH ?= pypi
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
TORCH_PIN = $(shell grep -E '^torch==' requirements.txt | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help install book pdf book-course course-only numerics notebooks grade test chromium bubblewrap lint unit slow slow-packaging slow-grading book-tests browser-tests lab serve clean distclean

help: ## List the targets
	@grep -E '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(INSTALLED): requirements.txt pyproject.toml
	@case "$(TORCH)" in pypi|cpu) ;; *) echo "TORCH=$(TORCH) is not a route: use TORCH=cpu" \
	  "(PyTorch's CPU-only index) or TORCH=pypi (the default)"; exit 2;; esac
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(filter cpu,$(TORCH)),$(BIN)/python -m pip install --quiet --index-url $(TORCH_CPU_INDEX) $(TORCH_PIN))
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

install: $(INSTALLED) ## Create .venv and install requirements.txt and helpers [TORCH=cpu: PyTorch's CPU-only wheel]

book: $(INSTALLED) chromium ## Build the website into _build/html (chapters executed through the cache) and its PDF
	@mkdir -p _build
	@new=$$(find helpers _ext requirements.txt -name '*.py' -o -name '*.json' -o -name requirements.txt \
	        | grep -v __pycache__ | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1); \
	if [ "$$new" != "$$(cat $(INPUTS_HASH_FILE) 2>/dev/null)" ]; then \
	  if [ -d $(CACHE) ]; then echo "helpers/, _ext/ or requirements.txt changed: re-executing every page"; fi; \
	  rm -rf $(CACHE) $(DOCTREES); echo "$$new" > $(INPUTS_HASH_FILE); \
	fi; \
	static=$$(find _static -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1); \
	all=$$([ "$$static" = "$$(cat $(STATIC_HASH_FILE) 2>/dev/null)" ] || echo --all); \
	$(BIN)/python scripts/build_book.py . -n -W --keep-going $$all && echo "$$static" > $(STATIC_HASH_FILE)
	$(BIN)/python scripts/build_pdf.py

pdf: ## Print the built website into _build/html/mvc4ml.pdf (`make book` does this too)
	$(BIN)/python scripts/build_pdf.py

book-course: book course-only ## Build the course website (exercises, no solutions) into _build/course

# The course build alone, for `make test`, whose `book` has already run (book is phony, so a
# sub-make naming it would build it again).
course-only: $(INSTALLED)
	sed 's#file: solutions/#file: exercises/#' _toc.yml > _build/_toc_course.yml
	$(BIN)/python scripts/build_book.py . -n -W --keep-going --toc _build/_toc_course.yml \
	  --path-output _build/course
	$(BIN)/python scripts/build_pdf.py _build/course/_build/html
	@echo "course website: _build/course/_build/html"

numerics: $(INSTALLED) ## Build the book again under a second arithmetic; page and grading tests on it
	$(BIN)/python scripts/second_arithmetic.py

notebooks: $(INSTALLED) ## Regenerate exercises/ from solutions/, and every page's .ipynb twin (after `make book`)
	$(BIN)/python scripts/make_exercises.py
	$(BIN)/python scripts/make_notebooks.py
	$(BIN)/python -m helpers.grading expected

grade: $(INSTALLED) bubblewrap ## Grade notebooks: make grade SUBMISSIONS="dir/*.ipynb" [OUT=grades.csv]
	@test -n "$(SUBMISSIONS)" || { echo 'usage: make grade SUBMISSIONS="submissions/*.ipynb" [OUT=grades.csv]'; exit 2; }
	$(BIN)/python -m helpers.grading grade --out $(or $(OUT),grades.csv) $(SUBMISSIONS)

lint: $(INSTALLED) ## Run ruff on helpers, tests, benchmarks and the Sphinx extension
	$(BIN)/ruff check helpers tests _ext benchmarks scripts

unit: $(INSTALLED) ## Run the unit and property tests of helpers (fast: under a minute)
	$(BIN)/python -m pytest -m "not book and not browser and not slow"

slow: $(INSTALLED) ## Grading round trips (worker processes, time limits); the wheel in a fresh venv
	$(BIN)/python -m pytest -m slow

# `make test` runs the slow tests in two halves side by side: the packaging ones (fresh
# virtual environments, pip, the twins run from the wheel) and the rest (grading round
# trips, which mostly wait out time limits). Neither touches what the other uses.
PACKAGING_TESTS := tests/test_wheel.py tests/test_colab.py tests/test_launch_paths.py
slow-packaging: $(INSTALLED)
	$(BIN)/python -m pytest -m slow $(PACKAGING_TESTS)

slow-grading: $(INSTALLED)
	$(BIN)/python -m pytest -m slow $(addprefix --ignore=,$(PACKAGING_TESTS))

book-tests: ## Check the built website in _build/html (after `make book`)
	$(BIN)/python -m pytest -m book

browser-tests: node_modules ## Check every built page in headless Chromium (needs Debian's chromium)
	$(BIN)/python -m pytest -m browser

node_modules: package-lock.json ## Install axe-core from npm (the browser tests' accessibility rules)
	$(call debian_package,npm,command -v npm,The browser tests' accessibility checks)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Stages run side by side where they can (their outputs kept apart): the unit tests beside
# the book's build (its kernels keep one core busy); then the course build; then the two
# halves of `slow` (time limits, pip, kernels starting) beside `numerics` (one thread),
# `browser-tests` (about one core) and the page checks (which read both websites). On 2
# cores the last stage is bound by the processor, not by waiting: see README.md for the
# times. The sub-makes inherit -k: `make -k test` still reports every failure.
test: chromium bubblewrap lint ## Everything: lint, all tests, the builds, pages in Chromium
	$(MAKE) -j2 --output-sync=target unit book
	$(MAKE) course-only
	$(MAKE) -j5 --output-sync=target slow-packaging slow-grading numerics browser-tests \
	  book-tests

# $(call debian_package,PACKAGE,TEST,WHAT FOR): when TEST fails, install Debian's PACKAGE
# (as root), or stop at once with the command to run.
define debian_package
	@if ! $(2) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's $(1) ($(3))"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; \
	  else \
	    echo "$(3) need Debian's $(1). Install it, then run make again:"; \
	    echo "    sudo apt-get install -y $(1)"; exit 1; \
	  fi; \
	fi
endef

chromium: ## Check for Debian's chromium (the browser tests drive it); install it when root
	$(call debian_package,chromium,test -x /usr/bin/chromium,The browser tests)

bubblewrap: ## Check for Debian's bubblewrap (the grading sandbox); install it when root
	$(call debian_package,bubblewrap,command -v bwrap,Grading and its tests)

lab: $(INSTALLED) ## Open the book in JupyterLab at the repository root (.md pages open as notebooks)
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@printf '%s\n' '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers":' \
	  '{"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}' \
	  > $(VENV)/share/jupyter/lab/settings/overrides.json
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

serve: ## Serve _build/html on http://localhost:8000
	$(BIN)/python -m http.server --directory _build/html 8000

clean: ## Remove the built website, the execution cache and test caches
	rm -rf _build build .pytest_cache .ruff_cache .hypothesis test-artifacts node_modules
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean ## Also remove the virtual environment
	rm -rf $(VENV)

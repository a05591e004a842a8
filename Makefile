# The two commands of README.md; both create the environment on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: demo test test-slow test-peers test-cuda bench peers clean

# Peer libraries (outside oracles). Installed without their dependency pins: spikingjelly and
# norse ask for torchvision/torchaudio, which would replace the CPU torch build; they import without them.
PEERS = spikingjelly norse snntorch dcls nirtorch
PEER_DEPS = loguru scipy packaging requests tensorboard

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snnlab demo

test: peers
	$(BIN)/python -m pytest -q

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

bench: peers
	$(BIN)/python benchmarks/bench_neurons.py --quick
	$(BIN)/python benchmarks/bench_delays.py --quick
	$(BIN)/python benchmarks/bench_sim.py --cuba-seconds 1.0

clean:
	rm -rf $(VENV) .venv-brian2 runs .pytest_cache

# nvo3-netconf — set-up, checks, tests, docs and benchmarks.
# Quick start on a fresh Debian bookworm machine:  make setup && make test

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYANG := $(VENV)/bin/pyang
APT_PACKAGES := libyang2-dev libyang2-tools python3-venv python3-dev gcc \
                openssh-client openssh-server socat netconfd yangcli \
                iproute2 nftables iperf3 iputils-ping
OWN_YANG := $(wildcard yang/*.yang)
STD_YANG_DIR := yang/standard
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-packages venv lint test test-unit test-functional test-netns demo docs bench fuzz soak clean

setup: system-packages venv

system-packages:
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES)

venv:
	[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'

lint:
	$(PYANG) --strict --lint -p $(STD_YANG_DIR):yang $(OWN_YANG) 2>&1 | (! grep . >&2)
	yanglint -p $(STD_YANG_DIR) -p yang $(OWN_YANG) 2>&1 | (! grep . >&2)
	$(VENV)/bin/ruff check nvo3_netconf
	$(VENV)/bin/mypy nvo3_netconf

test:
	$(PY) -m pytest -q tests --ignore=tests/soak

test-unit:
	$(PY) -m pytest -q tests/unit tests/yang

test-functional:
	$(PY) -m pytest -q tests/functional

test-netns:
	$(PY) -m pytest -q tests/netns

demo:
	$(PY) -m nvo3_netconf.dataplane.demo

docs:
	$(PY) -m nvo3_netconf.schema.trees yang docs/yang-trees.md

bench:
	$(PY) bench/run.py

# Longer fuzzing of the framing decoder and the edit-config path (tests/robustness):
# NVO3_FUZZ_EXAMPLES examples per property instead of the few hundred of `make test`.
FUZZ_EXAMPLES ?= 20000
fuzz:
	NVO3_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q \
	    tests/robustness/test_fuzz_framing.py tests/robustness/test_fuzz_edit_config.py

# Reliability under crashes and load (docs/reliability.md): SIGKILL the agent
# CRASH_ITERATIONS times during a stream of commits, then 50 sessions for SOAK_SECONDS.
CRASH_ITERATIONS ?= 200
SOAK_SECONDS ?= 60
soak:
	NVO3_CRASH_ITERATIONS=$(CRASH_ITERATIONS) $(PY) -m pytest -q -s tests/robustness/test_crash.py
	NVO3_SOAK=1 NVO3_SOAK_SECONDS=$(SOAK_SECONDS) NVO3_SOAK_REPORT=$(CURDIR)/soak-report.json \
	    $(PY) -m pytest -q -s tests/soak

clean:
	rm -rf build *.egg-info .pytest_cache

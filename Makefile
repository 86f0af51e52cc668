# recog: every user-facing job is a target here. `make demo` and `make test`
# each set up what they need first, so either works on a fresh clone.
SHELL := /bin/bash
PY := .venv/bin/python
RECOG := .venv/bin/recog
# Where the corpora are (docs/data.md: where to get each one and the layout recog reads);
# override on the command line: `make train-digits FSDD_DIR=/path/to/fsdd`.
FSDD_DIR ?= ../shared/data/fsdd
YESNO_DIR ?= ../shared/data/yesno
IAM_ONDB_DIR ?= ../shared/data/iam_ondb
NPROC ?= 1
RUNTIME_STAMP := .venv/.runtime-installed
STAMP := .venv/.installed

.PHONY: setup runtime-setup lock sysdeps test lint demo train-digits train-digits-all train-digits-ensemble train-digits-all-ensemble eval-digits-ensemble ship-digits-ensemble eval-digits prepare-digits ship-digits bench bench-deps plot clean-venv runtime-check check-fsdd check-yesno prepare-yesno

# Two layers, each from its lock file (exact versions tested here; pyproject.toml holds the ranges):
# the runtime alone (numpy, librosa, numba, onnxruntime: what `make demo` needs, no torch), then
# the train and dev extras on top (`make setup`, `make test`). Stamps make both idempotent.
runtime-setup: $(RUNTIME_STAMP)
setup: $(STAMP)

$(RUNTIME_STAMP): pyproject.toml requirements/runtime.txt
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PY) -m pip install -q -r requirements/runtime.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(STAMP): $(RUNTIME_STAMP) requirements/dev.txt
	$(PY) -m pip install -q -r requirements/dev.txt
	touch $@

# Regenerate the lock files from pyproject.toml's ranges in fresh virtual environments.
LOCK_VENV ?= /tmp/recog-lock-venv
lock:
	rm -rf $(LOCK_VENV) && python3.11 -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q .
	$(LOCK_VENV)/bin/pip freeze --exclude recog > requirements/runtime.txt
	$(LOCK_VENV)/bin/pip install -q '.[train,dev,serve]'
	$(LOCK_VENV)/bin/pip freeze --exclude recog > requirements/dev.txt
	rm -rf $(LOCK_VENV)

# Debian tools the digits recipe drives (speech synthesis for extra training voices), and the
# browser that tests/test_serve_browser.py drives through playwright (never a downloaded build).
sysdeps:
	@command -v espeak-ng >/dev/null && command -v flite >/dev/null || \
	  { apt-get update -qq && apt-get install -y -qq espeak-ng flite sox >/dev/null; } || \
	  echo "warning: could not install espeak-ng/flite (synthetic voices unavailable)"
	@test -x /usr/bin/chromium || \
	  { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
	  echo "warning: could not install chromium (the demo page's browser test will be skipped)"

# The peers (kenlm, pyctcdecode, ...) are installed too, so the cross-checks against them run
# (kenlm compiles with g++; where that fails, those few tests report themselves skipped).
test: setup sysdeps
	@$(MAKE) --no-print-directory bench-deps || echo "warning: peer decoders not installed: their cross-checks will be skipped"
	$(PY) -m pytest -q tests

# Style (ruff) and the import contracts of pyproject.toml (import-linter): docs/architecture.md.
lint: setup
	$(PY) -m ruff check recog tests tools pipelines
	.venv/bin/lint-imports

demo: runtime-setup
	$(RECOG) transcribe --model models/digits-en/model.int8.onnx models/digits-en/samples --text-only --quiet-progress

# The HTTP service on the shipped models (docs/deployment.md, "Service"): http://127.0.0.1:8000,
# with the demo page at http://127.0.0.1:8000/ (write or speak in the browser).
# The runtime and the `serve` extra only (no torch).
.PHONY: serve
serve: runtime-setup
	$(PY) -c "import fastapi, uvicorn, python_multipart, prometheus_client" 2>/dev/null || $(PY) -m pip install -q -e '.[serve]'
	$(RECOG) serve --model digits-en --model iam-ondb-en

# ---- digits recipe (FSDD connected digits, speaker-disjoint dev) ----
DIGITS_DATA := pipelines/digits/data

# Each prepare target first checks that its corpus is there (no set-up is run for a missing corpus).
check-fsdd:
	@test -d "$(FSDD_DIR)" || { echo "error: FSDD_DIR=$(FSDD_DIR) not found: get the Free Spoken Digit Dataset from https://github.com/Jakobovski/free-spoken-digit-dataset and run make train-digits FSDD_DIR=/path/to/it (layout: docs/data.md)" >&2; exit 2; }

prepare-digits: check-fsdd setup sysdeps
	$(RECOG) prepare fsdd-digits --data $(FSDD_DIR) --out $(DIGITS_DATA)/fsdd
	$(PY) -m pipelines.digits.synth --out $(DIGITS_DATA)/synth
	$(PY) -m pipelines.digits.nonspeech --out $(DIGITS_DATA)/nonspeech

# NPROC=N > 1 trains data-parallel on N processes of this machine (N GPUs, or gloo on CPU):
# `make train-digits NPROC=2`. Multi-node: see docs/training.md, "Scaling out".
TRAIN := $(if $(filter-out 1,$(NPROC)),.venv/bin/torchrun --nproc-per-node $(NPROC) -m recog,$(RECOG))

train-digits: prepare-digits
	$(TRAIN) train pipelines/digits/config.toml $(ARGS)

DIGITS_MODEL ?= exp/digits/averaged.pt
eval-digits: setup
	$(RECOG) evaluate --model $(DIGITS_MODEL) $(DIGITS_DATA)/fsdd/dev_strings.jsonl --json
	$(RECOG) evaluate --model $(DIGITS_MODEL) $(DIGITS_DATA)/fsdd/dev_isolated.jsonl --json

# The shipped model: the same recipe trained on all four speakers (the recipe run above, with
# `jackson` held out, gives the honest dev figures; they go into the ONNX metadata).
train-digits-all: prepare-digits
	$(TRAIN) train pipelines/digits/config.toml --set 'data.train=["data/fsdd/strings.jsonl", "data/fsdd/isolated.jsonl", "data/synth/synth.jsonl"]' --set out_dir=exp/digits_all4 $(ARGS)

# One network to models/digits-en/member0.onnx (parity-checked, fp32): the all-speaker run of
# seed 0, member 0 of the shipped ensemble (ship-digits-ensemble), kept alone for `recog inspect`.
# int8 is gated on the held-out run: its dev WER/CER must not grow by more than 0.5 points.
ship-digits: setup
	-$(RECOG) export $(DIGITS_MODEL) -o exp/digits/heldout.onnx --quantize int8
	$(RECOG) export exp/digits_all4/averaged.pt -o models/digits-en/member0.onnx --metrics-from $(DIGITS_MODEL) \
	  --metrics-about "greedy WER/CER (percent) on FSDD speaker jackson, held out of training in the recipe run pipelines/digits/config.toml seed 0, 1 thread (2026-12-06); this network was then trained on all four FSDD speakers, so these are not figures for a new voice (see the model card)"

# Ensembles of seeds (recog.train.ensemble): K runs of the recipe, seeds SEED..SEED+K-1, into
# OUT/seed<N>/; JOBS of them side by side (the cores split between them). Finished members are
# kept and interrupted ones resume, so the same command continues an ensemble. The held-out
# ensemble gives the honest figures; the all-speaker ensemble is the one to ship.
K ?= 3
SEED ?= 0
JOBS ?= 1
# Members train all the recipe's epochs: its time guard (train.max_minutes, set for one run with
# the whole machine) is lifted, as members side by side run at a fraction of the cores.
ENSEMBLE := --set train.ensemble=$(K) --set train.ensemble_jobs=$(JOBS) --set seed=$(SEED) --set train.max_minutes=0
DIGITS_ENS := exp/digits_ens
DIGITS_ALL_ENS := exp/digits_all4_ens
train-digits-ensemble: prepare-digits
	$(RECOG) train pipelines/digits/config.toml $(ENSEMBLE) --set out_dir=$(DIGITS_ENS) $(ARGS)

train-digits-all-ensemble: prepare-digits
	$(RECOG) train pipelines/digits/config.toml $(ENSEMBLE) --set out_dir=$(DIGITS_ALL_ENS) --set 'data.train=["data/fsdd/strings.jsonl", "data/fsdd/isolated.jsonl", "data/synth/synth.jsonl"]' $(ARGS)

# The held-out figures of the members alone and of every ensemble of K of them, combined frame by
# frame (mean posteriors: `recog export --combine frame`) and by choosing among the members'
# texts (by the members' summed CTC likelihood: what `recog export A B C` writes by default;
# and by MBR). Nothing is shipped: the figures go to $(DIGITS_ENS)/heldout.json
# (BENCHMARKS.md, "ensembles of seeds").
# ship-digits-ensemble: the held-out ensemble of seeds SEED.. and its int8 twin (their figures,
# measured at export on the held-out speaker, are the honest ones); the all-speaker ensemble of
# the same seeds and its int8 twin, which is shipped with those figures (models/digits-en/
# model.int8.onnx: 8 MB where the fp32 graph of three networks is 29 MB); member 0 alone in fp32
# comes from ship-digits.
ENS_SEEDS = $(shell seq $(SEED) $$(( $(SEED) + $(N) - 1 )))
ship-digits-ensemble: ship-digits
	$(RECOG) export $(foreach s,$(ENS_SEEDS),$(DIGITS_ENS)/seed$(s)/averaged.pt) -o $(DIGITS_ENS)/heldout.onnx \
	  --quantize int8
	$(RECOG) export $(foreach s,$(ENS_SEEDS),$(DIGITS_ALL_ENS)/seed$(s)/averaged.pt) -o $(DIGITS_ALL_ENS)/model.onnx \
	  --quantize int8 --metrics-from $(DIGITS_ENS)/heldout.onnx \
	  --metrics-about "greedy WER/CER (percent) on FSDD speaker jackson, held out of training in the ensemble of pipelines/digits/config.toml seeds $(strip $(ENS_SEEDS)) (combined by sequence, $(shell date +%F)); this file's members were then trained on all four FSDD speakers, so these are not figures for a new voice (see the model card)"
	cp $(DIGITS_ALL_ENS)/model.int8.onnx models/digits-en/model.int8.onnx
N ?= $(K)
eval-digits-ensemble: setup
	$(PY) tools/ensemble_heldout.py --members $(foreach s,$(ENS_SEEDS),$(DIGITS_ENS)/seed$(s)/averaged.pt) \
	  --manifest $(DIGITS_DATA)/fsdd/dev_strings.jsonl $(DIGITS_DATA)/fsdd/dev_isolated.jsonl --size $(K) \
	  --json $(DIGITS_ENS)/heldout.json

# ---- online handwriting recipe (IAM-OnDB lines, writer-independent val1/val2) ----
# IAM-OnDB is non-commercial research data: the prepared packs stay in the git-ignored data/ folder.
INK_DATA := pipelines/iam_ondb/data
INK_MODEL ?= exp/iam_ondb/best.pt
.PHONY: check-iam-ondb prepare-ink train-ink lm-ink tune-ink eval-ink ship-ink

check-iam-ondb:
	@test -d "$(IAM_ONDB_DIR)" || { echo "error: IAM_ONDB_DIR=$(IAM_ONDB_DIR) not found: register for IAM-OnDB (non-commercial research use) at https://fki.tic.heia-fr.ch/databases/iam-on-line-handwriting-database and run make train-ink IAM_ONDB_DIR=/path/to/it (layout: docs/data.md)" >&2; exit 2; }

prepare-ink: check-iam-ondb setup
	$(RECOG) prepare iam-ondb --data $(IAM_ONDB_DIR) --out $(INK_DATA)

train-ink: prepare-ink
	$(TRAIN) train pipelines/iam_ondb/config.toml $(ARGS)

# n-gram LMs: from the training transcripts alone (character 6-gram, shipped; word 3-gram), and a
# character 6-gram that also knows English spelling (transcripts + 50,000 lines of words drawn by
# frequency from the `wordfreq` package), with a soft lexicon of English words for --hotwords
# (pipelines/iam_ondb/english.py; built here, never shipped: wordfreq's data are CC BY-SA).
INK_CHAR_LM := $(INK_DATA)/char6.arpa
INK_WORD_LM := $(INK_DATA)/word3.arpa
INK_ENGLISH := $(INK_DATA)/english
INK_ENGLISH_LM := $(INK_DATA)/char6_english.arpa
INK_WORDS := $(INK_ENGLISH)/words.txt
lm-ink: prepare-ink
	$(PY) -c "import wordfreq" 2>/dev/null || .venv/bin/pip install -q -e '.[recipes]'
	$(RECOG) lm build $(INK_DATA)/train.jsonl -o $(INK_CHAR_LM) --order 6 --unit char
	$(RECOG) lm build $(INK_DATA)/train.jsonl -o $(INK_WORD_LM) --order 3 --unit word
	$(PY) -m pipelines.iam_ondb.english --train $(INK_DATA)/train.jsonl --out $(INK_ENGLISH)
	$(RECOG) lm build $(INK_ENGLISH)/lm_text.txt -o $(INK_ENGLISH_LM) --order 6 --unit char

# Grid search of the LM weights on val1 by WER (the recipe's dev set; val2 stays untouched).
INK_LEXICON := --hotwords $(INK_WORDS) --hotword-weight 0.5
tune-ink: lm-ink
	for lm in $(INK_CHAR_LM) $(INK_WORD_LM); do \
	  $(RECOG) tune-lm --model $(INK_MODEL) --lm $$lm $(INK_DATA)/val1.jsonl --alphas 0.25,0.5,0.75,1.0,1.5 --betas 0,1,2,3 || exit 1; \
	done
	$(RECOG) tune-lm --model $(INK_MODEL) --lm $(INK_ENGLISH_LM) $(INK_DATA)/val1.jsonl $(INK_LEXICON) --alphas 0.5,0.6,0.75 --betas -3,-2,-1,0

# CER/WER on both writer-disjoint validation sets: greedy, beam 16 + char LM, + word LM, and
# beam 64 + the English char LM with the soft lexicon (weights from `make tune-ink` on val1, beam 16).
# The shipped model: make eval-ink INK_MODEL=models/iam-ondb-en/model.int8.onnx
INK_CHAR_WEIGHTS ?= --alpha 0.75 --beta 0
INK_WORD_WEIGHTS ?= --alpha 0.75 --beta 0
INK_ENGLISH_WEIGHTS ?= --alpha 0.6 --beta -2
eval-ink: lm-ink
	for split in val1 val2; do \
	  $(RECOG) evaluate --model $(INK_MODEL) $(INK_DATA)/$$split.jsonl --json || exit 1; \
	  $(RECOG) evaluate --model $(INK_MODEL) $(INK_DATA)/$$split.jsonl --json --decoder beam --beam-width 16 --lm $(INK_CHAR_LM) $(INK_CHAR_WEIGHTS) || exit 1; \
	  $(RECOG) evaluate --model $(INK_MODEL) $(INK_DATA)/$$split.jsonl --json --decoder beam --beam-width 16 --lm $(INK_WORD_LM) $(INK_WORD_WEIGHTS) || exit 1; \
	  $(RECOG) evaluate --model $(INK_MODEL) $(INK_DATA)/$$split.jsonl --json --decoder beam --beam-width 64 --lm $(INK_ENGLISH_LM) $(INK_LEXICON) $(INK_ENGLISH_WEIGHTS) || exit 1; \
	done

# Export to models/iam-ondb-en: the fp32 ONNX (parity-checked, kept in exp/) and its int8 twin,
# shipped if val1/val2 WER and CER grow by at most 0.5 points; the char LM and the training curve.
INK_RUN ?= $(dir $(INK_MODEL))
ship-ink: lm-ink
	$(RECOG) export $(INK_MODEL) -o $(INK_RUN)model.onnx --quantize int8
	cp $(INK_RUN)model.int8.onnx models/iam-ondb-en/model.int8.onnx
	cp $(INK_CHAR_LM) models/iam-ondb-en/char6.arpa
	$(RECOG) plot $(INK_RUN) -o models/iam-ondb-en/training_curve.png

# ---- yes/no (OpenSLR SLR1): manifests only, a quick sanity check for CTC on real speech (no recipe ships) ----
YESNO_DATA := data/yesno
check-yesno:
	@test -d "$(YESNO_DIR)" || { echo "error: YESNO_DIR=$(YESNO_DIR) not found: get waves_yesno.tar.gz from https://www.openslr.org/1 and run make prepare-yesno YESNO_DIR=/path/to/it (layout: docs/data.md)" >&2; exit 2; }

prepare-yesno: check-yesno setup
	$(RECOG) prepare yesno --data $(YESNO_DIR) --out $(YESNO_DATA)

# ---- LibriSpeech recipe: you download the corpus from openslr.org/12 (pipelines/librispeech/README.md) ----
# make prepare-librispeech LIBRISPEECH_DIR=/path/to/LibriSpeech; make train-librispeech; make lm-librispeech; make eval-librispeech
# Without the corpus: `make prepare-librispeech-mini` generates a miniature in its layout (English sentences
# spoken by synthetic voices, pipelines/librispeech/miniature.py) and prepares it into LS_MINI; the other
# targets run on it with LS_DATA=$(LS_MINI) (tests/test_librispeech_recipe.py runs them all with a tiny model).
LIBRISPEECH_DIR ?=
LS_DATA ?= pipelines/librispeech/data
LS_RUN ?= exp/librispeech
LS_MODEL ?= $(LS_RUN)/best.pt
LS_LM ?= $(LS_RUN)/word3.arpa
LS_LM_WEIGHTS ?= --alpha 0.5 --beta 1.0
LS_TEST_SPLITS ?= test-clean test-other
LS_MINI ?= pipelines/librispeech/data/miniature
LS_MINI_UTTERANCES ?= 300
# LS_DATA as seen from the config's folder (relative paths: no absolute path lands in a checkpoint).
LS_REL = $(shell realpath -m --relative-to=pipelines/librispeech $(LS_DATA))
.PHONY: check-librispeech prepare-librispeech prepare-librispeech-mini train-librispeech lm-librispeech eval-librispeech

check-librispeech:
	@test -n "$(LIBRISPEECH_DIR)" || { echo "usage: make prepare-librispeech LIBRISPEECH_DIR=/path/to/LibriSpeech (without the corpus: make prepare-librispeech-mini)" >&2; exit 2; }
	@test -d "$(LIBRISPEECH_DIR)" || { echo "error: LIBRISPEECH_DIR=$(LIBRISPEECH_DIR) not found: download LibriSpeech from https://www.openslr.org/12 (layout: docs/data.md)" >&2; exit 2; }

prepare-librispeech: check-librispeech setup
	$(RECOG) prepare librispeech --data $(LIBRISPEECH_DIR) --out $(LS_DATA)

prepare-librispeech-mini: setup sysdeps
	$(PY) -m pipelines.librispeech.miniature --out $(LS_MINI)/LibriSpeech --utterances $(LS_MINI_UTTERANCES)
	$(RECOG) prepare librispeech --data $(LS_MINI)/LibriSpeech --out $(LS_MINI)

train-librispeech: setup
	@test -f $(LS_DATA)/train-clean-100.jsonl || { echo "error: no $(LS_DATA)/train-clean-100.jsonl: run make prepare-librispeech LIBRISPEECH_DIR=... first" >&2; exit 2; }
	$(TRAIN) train pipelines/librispeech/config.toml --set 'data.train=["$(LS_REL)/train-clean-100.jsonl"]' \
	  --set 'data.dev=["$(LS_REL)/dev-clean.jsonl"]' --set out_dir=$(LS_RUN) $(ARGS)

# Word 3-gram from the training transcripts, normalized as the recipe normalizes them (lower case).
lm-librispeech: setup
	@test -f $(LS_DATA)/train-clean-100.jsonl || { echo "error: no $(LS_DATA)/train-clean-100.jsonl: run make prepare-librispeech LIBRISPEECH_DIR=... first" >&2; exit 2; }
	@mkdir -p $(dir $(LS_LM))
	$(PY) -m pipelines.librispeech.lm_text pipelines/librispeech/config.toml $(LS_DATA)/train-clean-100.jsonl -o $(LS_LM:.arpa=.txt)
	$(RECOG) lm build $(LS_LM:.arpa=.txt) -o $(LS_LM) --order 3 --unit word

# Greedy on each test split found, then beam search with LS_LM when it exists (tune LS_LM_WEIGHTS on
# dev-clean with `recog tune-lm`, pipelines/librispeech/README.md).
eval-librispeech: setup
	@for split in $(LS_TEST_SPLITS); do \
	  if [ ! -f $(LS_DATA)/$$split.jsonl ]; then echo "note: no $(LS_DATA)/$$split.jsonl: $$split not evaluated" >&2; continue; fi; \
	  $(RECOG) evaluate --model $(LS_MODEL) $(LS_DATA)/$$split.jsonl --json || exit 1; \
	  if [ -f $(LS_LM) ]; then $(RECOG) evaluate --model $(LS_MODEL) $(LS_DATA)/$$split.jsonl --json \
	    --decoder beam --lm $(LS_LM) $(LS_LM_WEIGHTS) || exit 1; fi; \
	done

# ---- GPU check: 200 steps of the digits recipe on every visible GPU (bf16 autocast, cuDNN, DistributedDataParallel
# over NCCL, one process per GPU), the loss against a CPU float32 run of the same batches, input frames/s and the
# model FLOP/s as a fraction of the bf16 matmul peak measured in the same process (recog/bench/gpu_check.py).
# Reads the digits manifests that exist (make prepare-digits), else random features. Without a GPU it exits
# with status 3 and a line "no GPU: ...". GPU_CHECK_ARGS: e.g. --steps 400 --json gpu-check.json.
GPU_CHECK_ARGS ?=
.PHONY: gpu-check
gpu-check: setup
	@n=$$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); \
	if [ "$${n:-0}" -gt 0 ]; then \
	  set -x; $(PY) -m torch.distributed.run --standalone --nproc-per-node $$n -m recog bench gpu pipelines/digits/config.toml $(GPU_CHECK_ARGS); \
	else $(RECOG) bench gpu pipelines/digits/config.toml $(GPU_CHECK_ARGS); fi

# ---- benchmarks: the whole suite as markdown on stdout (progress on stderr); see BENCHMARKS.md.
# Run on an otherwise idle machine. Decoder peers (flashlight-text, pyctcdecode, fast-ctc-decode)
# come from `make bench-deps`; without them their rows are skipped.
BENCH_MODEL ?= models/digits-en/member0.onnx
BENCH_MANIFEST ?= $(DIGITS_DATA)/fsdd/dev_strings.jsonl
BENCH_THREADS ?= 2

bench: setup
	@echo "## Decoder (synthetic)"; echo
	@$(RECOG) bench decode --synthetic --utterances 200 --markdown
	@echo; echo "## Runtime"; echo
	@if [ -f $(BENCH_MODEL) ] && [ -f $(BENCH_MANIFEST) ]; then \
	  $(RECOG) bench runtime --model $(BENCH_MODEL) --manifest $(BENCH_MANIFEST) --threads $(BENCH_THREADS); \
	else echo "(skipped: needs $(BENCH_MODEL) and $(BENCH_MANIFEST); make prepare-digits ship-digits)"; fi
	@echo; echo "## Training throughput (digits recipe)"; echo
	@$(RECOG) bench train pipelines/digits/config.toml --sweep

# Training curves of a run: `make plot RUN=exp/digits` writes exp/digits/curves.png.
RUN ?= exp/digits
plot: setup
	$(RECOG) plot $(RUN) -o $(RUN)/curves.png

# pyctcdecode pins numpy<2 but runs with ours: installed without its dependencies.
BENCH_STAMP := .venv/.bench-deps
bench-deps: setup $(BENCH_STAMP)
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m pip install -q --no-deps pyctcdecode==0.5.0 pygtrie==2.6.2
	touch $@

# A deployment: a fresh venv with `pip install .[runtime]` gets no torch and still transcribes.
RUNTIME_VENV ?= /tmp/recog-runtime-venv
RUNTIME_MODEL ?= models/digits-en/model.int8.onnx
RUNTIME_AUDIO ?= models/digits-en/samples

runtime-check:
	rm -rf $(RUNTIME_VENV) && (python3.11 -m venv $(RUNTIME_VENV) || python3 -m venv $(RUNTIME_VENV))
	mkdir -p $(RUNTIME_VENV)/src && cp -r pyproject.toml README.md LICENSE recog $(RUNTIME_VENV)/src/  # keeps build/ out of the tree
	$(RUNTIME_VENV)/bin/python -m pip install -q -r requirements/runtime.txt '$(RUNTIME_VENV)/src'
	$(RUNTIME_VENV)/bin/python -c "import importlib.util as u; bad = [m for m in ('torch', 'torchaudio') if u.find_spec(m)]; assert not bad, bad"
	cd $(RUNTIME_VENV) && bin/python -c "import sys, recog.runtime, recog.cli; assert 'torch' not in sys.modules"
	cd $(RUNTIME_VENV) && bin/recog transcribe --model $(abspath $(RUNTIME_MODEL)) $(abspath $(RUNTIME_AUDIO)) --quiet-progress
	@echo "runtime-check: ok (no torch in $(RUNTIME_VENV))"

clean-venv:
	rm -rf .venv

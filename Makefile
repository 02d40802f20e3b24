# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
APP_STAMP := $(VENV)/.app-installed
DEV_STAMP := $(VENV)/.dev-installed
PORT ?= 8501
# The suite runs on WORKERS processes (pytest-xdist; a test file stays on one worker, so its module
# fixtures are made once), with OpenMP's idle threads sleeping instead of spinning: two workers whose
# torch threads spin on 2 cores took 621 s (96% busy), the same with OMP_WAIT_POLICY=PASSIVE 447 s,
# one worker (spinning) 547-608 s, 68% busy: much of the suite is one process waiting on another.
WORKERS ?= 2
PYTEST := OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest -n $(WORKERS) --dist loadfile

.PHONY: run test lint unit app browser browser-deps bench checkpoints base probes ladder clean
SHIPPED := "Barack Obama" "Donald J. Trump" "Joseph R. Biden Jr."

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(APP_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(APP_STAMP)
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

## make run: create .venv, install, start the app on http://localhost:$(PORT)
run: $(APP_STAMP)
	$(PY) -m ui.serve --server.port $(PORT)

## browser-deps: Debian's chromium for the browser tests (never `playwright install`)
browser-deps:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium not found and not root: browser tests will skip (install: sudo apt-get install chromium)"; fi

## make test: dev requirements, chromium, lint, the whole suite
test: $(DEV_STAMP) browser-deps
	$(PY) -m ruff check .
	$(PYTEST)

## make unit / app / browser: one part of the suite: core in-process (fast), the front ends (pages through
## AppTest, the CLI, the README's commands), the real browser
unit: $(DEV_STAMP)
	$(PYTEST) tests/unit

app: $(DEV_STAMP)
	$(PYTEST) tests/app

browser: $(DEV_STAMP) browser-deps
	$(PYTEST) tests/browser

lint: $(DEV_STAMP)
	$(PY) -m ruff check .

bench: $(DEV_STAMP)
	$(PY) -m bench

## make checkpoints: retrain the shipped models with the CLI: a tiny GPT per default speaker from scratch,
## the base pretrained on every other president's addresses, each speaker fine-tuned from it, and the
## who-said-it curve of both sets (about 15 + 30 + 3 x 3 minutes on 2 CPU cores)
BASE := sotu-base-gpt-tiny
# who said it, measured on the shipped models: passages per speaker and length (the val splits cap the long
# ones: 505 passages at 100 characters, 57 at 1,000); ~4 minutes on 2 cores
PASSAGES := 200
checkpoints: $(APP_STAMP)
	@for s in $(SHIPPED); do \
	  slug=$$(echo "$$s" | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9]+/-/g; s/^-|-$$//g'); \
	  rm -rf "checkpoints/$$slug-gpt-tiny"; \
	  $(PY) -m core train --speaker "$$s" --model gpt --preset tiny --name "$$slug-gpt-tiny" --out checkpoints || exit 1; \
	done
	rm -rf checkpoints/$(BASE)
	OMP_NUM_THREADS=1 $(PY) -m core pretrain --preset tiny --max-iters 6000 --eval-interval 500 --eval-iters 20 \
	  --name $(BASE) --out checkpoints
	@for s in $(SHIPPED); do \
	  slug=$$(echo "$$s" | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9]+/-/g; s/^-|-$$//g'); \
	  rm -rf "checkpoints/$$slug-gpt-ft-$(BASE)"; \
	  $(PY) -m core train --speaker "$$s" --init-from $(BASE) --name "$$slug-gpt-ft-$(BASE)" --out checkpoints || exit 1; \
	done
	$(PY) -m core attribution --json --passages $(PASSAGES) --out checkpoints > checkpoints/attribution.json
	rm -f checkpoints/*/latest.pt checkpoints/*/trainer.lock checkpoints/*/train.log
	$(MAKE) probes

## make base: the big chain. The lecture's GPT (6 layers, 6 heads, 384 wide; block 128, dropout 0.1; 10.8M
## parameters) pretrained on every other president's addresses: 1,800 steps of 32 x 128 (7.4M characters),
## stored in bf16, then continued three times from the stored weights with a fresh optimizer, to steps 3,600,
## 6,000 and 10,000 (41M characters in all, about 4 passes; some 90 minutes at 7.5k characters/s on an
## idle 2-core Zen 5, about twice that on a Zen 4: run it under nohup), stored in bf16. Then the recent
## stage: LoRA adapters (rank 32, 800 steps) that continue the base on the four presidents before the
## default speakers (Reagan, Bush, Clinton, Bush), whose speech is the closest to theirs and only 7% of
## the base's text; then each default speaker fine-tuned from the stage through LoRA adapters (the lora
## preset: rank 8, 400 steps); the who-said-it curve and the probes again
BIG := sotu-base-gpt-lecture
STAGE := sotu-recent-gpt-lecture
base: $(APP_STAMP)
	rm -rf checkpoints/$(BIG)
	$(PY) -m core pretrain --preset lecture --block-size 128 --batch-size 32 --dropout 0.1 --lr 1e-3 \
	  --min-lr 1e-4 --warmup-iters 200 --max-iters 1800 --eval-interval 250 --eval-iters 20 --name $(BIG) --out checkpoints
	$(PY) -m core compact --checkpoint $(BIG) --out checkpoints
	$(PY) -m core train --resume $(BIG) --max-iters 3600 --out checkpoints
	$(PY) -m core compact --checkpoint $(BIG) --out checkpoints
	$(PY) -m core train --resume $(BIG) --max-iters 6000 --out checkpoints
	$(PY) -m core compact --checkpoint $(BIG) --out checkpoints
	$(PY) -m core train --resume $(BIG) --max-iters 10000 --out checkpoints
	$(PY) -m core compact --checkpoint $(BIG) --out checkpoints
	rm -rf checkpoints/$(STAGE)
	$(PY) -m core train --speaker "Ronald Reagan" --speaker "George H.W. Bush" --speaker "William J. Clinton" \
	  --speaker "George W. Bush" --init-from $(BIG) --preset lora --lora-rank 32 --max-iters 800 --eval-interval 200 --eval-iters 20 --name $(STAGE) --out checkpoints
	@for s in $(SHIPPED); do \
	  slug=$$(echo "$$s" | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9]+/-/g; s/^-|-$$//g'); \
	  rm -rf "checkpoints/$$slug-gpt-lora-$(STAGE)"; \
	  $(PY) -m core train --speaker "$$s" --init-from $(STAGE) --preset lora --eval-interval 100 --eval-iters 20 --name "$$slug-gpt-lora-$(STAGE)" \
	    --out checkpoints || exit 1; \
	done
	$(PY) -m core attribution --json --passages $(PASSAGES) --out checkpoints > checkpoints/attribution.json
	rm -f checkpoints/*/latest.pt checkpoints/*/trainer.lock checkpoints/*/train.log
	$(MAKE) probes

## make probes: what the pages read off the shipped runs (heads, losses, samples), computed once and stored
## beside each run (probes.json), so that a fresh server opens them from it (about a minute)
probes: $(APP_STAMP)
	rm -f checkpoints/*/probes.json
	$(PY) -m core probes --out checkpoints

## make ladder: the lecture's ladder (rungs 1-7, core.lessons.ladder) for the default speakers at the small budget,
## one run after another on one thread (about 20 minutes on a shared 2-core CPU); one line per rung in
## checkpoints/ladder.jsonl. Rung 8 (the lecture's GPT) needs a GPU: core ladder --rungs 8
ladder: $(APP_STAMP)
	OMP_NUM_THREADS=1 nice -n 5 $(PY) -m core ladder --rungs 1-7 --replace --out checkpoints --json \
	  > checkpoints/ladder.jsonl.tmp && mv checkpoints/ladder.jsonl.tmp checkpoints/ladder.jsonl
	rm -f checkpoints/*-ladder-*/latest.pt checkpoints/*-ladder-*/trainer.lock checkpoints/*-ladder-*/train.log

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

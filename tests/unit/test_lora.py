"""core.model.lora and a LoRA run end to end: the adapted model starts as its base exactly; only the
low-rank updates train and are saved; the merged plain GPT predicts what the adapted one does (the
oracle); a LoRA run resumes, and loads beside its base; a compacted (bf16) base still loads."""
from __future__ import annotations

import pytest
import torch
from helpers import OBAMA, TRUMP, copy_shipped, one_thread  # noqa: F401 (autouse)

from core.model import lora
from core.model.gpt import GPT
from core.runs import checkpoints as ck
from core.runs import record as rec
from core.runs import start as runs

BASE = "sotu-base-gpt-tiny"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return copy_shipped(tmp_path_factory.mktemp("lora"), (BASE,))


def test_an_adapted_model_starts_as_its_base_and_trains_only_its_updates(root):
    base = ck.load_model(BASE, root=root).model
    model = GPT(base.config)
    model.load_state_dict(base.state_dict())
    idx = torch.randint(0, base.config.vocab_size, (2, 16))
    trainable = lora.adapt(model, rank=4, seed=0)
    with torch.no_grad():  # both in eval mode: one attention kernel (training on the CPU runs another)
        torch.testing.assert_close(model.eval()(idx)[0], base(idx)[0])  # B = 0: the update is zero
    model.train()
    assert {id(p) for p in trainable} == {id(p) for p in model.parameters() if p.requires_grad}
    n = sum(p.numel() for p in trainable)
    assert n == sum(a * b for a, b in [s for s in lora.shapes(base.config, 4).values()])
    assert n < 0.1 * sum(p.numel() for p in model.parameters())


def test_the_merged_model_predicts_what_the_adapted_one_does(root):
    base = ck.load_model(BASE, root=root).model
    model = GPT(base.config)
    model.load_state_dict(base.state_dict())
    lora.adapt(model, rank=4, seed=1)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.05)
    plain = GPT(base.config).eval()
    plain.load_state_dict(lora.merged(base.state_dict(), lora.adapters(model)))
    idx = torch.randint(0, base.config.vocab_size, (2, 16))
    torch.testing.assert_close(plain(idx)[0], model.eval()(idx)[0], rtol=1e-4, atol=1e-4)


def test_a_lora_run_saves_its_updates_loads_beside_its_base_and_resumes(root):
    request = runs.RunRequest.make([OBAMA], "gpt", "lora", init_from=BASE, max_iters=6, eval_interval=3,
                                   eval_iters=2, batch_size=4)
    created = runs.create(request, root)
    assert created.train.lora_rank == 8 and created.role == "fine-tune"
    assert created.name == f"barack-obama-gpt-lora-{BASE}"  # named as the shipped adapters are
    result = runs.execute(created.path, lock=created.lock, samples=False)
    assert result.status == "finished"
    saved = torch.load(created.path / rec.BEST, weights_only=True)["model"]
    assert {k: tuple(v.shape) for k, v in saved.items()} == lora.shapes(created.model, 8)
    loaded = ck.load_model(created.name, root=root)  # the base with the updates merged in: a plain GPT
    assert not any(p.requires_grad is False for p in loaded.model.parameters())
    assert rec.RunRecord.load(created.path).val_loss_full[OBAMA] > 0
    runs.resume(created.path, max_iters=9)
    assert runs.wait(created.path, timeout=180).step == 9
    with pytest.raises(runs.ConfigError, match="adapts a base"):
        runs.plan(runs.RunRequest.make([OBAMA], "gpt", "tiny", lora_rank=8), root)


def test_a_compacted_base_halves_and_still_loads(root, tmp_path):
    copy = copy_shipped(tmp_path, (BASE,))
    before = ck.load_model(BASE, root=copy).model
    size = (copy / BASE / rec.BEST).stat().st_size
    assert ck.compact(copy / BASE) < 0.6 * size
    after = ck.load_model(BASE, root=copy).model
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, before.config.vocab_size, (4, 32), generator=g)
    with torch.no_grad():
        p, q = before(idx)[0].softmax(-1), after(idx)[0].softmax(-1)
    # bf16 keeps ~3 significant digits: a logit of 12 moves by ~0.05, so judge what a learner sees,
    # the next-character probabilities, and where the model puts its top guess
    assert (p - q).abs().max() < 0.04  # 0.008-0.016 measured over 5 seeds
    assert (p.argmax(-1) == q.argmax(-1)).float().mean() > 0.95


def test_a_lora_run_adapts_a_lora_stage_and_loads_as_both_updates_merged(root):
    """base -> a stage (LoRA on some speakers) -> a speaker (LoRA on the stage): the speaker loads as
    the base with both updates merged (the oracle, in that order); a full fine-tune of the stage starts
    from the stage's merged weights; a changed stage is a changed speaker model (its digest)."""
    small = dict(max_iters=4, eval_interval=2, eval_iters=1, batch_size=4)
    stage = runs.create(runs.RunRequest.make([OBAMA, TRUMP], "gpt", "lora", init_from=BASE, lora_rank=4, **small),
                        root)
    assert runs.execute(stage.path, lock=stage.lock, samples=False).status == "finished"
    speaker = runs.create(runs.RunRequest.make([OBAMA], "gpt", "lora", init_from=stage.name, **small), root)
    assert runs.execute(speaker.path, lock=speaker.lock, samples=False).status == "finished"

    g = torch.Generator().manual_seed(0)  # updates of some size in both files (a few steps may keep B = 0)
    for r in (stage, speaker):
        payload = torch.load(r.path / rec.BEST, weights_only=True)
        noisy = {k: torch.randn(v.shape, generator=g) * 0.05 for k, v in payload["model"].items()}
        torch.save({**payload, "model": noisy}, r.path / rec.BEST)
    read = {r.name: ck.read_checkpoint(r.path / rec.BEST).state["model"] for r in (stage, speaker)}
    base = ck.read_checkpoint(root / BASE / rec.BEST).state["model"]
    oracle = lora.merged(lora.merged(base, read[stage.name]), read[speaker.name])
    loaded = ck.load_model(speaker.name, root=root).model.state_dict()
    assert loaded.keys() == oracle.keys()
    for k in oracle:
        torch.testing.assert_close(loaded[k], oracle[k])
    assert any(not torch.equal(loaded[k], base[k].float()) for k in base if k.endswith("qkv.weight"))

    full = ck.full_weights(ck.read_checkpoint(stage.path / rec.BEST), root)
    stage_model = ck.load_model(stage.name, root=root).model.state_dict()
    assert all(torch.equal(full[k], stage_model[k]) for k in full)
    tuned = runs.create(runs.RunRequest.make([OBAMA], "gpt", "finetune", init_from=stage.name, **small), root)
    tuned.lock.release()
    start, line = runs._start_state(tuned.path, rec.RunRecord.load(tuned.path), root)
    assert "fine-tuning" in line and all(torch.equal(start.weights[k], full[k]) for k in full)

    before = ck.weights_digest(speaker.path / rec.BEST, rec.RunRecord.load(speaker.path))
    changed = {k: v + 1 if k.endswith("lora_B") else v for k, v in read[stage.name].items()}
    payload = torch.load(stage.path / rec.BEST, weights_only=True)
    torch.save({**payload, "model": changed}, stage.path / rec.BEST)  # in place: the same file, a new version
    assert ck.weights_digest(speaker.path / rec.BEST, rec.RunRecord.load(speaker.path)) != before
    again = ck.load_model(speaker.name, root=root).model.state_dict()  # the stage read again, not its cached copy
    torch.testing.assert_close(again, lora.merged(lora.merged(base, changed), read[speaker.name]))

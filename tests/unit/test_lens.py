"""core.probe.lens (the last layer's readout is the model's logits; per-layer loss) and core.probe.embeddings
(PCA, Procrustes alignment, position similarities)."""
import pytest
import torch
from helpers import ROOT, one_thread, speaker_data, spread_weights, tiny_gpt  # noqa: F401

from core.errors import UserError
from core.model.models import build_model
from core.model.scoring import next_char_probs, sequence_loss
from core.probe import embeddings, lens
from core.runs import checkpoints as ck


@pytest.fixture(scope="module")
def small():
    tok = speaker_data().tokenizer
    model = spread_weights(build_model(tiny_gpt(tok.vocab_size, n_layer=3, n_head=2), seed=2), std=0.2)
    return model, tok, tok.decode(speaker_data().val[:1500].tolist())


def test_last_layer_readout_is_the_models_logits(small):
    model, tok, text = small
    x = tok.encode_tensor(text[:16]).unsqueeze(0)
    logits, per_layer = lens.layer_logits(model, x)
    assert per_layer.shape == (4, 1, 16, tok.vocab_size)  # embeddings + 3 layers
    torch.testing.assert_close(per_layer[-1], logits)
    assert not torch.allclose(per_layer[0], logits)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())  # hooks removed


def test_layer_losses_end_at_the_models_loss(small):
    model, tok, text = small
    losses = lens.layer_losses(model, tok, text)
    assert len(losses) == 4
    assert losses[-1] == pytest.approx(sequence_loss(model, tok.encode_tensor(text)), abs=1e-5)


def test_lens_view_top_chars_and_target(small):
    model, tok, text = small
    view = lens.lens(model, tok, "My fellow", position=3, k=3)
    assert view.layers == ["embeddings", "layer 1", "layer 2", "layer 3"]
    assert view.target == "e" and len(view.target_prob) == 4
    assert all(len(t) == 3 and t[0][1] >= t[1][1] for t in view.top)
    long = "My fellow Americans, tonight"  # longer than block_size: the lens reads its last 16 characters
    last = lens.lens(model, tok, long, k=3)
    want = next_char_probs(model, tok, long)
    assert last.top[-1][0][0] == tok.chars[int(want.argmax())] and last.target is None
    with pytest.raises(UserError):
        lens.lens(model, tok, "abc", position=3)
    with pytest.raises(UserError):
        lens.lens(model, tok, "")


def test_shipped_model_predicts_better_layer_by_layer():
    loaded = ck.load_model(ROOT / "checkpoints" / "barack-obama-gpt-tiny")
    val = speaker_data().speakers[0].speaker.split()[1][:5000]
    losses = lens.layer_losses(loaded.model, loaded.tokenizer, val)
    assert losses[-1] < losses[1] < losses[0]


def test_pca_and_procrustes_recover_a_rotation():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 8, generator=g) * torch.tensor([5.0, 3.0, 1, 1, 1, 1, 1, 1])
    xy, var = embeddings.pca_2d(x)
    assert var[0] > var[1] > 0.1
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    xy2, _ = embeddings.pca_2d(x @ q)  # the same cloud, rotated in 8-D: the same map up to sign
    r = embeddings.procrustes(xy2, xy)
    torch.testing.assert_close(xy2 @ r, xy, atol=1e-4, rtol=1e-4)


def test_token_maps_align_a_rotated_twin_onto_the_reference(small):
    model, tok, _ = small
    twin = build_model(model.config, seed=0)
    twin.load_state_dict(model.state_dict())
    C = model.config.n_embd
    q, _ = torch.linalg.qr(torch.randn(C, C, generator=torch.Generator().manual_seed(1)))
    with torch.no_grad():
        twin.token_embedding_table.weight.copy_(model.token_embedding_table.weight @ q)
    a, b = embeddings.token_maps({"one": (model, tok), "two": (twin, tok)})
    assert b.aligned_on == tok.vocab_size and a.aligned_on == 0
    torch.testing.assert_close(b.xy, a.xy, atol=1e-4, rtol=1e-4)
    assert set(a.classes) <= set(embeddings.CLASSES)
    assert [embeddings.char_class(c) for c in "aZ7,b \n"] == [
        "vowel", "capital", "digit", "punctuation", "consonant", "space", "space"]


def test_position_similarity(small):
    model, _, _ = small
    sim = embeddings.position_similarity(model)
    assert sim.shape == (16, 16)
    torch.testing.assert_close(sim.diagonal(), torch.ones(16))
    torch.testing.assert_close(sim, sim.T)

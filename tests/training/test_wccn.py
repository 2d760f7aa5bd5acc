import numpy as np
import pytest
import torch

from facesearch.encoders import load_net
from training.wccn import fit_wccn, fold_projection


def test_fit_shrinks_within_identity_spread():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, 8))
    labels = np.repeat(np.arange(50), 4)
    noise = rng.normal(size=(200, 8)) * np.array([3.0] + [0.1] * 7)  # people vary along dim 0
    emb = centres[labels] + noise
    p = fit_wccn(emb, labels, alpha=0.5)
    spread = lambda x: np.mean([x[labels == c].var(0).sum() for c in range(50)])  # noqa: E731
    between = lambda x: x.reshape(50, 4, 8).mean(1).var(0).sum()  # noqa: E731
    assert spread(emb @ p) / between(emb @ p) < 0.2 * spread(emb) / between(emb)
    q = fit_wccn(emb, labels, alpha=0.0)  # alpha 0: a rotation, cosines unchanged
    np.testing.assert_allclose(q.T @ q, np.eye(8), atol=1e-5)


def test_folded_network_returns_projected_embeddings():
    torch.manual_seed(0)
    net = load_net("mobilefacenet").eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        net.bn.running_mean.normal_(), net.bn.running_var.uniform_(0.5, 2), net.bn.weight.normal_()
        x = torch.randn(3, 3, 112, 112)
        before = net(x).numpy()
    proj = np.random.default_rng(1).normal(size=(128, 128)).astype(np.float32)
    fold_projection(net, proj)
    with torch.no_grad():
        np.testing.assert_allclose(net(x).numpy(), before @ proj, rtol=1e-3, atol=1e-3)


def test_fold_refuses_other_heads():
    with pytest.raises(ValueError, match="cannot fold"):
        fold_projection(torch.nn.Linear(4, 4), np.eye(4, dtype=np.float32))

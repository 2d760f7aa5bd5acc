import math

import torch

from training.losses import MarginHead


def test_arcface_logits_match_hand_computation():
    head = MarginHead(2, 2, s=10.0, m=0.5)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    emb = torch.tensor([[math.cos(0.3), math.sin(0.3)]])  # 0.3 rad from class 0
    logits = head(emb, torch.tensor([0]))
    expected = torch.tensor([[10 * math.cos(0.3 + 0.5), 10 * math.cos(math.pi / 2 - 0.3)]])
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)


def test_cosface_subtracts_margin():
    head = MarginHead(2, 2, s=1.0, m=0.2, kind="cosface")
    with torch.no_grad():
        head.weight.copy_(torch.eye(2))
    logits = head(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    torch.testing.assert_close(logits, torch.tensor([[0.8, 0.0]]), atol=1e-5, rtol=0)


def test_prototype_init_normalises():
    head = MarginHead(3, 2)
    head.init_from_prototypes(torch.tensor([[3.0, 0, 0], [0, 0, 2.0]]))
    torch.testing.assert_close(head.weight.norm(dim=1), torch.ones(2))

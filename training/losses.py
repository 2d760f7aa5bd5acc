"""Margin losses for metric learning: ArcFace / CosFace and their combined form.

logit_j = s * cos(theta_j) for j != y, and s * (cos(theta_y + m2) - m3) for the true
class y: ArcFace is (m, 0), CosFace (0, m), combined (m, 0.2).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from facesearch.config import MARGIN_KINDS


class MarginHead(nn.Module):
    def __init__(self, embedding_dim: int, num_classes: int, s: float = 32.0, m: float = 0.4,
                 kind: str = "arcface"):
        super().__init__()
        if kind not in MARGIN_KINDS:
            raise ValueError(f"unknown margin kind {kind!r}; use one of {', '.join(MARGIN_KINDS)}")
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
        nn.init.xavier_uniform_(self.weight)
        self.s, self.m, self.kind = s, m, kind

    @torch.no_grad()
    def init_from_prototypes(self, prototypes: torch.Tensor) -> None:
        """Start each class centre at the mean embedding of its photos (fast convergence)."""
        self.weight.copy_(F.normalize(prototypes, dim=1))

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(embeddings, dim=1), F.normalize(self.weight, dim=1))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = self.cosine(embeddings).clamp(-1 + 1e-7, 1 - 1e-7)
        target = cos.gather(1, labels[:, None])
        if self.kind == "cosface":
            margin_target = target - self.m
        else:
            theta = torch.acos(target)
            m2, m3 = (self.m, 0.0) if self.kind == "arcface" else (self.m, 0.2)
            margin_target = torch.cos(theta + m2) - m3
            # past pi - m the arc margin stops being monotonic: fall back to CosFace there
            margin_target = torch.where(theta + m2 < math.pi, margin_target, target - self.m * math.sin(self.m))
        logits = cos.scatter(1, labels[:, None], margin_target)
        return logits * self.s

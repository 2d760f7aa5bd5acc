"""Face attributes (gender) predicted from a face embedding by a small head.

No torch here: a head is a few numpy matrices (see :mod:`.head`); which encoder's
embeddings it reads is written on its :class:`AttributeCard`.
"""
from .head import AttributeCard, AttributeHead, load_head

__all__ = ["AttributeCard", "AttributeHead", "load_head"]

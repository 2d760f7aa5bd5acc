"""One-off research scripts (not shipped in the wheel): the fits whose results
``training.augment`` hard-codes. Run from a clone, e.g.
``python -m research.fit_distortions ../shared/data/facecom/train --pairs 200``."""

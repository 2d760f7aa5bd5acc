"""The photo library: cluster the faces of unsorted photos into people and name them,
corrections ("this face is not NAME"), erasing a person for real, and the audit log."""
from __future__ import annotations

from .clustering import cluster_faces
from .library import ClusterReport, FaceRow, Library

__all__ = ["ClusterReport", "FaceRow", "Library", "cluster_faces"]

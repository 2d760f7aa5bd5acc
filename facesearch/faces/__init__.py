"""Faces in photos: MTCNN detection, 5-point alignment, and the photo -> embedding pipeline."""

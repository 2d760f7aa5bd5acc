"""Training: ArcFace fine-tuning of facesearch encoders."""

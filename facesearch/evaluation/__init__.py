"""Measuring an encoder on labelled photos: metrics, protocols A/B, calibration and
evaluation through the gallery facade, plots and the Markdown report."""

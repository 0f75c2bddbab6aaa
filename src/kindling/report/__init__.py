"""Seeing the training: TensorBoard / CSV logs, plots, the HTML report, run comparison, the LR finder."""

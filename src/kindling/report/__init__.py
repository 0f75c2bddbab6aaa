"""Seeing the training: what it records in the run folder (TensorBoard / CSV logs, the evidence for the
plots), the pictures drawn from that folder with matplotlib, the HTML report and run comparison."""

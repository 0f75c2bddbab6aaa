"""predict: see DESIGN.md's module map."""

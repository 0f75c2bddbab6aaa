"""config: see DESIGN.md's module map."""

"""evaluate: see DESIGN.md's module map."""

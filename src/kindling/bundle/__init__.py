"""bundle: see DESIGN.md's module map."""

"""cli: see DESIGN.md's module map."""

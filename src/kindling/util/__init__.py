"""util: see DESIGN.md's module map."""

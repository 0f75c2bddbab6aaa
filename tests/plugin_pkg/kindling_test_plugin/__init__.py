"""A third-party kindling plug-in for the tests: nothing here is imported until kindling uses it."""

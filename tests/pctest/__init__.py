"""Helpers shared by pycompose's tests: test images, leak checks, CLI runners."""

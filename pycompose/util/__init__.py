"""Small leaf helpers every layer may use (paths, atomic files, locks). They import
nothing else of pycompose."""

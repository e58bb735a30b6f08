"""For learning the algorithm: `samspec explain` (one prompt through every stage) and
`samspec figures` (the docs' pictures)."""

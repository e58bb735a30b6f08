"""For learning the algorithm: `samspec explain` (explain: one prompt through every stage) and
`samspec figures` (figures: the docs' pictures; example holds the worked example and the broken
ports it draws, reference_figures the reference's stages, check_figures a check's results and the
HTML report's heat maps, drawing the shared helpers)."""

"""What a run leaves behind: the terminal table and JSON/JUnit document (document), the HTML
report (html) and the generated ports table of docs/ports.md (ports_table: the ports and profiles
it runs and the command; port_runs runs them, applicability counts the cases each profile runs,
ports_markdown writes the Markdown), and the spec-coverage table of docs/coverage.md (coverage: the
cases exercising each clause of cases/clauses.py, per built-in profile). Data path, step 6."""

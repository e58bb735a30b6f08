"""What a run leaves behind: the terminal table and JSON/JUnit document (document), the HTML
report (html) and the generated ports table of docs/ports.md (ports_table). Data path, step 6."""

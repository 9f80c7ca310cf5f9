"""The paper's reported numbers (reported.yaml) and the runs behind each table row."""

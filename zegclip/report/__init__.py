"""Results into tables, figures, claims and regression checks."""

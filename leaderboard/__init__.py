"""Results store, regression reports, paper-style tables and the static site."""

"""The business rules: jobs, job types and phases. HTTP handlers call these only."""

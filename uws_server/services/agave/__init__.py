"""The Agave jobs API (``/jobs/v2``) over the ordinary UWS jobs: its status table, its job
documents, its job requests, its search and its output listings (see docs/agave.md)."""

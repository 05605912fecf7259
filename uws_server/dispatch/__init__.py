"""The dispatcher and what only it uses.

- :mod:`.dispatcher` is the loop that purges, reaps, aborts, recovers, follows;
- :mod:`.submission` claims queued jobs and submits them, fenced by :mod:`.lease`
  (the single dispatcher lease and its epoch);
- :mod:`.staging` fetches inputs by URL in background threads, through the SSRF guard;
- :mod:`.spec` builds a backend's :class:`~uws_server.executors.base.JobSpec` from a stored
  job and turns output files into results;
- :mod:`.outcomes` maps backend status reports onto UWS phases.
"""

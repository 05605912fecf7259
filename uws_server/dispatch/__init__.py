"""The dispatcher and what only it uses.

- :mod:`.dispatcher` is the loop that claims queued jobs, submits, follows, reaps;
- :mod:`.spec` builds a backend's :class:`~uws_server.executors.base.JobSpec` from a stored
  job, fetches inputs by URL and turns output files into results;
- :mod:`.outcomes` maps backend status reports onto UWS phases.
"""

"""Everything about job types: Seed manifests, their configuration, the registry.

- :mod:`.seed` parses and validates Seed 1.0.0 manifests and builds argv lists;
- :mod:`.config` checks a job type's configuration (settings, secrets);
- :mod:`.service` resolves job types and registers manifests;
- :mod:`.registry` is the Scale v6 registry as a service (``RegistryService``: its writes,
  and its reads, which :mod:`.queries` runs);
- ``manifests/`` holds the example job types registered at start-up.
"""

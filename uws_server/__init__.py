"""uws-server: an IVOA UWS 1.1 job service with local, HTCondor and Slurm backends."""

__version__ = "0.1.0"

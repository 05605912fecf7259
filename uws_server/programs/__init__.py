"""Small programs that jobs run: the example job types and the OCPS runner."""

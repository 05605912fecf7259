"""Tiny programs behind the example job types (echo, sleep, wordcount)."""

"""Listings and reports: ``--info`` and ``-l``."""

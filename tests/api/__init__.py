"""Tests of the REST API under /api/v1/ (campaigns/api)."""

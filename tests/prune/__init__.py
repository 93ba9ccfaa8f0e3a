"""Tests of regkit: prune."""

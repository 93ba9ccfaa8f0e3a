"""Tests of regkit: read."""

"""Tests of regkit: ghcr."""

"""Tests of regkit: api."""

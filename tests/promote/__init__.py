"""Tests of regkit: promote."""

"""Tests of regkit: registry."""

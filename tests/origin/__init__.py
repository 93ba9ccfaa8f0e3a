"""Tests of regkit: origin."""

"""Tests of regkit: referrers."""

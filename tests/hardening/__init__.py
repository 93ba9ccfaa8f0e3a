"""Tests of regkit: hardening."""
